"""irsa-role-invalid: the controller role exists and trusts the cluster's OIDC provider for its service account."""

import copy

from auditor.findings import KubeRef, Status
from auditor.inventory.models import IamRole, PodIdentityAssociation
from auditor.rules.identity.irsa_role_invalid import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

ROLE = f"arn:aws:iam::{b.ACCOUNT}:role/lbc"
HOST = b.ISSUER.removeprefix("https://")
PROVIDER = f"arn:aws:iam::{b.ACCOUNT}:oidc-provider/{HOST}"
SA = KubeRef(kind="ServiceAccount", namespace="kube-system", name="aws-load-balancer-controller")


def inv(role=None, *, providers=None, **kw):
    return b.inventory(
        controllers=[b.controller()],
        service_accounts=[b.controller_sa(ROLE)],
        iam_roles=[role or b.role("lbc", actions=["elasticloadbalancing:*"])],
        oidc_providers=[b.oidc_provider()] if providers is None else providers,
        **kw,
    )


def checks(f):
    return {c["check"]: c for c in f.evidence["failed_checks"]}


def test_valid_irsa_role_passes():
    f = only(RULE, inv())
    assert f.status == Status.PASS and f.resource_arn == ROLE and f.kubernetes == SA
    assert f.evidence["expected_provider_arn"] == PROVIDER


def test_role_that_does_not_exist_fails():
    f = only(RULE, inv(b.role("lbc", actions=[], exists=False)))
    assert f.status == Status.FAIL and "role-exists" in checks(f)
    assert "auditor install-alb --cluster-name demo --region eu-west-1" in f.remediation


def test_wrong_service_account_in_sub_fails_with_expected_and_actual():
    trust = b.irsa_trust(sa="system:serviceaccount:kube-system:other")
    f = only(RULE, inv(b.role("lbc", actions=[], trust=trust)))
    assert f.status == Status.FAIL
    sub = checks(f)["trust-sub"]
    assert "system:serviceaccount:kube-system:aws-load-balancer-controller" in sub["expected"]
    assert "kube-system:other" in sub["actual"]
    assert '"StringEquals"' in f.remediation and f"{HOST}:sub" in f.remediation


def test_string_like_sub_wildcard_passes_and_non_matching_pattern_fails():
    trust = b.irsa_trust()
    cond = trust["Statement"][0]["Condition"]
    cond["StringLike"] = {f"{HOST}:sub": "system:serviceaccount:kube-system:aws-load-*"}
    del cond["StringEquals"][f"{HOST}:sub"]
    assert only(RULE, inv(b.role("lbc", actions=[], trust=trust))).status == Status.PASS

    bad = copy.deepcopy(trust)
    bad["Statement"][0]["Condition"]["StringLike"] = {f"{HOST}:sub": "system:serviceaccount:default:*"}
    assert only(RULE, inv(b.role("lbc", actions=[], trust=bad))).status == Status.FAIL


def test_missing_sub_condition_fails_because_any_service_account_could_assume():
    trust = b.irsa_trust()
    del trust["Statement"][0]["Condition"]["StringEquals"][f"{HOST}:sub"]
    f = only(RULE, inv(b.role("lbc", actions=[], trust=trust)))
    assert f.status == Status.FAIL and checks(f)["trust-sub"]["actual"] == f"no condition on {HOST}:sub"


def test_wrong_audience_and_trust_of_another_cluster_fail():
    trust = b.irsa_trust()
    trust["Statement"][0]["Condition"]["StringEquals"][f"{HOST}:aud"] = "api://default"
    assert "trust-aud" in checks(only(RULE, inv(b.role("lbc", actions=[], trust=trust))))

    other = b.irsa_trust(issuer="https://oidc.eks.eu-west-1.amazonaws.com/id/OTHERCLUSTER")
    f = only(RULE, inv(b.role("lbc", actions=[], trust=other)))
    assert {"trust-principal", "trust-sub"} <= set(checks(f))


def test_oidc_provider_not_registered_fails():
    f = only(RULE, inv(providers=[]))
    assert f.status == Status.FAIL
    assert checks(f)["oidc-provider"]["expected"] == f"{PROVIDER} registered in IAM"
    assert f"aws iam create-open-id-connect-provider --url {b.ISSUER}" in f.remediation


def test_a_provider_registered_only_in_another_account_does_not_count():
    """A multi-account audit: the issuer's provider exists in another account, not in the role's, so the role's
    trust names a provider that does not exist."""
    other = b.oidc_provider()
    other.account, other.arn = "999999999999", PROVIDER.replace(b.ACCOUNT, "999999999999")
    f = only(RULE, inv(providers=[other]))
    assert f.status == Status.FAIL and checks(f)["oidc-provider"]["expected"] == f"{PROVIDER} registered in IAM"


def test_provider_without_sts_client_id_fails():
    provider = b.oidc_provider()
    provider.client_ids = ["other"]
    assert "oidc-provider-audience" in checks(only(RULE, inv(providers=[provider])))


def test_unknown_when_iam_or_eks_or_trust_missing():
    f = only(RULE, inv(failed={"iam": "AccessDenied"}))
    assert f.status == Status.UNKNOWN and "IAM was not collected" in f.message
    f = only(RULE, inv(eks_clusters=[]))
    assert f.status == Status.UNKNOWN and "OIDC issuer" in f.message
    role = b.role("lbc", actions=[])
    role.trust_policy = None
    f = only(RULE, inv(role))
    assert f.status == Status.UNKNOWN and "trust policy" in f.message
    assert only(RULE, b.inventory(kube=False)).status == Status.UNKNOWN


def test_no_role_configured_is_left_to_irsa_not_configured():
    assert run(RULE, b.inventory(controllers=[b.controller()], service_accounts=[b.controller_sa()])) == []


def _pod_identity_inv(trust, *, role_arn=ROLE):
    eks = b.eks_cluster()
    eks.pod_identity_associations = [
        PodIdentityAssociation(
            association_id="a-1",
            namespace="kube-system",
            service_account="aws-load-balancer-controller",
            role_arn=role_arn,
        )
    ]
    role = IamRole(
        arn=ROLE, name="lbc", account=b.ACCOUNT, trust_policy=trust, attached_policies=[], inline_policies={}
    )
    return b.inventory(
        controllers=[b.controller()],
        service_accounts=[b.controller_sa()],
        eks_clusters=[eks],
        iam_roles=[role],
        oidc_providers=[],
    )


def test_pod_identity_trust():
    good = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ]
    }
    f = only(RULE, _pod_identity_inv(good))
    assert f.status == Status.PASS and f.evidence["mechanism"] == "pod-identity"

    no_tag = copy.deepcopy(good)
    no_tag["Statement"][0]["Action"] = "sts:AssumeRole"
    f = only(RULE, _pod_identity_inv(no_tag))
    assert f.status == Status.FAIL and "trust-action" in checks(f)
    assert "pods.eks.amazonaws.com" in f.remediation and "sts:TagSession" in f.remediation

    f = only(RULE, _pod_identity_inv(b.irsa_trust()))
    assert f.status == Status.FAIL and "trust-principal" in checks(f)

    f = only(RULE, _pod_identity_inv(good, role_arn=None))
    assert f.status == Status.UNKNOWN and "not described" in f.message
