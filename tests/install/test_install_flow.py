"""`auditor install-alb` end to end against moto (server mode) and the Kubernetes API emulator."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from auditor.controller.versions import DEFAULT_VERSION, actions_in, policy_document
from auditor.install.kube import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from tests.install.conftest import CLUSTER, REGION, aws_state, kube_state

POLICY = "AWSLoadBalancerControllerIAMPolicy"
ROLE = f"{CLUSTER}-aws-load-balancer-controller"
SUBJECT = "system:serviceaccount:kube-system:aws-load-balancer-controller"


def _iam() -> Any:
    return boto3.client("iam", region_name=REGION)


def _policy_arn() -> str:
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    return f"arn:aws:iam::{account}:policy/{POLICY}"


def _default_document() -> Any:
    iam = _iam()
    policy = iam.get_policy(PolicyArn=_policy_arn())["Policy"]
    return iam.get_policy_version(PolicyArn=_policy_arn(), VersionId=policy["DefaultVersionId"])["PolicyVersion"][
        "Document"
    ]


def _image(cluster_api: Any) -> Any:
    deployment = cluster_api.get_object("Deployment", "aws-load-balancer-controller", "kube-system")
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_fresh_install_creates_everything_and_verifies(install, cluster, cluster_api):
    result = install("--yes")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "+ create" in out and "done: the controller is installed and verified" in out

    iam = _iam()
    issuer_host = cluster["issuer"].removeprefix("https://")
    provider_arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert any(arn.endswith(f"oidc-provider/{issuer_host}") for arn in provider_arns)
    assert _default_document() == policy_document(DEFAULT_VERSION)

    role = iam.get_role(RoleName=ROLE)["Role"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"]["Federated"].endswith(f"oidc-provider/{issuer_host}")
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer_host}:sub": SUBJECT,
        f"{issuer_host}:aud": "sts.amazonaws.com",
    }
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]
    assert attached == [_policy_arn()]

    sa = cluster_api.get_object("ServiceAccount", "aws-load-balancer-controller", "kube-system")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role["Arn"]
    for crd in ("targetgroupbindings.elbv2.k8s.aws", "ingressclassparams.elbv2.k8s.aws"):
        assert cluster_api.get_object("CustomResourceDefinition", crd) is not None
    deployment = cluster_api.get_object("Deployment", "aws-load-balancer-controller", "kube-system")
    assert deployment["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY_VALUE
    assert _image(cluster_api).endswith(f":{DEFAULT_VERSION}")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--cluster-name={CLUSTER}" in args
    assert f"--aws-vpc-id={cluster['vpc_id']}" in args  # discovered from the cluster's subnets
    assert f"--aws-region={REGION}" in args
    assert cluster_api.get_object("IngressClass", "alb")["spec"]["controller"] == "ingress.k8s.aws/alb"
    # every change is logged with its ARN or Kubernetes object
    assert f"changed: created {_policy_arn()}" in out
    assert f"changed: created {role['Arn']}" in out
    assert "changed: created Deployment kube-system/aws-load-balancer-controller" in out


def test_second_run_changes_nothing(install, cluster_api):
    assert install("--yes").exit_code == 0
    before_aws, before_kube = aws_state(), kube_state(cluster_api)
    cluster_api.clear_requests()

    again = install("--yes")

    assert again.exit_code == 0, again.output
    assert "0 to change" in again.output
    assert "changed:" not in again.output
    assert aws_state() == before_aws
    assert kube_state(cluster_api) == before_kube
    writes = [r for r in cluster_api.requests_log if r.method in ("POST", "PUT", "PATCH", "DELETE")]
    assert writes == []


def test_upgrade_from_older_version_adds_missing_policy_actions(install, cluster_api):
    old = install("--yes", "--controller-version", "v2.8.2")
    assert old.exit_code == 0, old.output
    assert "elasticloadbalancing:DescribeListenerAttributes" not in json.dumps(_default_document())
    assert _image(cluster_api).endswith(":v2.8.2")

    upgrade = install("--yes", "--controller-version", "v2.13.0")

    assert upgrade.exit_code == 0, upgrade.output
    assert "~ update    iam-policy" in upgrade.output
    for action in (
        "elasticloadbalancing:DescribeListenerAttributes",
        "elasticloadbalancing:ModifyListenerAttributes",
        "ec2:GetSecurityGroupsForVpc",
        "ec2:DescribeRouteTables",
    ):
        assert f'+    "{action}"' in upgrade.output or f"adds {action}" in upgrade.output
    assert actions_in(_default_document()) == actions_in(policy_document("v2.13.0"))
    versions = _iam().list_policy_versions(PolicyArn=_policy_arn())["Versions"]
    assert len(versions) == 2
    assert _image(cluster_api).endswith(":v2.13.0")
    assert "image public.ecr.aws/eks/aws-load-balancer-controller:v2.8.2 -> " in upgrade.output


def test_broken_trust_policy_gets_repaired(install, cluster):
    assert install("--yes").exit_code == 0
    iam = _iam()
    broken = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    host = cluster["issuer"].removeprefix("https://")
    broken["Statement"][0]["Condition"]["StringEquals"][f"{host}:sub"] = "system:serviceaccount:default:someone"
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(broken))

    repaired = install("--yes")

    assert repaired.exit_code == 0, repaired.output
    assert "~ update    iam-role" in repaired.output
    assert f"condition {host}:sub is not {SUBJECT}" in repaired.output
    assert "1 to change" in repaired.output
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"]["StringEquals"][f"{host}:sub"] == SUBJECT


def test_install_and_audit_judge_a_trust_policy_alike(install, cluster):
    """The installer repairs exactly the trusts the audit's irsa-role-invalid rejects, and leaves alone
    the ones it accepts: otherwise a re-run would say "unchanged" while its own verify step fails."""
    assert install("--yes").exit_code == 0
    iam = _iam()
    host = cluster["issuer"].removeprefix("https://")
    good = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]

    # accepted by the audit: the subject through a StringLike wildcard
    wildcard = json.loads(json.dumps(good))
    conditions = wildcard["Statement"][0]["Condition"]
    del conditions["StringEquals"][f"{host}:sub"]
    conditions["StringLike"] = {f"{host}:sub": "system:serviceaccount:kube-system:aws-load-balancer-*"}
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(wildcard))
    kept = install("--yes")
    assert kept.exit_code == 0, kept.output
    assert "~ update    iam-role" not in kept.output and "0 to change" in kept.output

    # rejected by the audit: the right StringEquals plus a condition on sub it cannot vouch for
    odd = json.loads(json.dumps(good))
    odd["Statement"][0]["Condition"]["StringNotEquals"] = {f"{host}:sub": "system:serviceaccount:default:x"}
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(odd))
    repaired = install("--yes")
    assert repaired.exit_code == 0, repaired.output  # verify (the audit's rules) passes after the repair
    assert "~ update    iam-role" in repaired.output
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    assert "StringNotEquals" not in trust["Statement"][0]["Condition"]


def test_dry_run_changes_nothing(install, cluster_api):
    before_aws, before_kube = aws_state(), kube_state(cluster_api)

    dry = install("--dry-run")

    assert dry.exit_code == 0, dry.output
    assert "+ create    iam-policy" in dry.output and "+ create    chart" in dry.output
    assert "changed:" not in dry.output
    assert aws_state() == before_aws
    assert kube_state(cluster_api) == before_kube

    # also on an installed cluster that needs an upgrade
    assert install("--yes", "--controller-version", "v2.8.2").exit_code == 0
    before_aws, before_kube = aws_state(), kube_state(cluster_api)
    dry = install("--dry-run", "--controller-version", "v2.13.0")
    assert dry.exit_code == 0, dry.output
    assert "~ update    iam-policy" in dry.output
    assert aws_state() == before_aws
    assert kube_state(cluster_api) == before_kube


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (bytes(range(256)), "not UTF-8 text: byte at offset 128"),  # was UnicodeDecodeError: an internal error
        (b"apiVersion: [\n", "cannot load kubeconfig: while parsing"),  # was yaml's ParserError
        (b"- 1\n- 2\n", "cannot load kubeconfig: list indices"),  # YAML, not a kubeconfig: was a TypeError
    ],
)
def test_a_kubeconfig_that_is_not_one_is_a_config_error(install, tmp_path, content, phrase):
    bad = tmp_path / "kubeconfig"
    bad.write_bytes(content)

    result = install("--dry-run", "--kubeconfig", str(bad))

    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and phrase in lines[0], result.output


def test_failure_midway_reports_steps_and_rerun_finishes(install, cluster_api):
    cluster_api.fail(
        "PATCH",
        "/apis/apps/v1/namespaces/kube-system/deployments/aws-load-balancer-controller",
        500,
        message="injected failure",
    )

    failed = install("--yes")

    assert failed.exit_code == 5, failed.output
    out = failed.output
    assert "step chart failed" in out and "injected failure" in out
    assert "finished: oidc-provider, iam-policy, iam-role, policy-attachment, service-account, crds" in out
    assert "not started: rollout" in out
    assert cluster_api.get_object("Deployment", "aws-load-balancer-controller", "kube-system") is None
    assert cluster_api.get_object("ClusterRole", "aws-load-balancer-controller-role") is not None

    cluster_api.clear_faults()
    resumed = install("--yes")

    assert resumed.exit_code == 0, resumed.output
    for step in ("oidc-provider", "iam-policy", "iam-role", "policy-attachment", "service-account", "crds"):
        assert f"= unchanged {step}" in resumed.output
    assert "changed: created Deployment kube-system/aws-load-balancer-controller" in resumed.output
    assert "0 to change" in install("--dry-run").output
