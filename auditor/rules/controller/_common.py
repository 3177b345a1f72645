"""Cluster-level pieces shared by controller, identity, cost and ownership rules."""

from __future__ import annotations

from typing import Any

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
