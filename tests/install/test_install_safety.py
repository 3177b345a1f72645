"""install-alb safety: Auto Mode, foreign controllers, downgrades, policy version pruning; Pod Identity."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3

from auditor.config import Settings
from auditor.controller.versions import policy_document
from auditor.install.model import Action, InstallOptions
from auditor.install.plan import plan
from auditor.install.runner import make_plan, open_session
from tests.install.conftest import CHART_DIR, CLUSTER, REGION, aws_state, kube_state

FOREIGN_CONTROLLER = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "aws-load-balancer-controller",
        "namespace": "kube-system",
        "labels": {"app.kubernetes.io/name": "aws-load-balancer-controller"},
    },
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}},
            "spec": {"containers": [{"name": "controller", "image": "example/aws-load-balancer-controller:v2.7.2"}]},
        },
    },
    "status": {"replicas": 1, "readyReplicas": 1, "observedGeneration": 1},
}


def test_refuses_a_controller_installed_by_other_means_and_changes_nothing(install, cluster_api):
    cluster_api.seed(FOREIGN_CONTROLLER)
    before_aws, before_kube = aws_state(), kube_state(cluster_api)

    refused = install("--yes")

    assert refused.exit_code == 6, refused.output
    assert "a controller is already installed by other means" in refused.output
    assert "pass --force" in refused.output
    assert aws_state() == before_aws
    assert kube_state(cluster_api) == before_kube


def test_force_takes_over_a_foreign_controller(install, cluster_api):
    cluster_api.seed(FOREIGN_CONTROLLER)

    forced = install("--yes", "--force")

    assert forced.exit_code == 0, forced.output
    assert "going ahead: --force" in forced.output
    deployment = cluster_api.get_object("Deployment", "aws-load-balancer-controller", "kube-system")
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "eks-exposure-auditor"


def test_never_downgrades_silently(install, cluster_api):
    assert install("--yes", "--controller-version", "v2.13.0").exit_code == 0

    refused = install("--yes", "--controller-version", "v2.8.2")

    assert refused.exit_code == 6, refused.output
    assert "runs v2.13.0; installing v2.8.2 is a downgrade" in refused.output
    image = cluster_api.get_object("Deployment", "aws-load-balancer-controller", "kube-system")["spec"]["template"]
    assert image["spec"]["containers"][0]["image"].endswith(":v2.13.0")

    allowed = install("--yes", "--controller-version", "v2.8.2", "--allow-downgrade")
    assert allowed.exit_code == 0, allowed.output
    # the shared policy is not narrowed: it already is the newer, larger v2.13.0 policy
    assert "already at the newer v2.13.0 policy" in allowed.output


def _session(cluster_api: Any, **overrides: Any) -> Any:
    options = InstallOptions(
        cluster_name=CLUSTER, region=REGION, chart_dir=CHART_DIR, kubeconfig=cluster_api.kubeconfig, **overrides
    )
    return open_session(options, Settings())


def test_auto_mode_cluster_is_refused_unless_forced(cluster, cluster_api):
    session = _session(cluster_api)
    state, _ = make_plan(session)
    auto = dataclasses.replace(state, cluster=dataclasses.replace(state.cluster, auto_mode=True))

    refused = plan(auto, session.options)
    forced = plan(auto, dataclasses.replace(session.options, force=True))

    assert any("EKS Auto Mode" in r for r in refused.refusals)
    assert not forced.refusals
    assert any("EKS Auto Mode" in n for n in forced.notes)


def test_a_controller_newer_than_the_clusters_kubernetes_can_run_is_refused(cluster, cluster_api):
    session = _session(cluster_api)
    state, _ = make_plan(session)
    old = dataclasses.replace(state, cluster=dataclasses.replace(state.cluster, kubernetes_version="1.21"))

    refused = plan(old, session.options)
    forced = plan(old, dataclasses.replace(session.options, force=True))
    legacy = plan(old, dataclasses.replace(session.options, controller_version="v2.4.7"))
    current = plan(state, session.options)

    needs = f"runs Kubernetes 1.21, and controller {session.options.controller_version} needs 1.22 or newer"
    assert any(needs in r for r in refused.refusals)
    assert any(needs in r for r in forced.refusals)  # --force does not make it run
    assert not any("needs 1.22" in r for r in [*legacy.refusals, *current.refusals])


def test_full_policy_prunes_the_oldest_non_default_version(install):
    assert install("--yes", "--controller-version", "v2.4.7").exit_code == 0
    iam = boto3.client("iam", region_name=REGION)
    arn = next(p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"])
    for release in ("v2.7.0", "v2.9.0", "v2.10.0", "v2.11.0"):  # v2..v5, the last one default
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(policy_document(release)), SetAsDefault=True)

    upgrade = install("--yes", "--controller-version", "v2.13.0")

    assert upgrade.exit_code == 0, upgrade.output
    assert "deletes the oldest non-default version v1" in upgrade.output
    versions = {v["VersionId"]: v["IsDefaultVersion"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]}
    assert "v1" not in versions and len(versions) == 5
    assert versions["v6"] is True


def test_pruning_a_policy_not_created_by_install_alb_needs_force(cluster, cluster_api):
    iam = boto3.client("iam", region_name=REGION)
    arn = iam.create_policy(
        PolicyName="AWSLoadBalancerControllerIAMPolicy", PolicyDocument=json.dumps(policy_document("v2.4.7"))
    )["Policy"]["Arn"]
    for release in ("v2.7.0", "v2.9.0", "v2.10.0", "v2.11.0"):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(policy_document(release)), SetAsDefault=True)

    _, the_plan = make_plan(_session(cluster_api, controller_version="v2.13.0"))

    assert any("not created by install-alb and already has 5 versions" in r for r in the_plan.refusals)


def test_pod_identity_install(install, cluster_api):
    result = install("--yes", "--pod-identity")

    assert result.exit_code == 0, result.output
    assert "oidc-provider" not in result.output
    eks = boto3.client("eks", region_name=REGION)
    associations = eks.list_pod_identity_associations(clusterName=CLUSTER)["associations"]
    assert [(a["namespace"], a["serviceAccount"]) for a in associations] == [
        ("kube-system", "aws-load-balancer-controller")
    ]
    iam: Any = boto3.client("iam", region_name=REGION)
    trust = iam.get_role(RoleName=f"{CLUSTER}-aws-load-balancer-controller")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["Statement"][0]["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    sa = cluster_api.get_object("ServiceAccount", "aws-load-balancer-controller", "kube-system")
    assert "eks.amazonaws.com/role-arn" not in (sa["metadata"].get("annotations") or {})

    again = install("--dry-run", "--pod-identity")
    assert "0 to change" in again.output
    assert all(s.action is not Action.CREATE for s in make_plan(_session(cluster_api, pod_identity=True))[1].steps)
