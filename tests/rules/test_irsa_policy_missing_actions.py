"""irsa-policy-missing-actions: the role's policies against the running controller version's needs."""

from auditor.controller.versions import OPTIONAL_ACTIONS, SUPPORTED_VERSIONS, parse_version, required_actions
from auditor.findings import Status
from auditor.inventory.models import ManagedPolicy
from auditor.rules.identity.irsa_policy_missing_actions import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

ROLE = f"arn:aws:iam::{b.ACCOUNT}:role/lbc"


def inv(role, *, version="v2.13.0", image=None, **kw):
    ctrl = b.controller(version)
    if image is not None:
        ctrl.image, ctrl.version = image, None
    return b.inventory(
        controllers=[ctrl],
        service_accounts=[b.controller_sa(ROLE)],
        iam_roles=[role],
        oidc_providers=[b.oidc_provider()],
        **kw,
    )


def full(version):
    return sorted(required_actions(version) - OPTIONAL_ACTIONS)


def test_policy_of_the_running_version_passes():
    f = only(RULE, inv(b.role("lbc", actions=full("v2.13.0"))))
    assert f.status == Status.PASS and f.resource_arn == ROLE
    assert f.evidence["version"] == "v2.13.0" and f.evidence["policy_release"] == "v2.13.0"


def test_old_policy_after_upgrade_fails_listing_missing_actions():
    f = only(RULE, inv(b.role("lbc", actions=full("v2.7.0")), version="v2.13.0"))
    assert f.status == Status.FAIL
    missing = f.evidence["missing_actions"]
    for action in (
        "elasticloadbalancing:DescribeListenerAttributes",
        "ec2:GetSecurityGroupsForVpc",
        "ec2:DescribeRouteTables",
        "elasticloadbalancing:SetRulePriorities",
    ):
        assert action in missing
    assert "elasticloadbalancing:DescribeTrustStores" not in missing
    assert "auditor install-alb --cluster-name demo --region eu-west-1 --controller-version v2.13.0" in f.remediation
    assert "iam/controller/v2.13.0.json" in f.remediation
    assert f"aws iam create-policy-version --policy-arn arn:aws:iam::{b.ACCOUNT}:policy/lbc" in f.remediation


def test_a_controller_newer_than_the_known_policies_passes_nothing_but_still_fails_what_is_missing():
    """v99.0: its policy is not known here. Granting every action of the newest known policy is no proof that the
    role allows what it needs (UNKNOWN, not PASS); lacking some of them still fails."""
    newest = SUPPORTED_VERSIONS[-1]
    f = only(RULE, inv(b.role("lbc", actions=full(newest)), version="v99.0.0"))
    assert f.status == Status.UNKNOWN and "newer than the policies this auditor knows" in f.message
    assert f.evidence["newer_than_known"] is True
    f = only(RULE, inv(b.role("lbc", actions=full("v2.7.0")), version="v99.0.0"))
    assert (
        f.status == Status.FAIL and "elasticloadbalancing:DescribeListenerAttributes" in f.evidence["missing_actions"]
    )
    patch = "v{}.{}.{}".format(*(p + (9 if i == 2 else 0) for i, p in enumerate(parse_version(newest) or (0, 0, 0))))
    assert only(RULE, inv(b.role("lbc", actions=full(newest)), version=patch)).status == Status.PASS


def test_wildcards_are_honoured_and_deny_subtracts():
    broad = [
        "elasticloadbalancing:*",
        "ec2:*",
        "acm:*",
        "iam:*",
        "cognito-idp:*",
        "waf-regional:*",
        "wafv2:*",
        "shield:*",
    ]
    assert only(RULE, inv(b.role("lbc", actions=broad))).status == Status.PASS

    role = b.role("lbc", actions=broad)
    role.inline_policies = {
        "no-delete": {"Statement": [{"Effect": "Deny", "Action": "elasticloadbalancing:Delete*", "Resource": "*"}]}
    }
    f = only(RULE, inv(role))
    assert f.status == Status.FAIL
    assert "elasticloadbalancing:DeleteLoadBalancer" in f.evidence["missing_actions"]
    assert f.evidence["denied_by"]["elasticloadbalancing:DeleteLoadBalancer"] == "inline:no-delete"


def test_describe_wildcard_and_case_insensitive_actions():
    prefixes = ("elasticloadbalancing:Describe", "ec2:Describe")
    actions = [a for a in full("v2.13.0") if not a.startswith(prefixes)]
    assert only(RULE, inv(b.role("lbc", actions=actions))).status == Status.FAIL
    actions += ["ELASTICLOADBALANCING:describe*", "ec2:Describe*"]
    assert only(RULE, inv(b.role("lbc", actions=actions))).status == Status.PASS


def test_not_action_is_not_counted_as_a_grant():
    role = b.role("lbc", actions=[])
    role.attached_policies[0].document = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    f = only(RULE, inv(role))
    assert f.status == Status.FAIL and f.evidence["ignored_not_action_statements"] == 1


def test_version_from_image_tag_and_unparsable_version_is_unknown():
    role = b.role("lbc", actions=full("v2.13.0"))
    f = only(
        RULE,
        inv(role, image="602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon/aws-load-balancer-controller:v2.13.0"),
    )
    assert f.status == Status.PASS and f.evidence["version"] == "v2.13.0"
    f = only(RULE, inv(role, image="registry:5000/aws-load-balancer-controller@sha256:abcd"))
    assert f.status == Status.UNKNOWN and "version cannot be read" in f.message
    f = only(RULE, inv(role, version="v1.1.0"))
    assert f.status == Status.UNKNOWN and "older than the oldest supported" in f.message


def test_unreadable_policy_or_iam_missing_is_unknown():
    role = b.role("lbc", actions=full("v2.13.0"))
    role.attached_policies.append(ManagedPolicy(arn="arn:aws:iam::aws:policy/X", name="X", document=None))
    f = only(RULE, inv(role))
    assert f.status == Status.UNKNOWN and "policy arn:aws:iam::aws:policy/X" in f.message
    f = only(RULE, inv(b.role("lbc", actions=full("v2.13.0")), failed={"iam": "AccessDenied"}))
    assert f.status == Status.UNKNOWN


def test_role_that_does_not_exist_fails_and_no_role_no_finding():
    f = only(RULE, inv(b.role("lbc", actions=[], exists=False)))
    assert f.status == Status.FAIL and len(f.evidence["missing_actions"]) == len(full("v2.13.0"))
    assert run(RULE, b.inventory(controllers=[b.controller()], service_accounts=[b.controller_sa()])) == []
    assert only(RULE, b.inventory(kube=False)).status == Status.UNKNOWN
