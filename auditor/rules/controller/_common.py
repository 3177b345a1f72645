"""Cluster-level pieces shared by controller, identity, cost and ownership rules."""

from __future__ import annotations

from typing import Any

from auditor.controller.versions import parse_version
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, Status
from auditor.inventory.models import ControllerDeployment
from auditor.rules.base import RuleMeta


def cluster_label(graph: ExposureGraph) -> str:
    return graph.cluster_name or graph.inventory.target.name


def cluster_region(graph: ExposureGraph) -> str | None:
    if graph.eks_cluster is not None:
        return graph.eks_cluster.region
    regions = graph.inventory.target.regions
    return regions[0] if regions else None


def cluster_fields(graph: ExposureGraph) -> dict[str, Any]:
    """Finding fields naming the cluster itself (the EKS cluster ARN when it was described)."""
    eks = graph.eks_cluster
    accounts = graph.inventory.target.accounts
    return {
        "resource_arn": eks.arn if eks else None,
        "resource_name": cluster_label(graph),
        "account": eks.account if eks else (accounts[0] if accounts else None),
        "region": cluster_region(graph),
    }


def kubernetes_unknown(meta: RuleMeta, graph: ExposureGraph, needs: str) -> Finding:
    """The one UNKNOWN a Kubernetes-based rule gives when the cluster was not (fully) collected."""
    state = "was not audited" if graph.inventory.kubernetes is None else "was not fully collected"
    return meta.finding(
        Status.UNKNOWN,
        f"Kubernetes of cluster {cluster_label(graph)} {state}, so {needs} cannot be checked.",
        discriminator="kubernetes-not-collected",
        evidence={"kubernetes_collected": False},
        **cluster_fields(graph),
    )


def running_controllers(graph: ExposureGraph) -> list[ControllerDeployment]:
    """Controller Deployments with at least one ready replica."""
    return [c for c in graph.controllers if c.ready_replicas > 0]


def install_command(graph: ExposureGraph, version: str | None = None) -> str:
    """The ``auditor install-alb`` command for this cluster (it plans first; safe to re-run)."""
    cluster, region = graph.cluster_name or "<cluster>", cluster_region(graph) or "<region>"
    cmd = f"auditor install-alb --cluster-name {cluster} --region {region}"
    if version:
        cmd += f" --controller-version {version}"
    return cmd


# Gateway API support of the controller (facts §10; its release notes,
# https://github.com/kubernetes-sigs/aws-load-balancer-controller/releases): NLB Gateways (TCP/UDP/TLS routes)
# from v2.13.3, ALB Gateways (HTTP/GRPC routes) from v2.14.0, both behind feature gates that are off by default
# until v3.2.0, from which the controller enables them itself (the gates then switch them off).
GATEWAY_MINIMUM: dict[str, tuple[int, int, int]] = {"nlb": (2, 13, 3), "alb": (2, 14, 0)}
GATEWAY_ON_BY_DEFAULT = (3, 2, 0)
GATEWAY_FEATURE_GATE: dict[str, str] = {"alb": "ALBGatewayAPI", "nlb": "NLBGatewayAPI"}


def feature_gates(ctrl: ControllerDeployment) -> dict[str, bool]:
    """``--feature-gates=A=true,B=false`` of the controller's arguments (the last occurrence wins)."""
    gates: dict[str, bool] = {}
    args = ctrl.args
    for i, arg in enumerate(args):
        value: str | None = None
        if arg.startswith("--feature-gates="):
            value = arg.split("=", 1)[1]
        elif arg == "--feature-gates" and i + 1 < len(args):
            value = args[i + 1]
        for item in (value or "").split(","):
            name, sep, state = item.partition("=")
            if sep and name.strip():
                gates[name.strip()] = state.strip().lower() == "true"
    return gates


def gateway_support_problem(ctrl: ControllerDeployment, implementation: str) -> str | None:
    """Why this controller does not serve Gateways of ``implementation`` (alb | nlb); None when it does, or when
    its version is unknown (an image without a version tag: nothing to conclude)."""
    version = parse_version(ctrl.version or "")
    if version is None:
        return None
    gate = GATEWAY_FEATURE_GATE[implementation]
    minimum = GATEWAY_MINIMUM[implementation]
    label = f"{ctrl.namespace}/{ctrl.name} {ctrl.version}"
    if version < minimum:
        shown = "v" + ".".join(map(str, minimum))
        return (
            f"controller {label} is older than {shown}, the first release that serves {implementation.upper()} Gateways"
        )
    enabled = feature_gates(ctrl).get(gate)
    if version < GATEWAY_ON_BY_DEFAULT and enabled is not True:
        return (
            f"controller {label} serves Gateways only with --feature-gates={gate}=true (off by default before v3.2.0)"
        )
    if enabled is False:
        return f"controller {label} has {implementation.upper()} Gateways switched off (--feature-gates={gate}=false)"
    return None
