"""EKS: the cluster names of each region (orphan detection) and the target cluster's identity setup.

Coverage: ``ListClusters`` failing is an ERROR. Without a ``cluster_name`` the describe part is
not asked for and the coverage is SKIPPED, yet the region's cluster names are still listed: an
``EksClusterListing`` for an account/region exists exactly when its ``ListClusters`` succeeded.
``DescribeCluster`` runs only in the regions whose listing contains the target cluster; when every
listing was read and none holds it, ``not_found`` makes the ``eks.cluster`` facet an error in each
region (a misnamed cluster or a region missing from the target leaves the identity checks unjudged:
the audit is partial, not complete).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import yaml

from auditor.collect.aws.base import CollectorContext, actions_of, call, pages
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet, facets_of
from auditor.inventory.models import (
    Coverage,
    CoverageStatus,
    EksCluster,
    EksClusterListing,
    FacetCoverage,
    PodIdentityAssociation,
    VpcCniAddon,
)

NAME = "eks"
SERVICE = "eks"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {
    Facet.EKS_CLUSTERS: ("eks:ListClusters",),
    Facet.EKS_CLUSTER: ("eks:DescribeCluster",),
    Facet.EKS_POD_IDENTITY: ("eks:ListPodIdentityAssociations", "eks:DescribePodIdentityAssociation"),
    Facet.EKS_ADDONS: ("eks:DescribeAddon",),
}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)

PAGE_SIZE = 100  # maxResults maximum


@dataclass
class EksResult:
    listing: EksClusterListing
    cluster: EksCluster | None = None


def collect(
    ctx: CollectorContext, cluster_name: str | None, controller_service_accounts: Collection[tuple[str, str]]
) -> EksResult:
    client = ctx.client(SERVICE)
    names = [n for page in pages(client, "ListClusters", page_size=PAGE_SIZE) for n in page.get("clusters", [])]
    result = EksResult(listing=EksClusterListing(account=ctx.account, region=ctx.region, names=sorted(names)))
    ctx.count("clusters", len(names))
    if cluster_name is None:
        ctx.skip(
            "no cluster name given: DescribeCluster skipped (cluster names listed)",
            Facet.EKS_CLUSTER,
            Facet.EKS_POD_IDENTITY,
            Facet.EKS_ADDONS,
        )
        return result
    if cluster_name not in names:
        return result
    raw = call(client, "DescribeCluster", name=cluster_name)["cluster"]
    cluster = EksCluster(
        name=raw.get("name", cluster_name),
        account=ctx.account,
        region=ctx.region,
        arn=raw.get("arn"),
        version=raw.get("version"),
        status=raw.get("status"),
        endpoint=raw.get("endpoint"),
        oidc_issuer=((raw.get("identity") or {}).get("oidc") or {}).get("issuer"),
        vpc_id=(raw.get("resourcesVpcConfig") or {}).get("vpcId"),
        # Auto Mode is on when the cluster manages compute; no computeConfig means it is off.
        auto_mode=bool((raw.get("computeConfig") or {}).get("enabled", False)),
    )
    if ctx.wants(Facet.EKS_POD_IDENTITY):  # otherwise None: not read (no selected rule needs it)
        cluster.pod_identity_associations = _associations(ctx, client, cluster_name, set(controller_service_accounts))
    if ctx.wants(Facet.EKS_ADDONS):
        cluster.vpc_cni = _vpc_cni(ctx, client, cluster_name)
    result.cluster = cluster
    return result


def _vpc_cni(ctx: CollectorContext, client: Any, cluster_name: str) -> VpcCniAddon | None:
    """The vpc-cni add-on and its ``enableNetworkPolicy`` configuration value
    (https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html); not an add-on
    (ResourceNotFoundException): installed False. None: the call failed."""
    try:
        addon = call(client, "DescribeAddon", clusterName=cluster_name, addonName="vpc-cni")["addon"]
    except CollectionError as exc:
        if exc.code == "ResourceNotFoundException":
            return VpcCniAddon(installed=False)
        ctx.problem(f"DescribeAddon vpc-cni of {cluster_name}", exc, facet=Facet.EKS_ADDONS)
        return None
    raw = addon.get("configurationValues") or ""
    try:  # JSON or YAML, as the add-on accepts either
        values = json.loads(raw) if raw.lstrip().startswith("{") else yaml.safe_load(raw)
    except (ValueError, yaml.YAMLError):
        values = None
    setting = values.get("enableNetworkPolicy") if isinstance(values, dict) else None
    return VpcCniAddon(
        installed=True,
        version=addon.get("addonVersion"),
        network_policy=None if setting is None else str(setting).lower() == "true",
    )


def _associations(
    ctx: CollectorContext, client: Any, cluster_name: str, wanted: set[tuple[str, str]]
) -> list[PodIdentityAssociation] | None:
    """Every association; the role (only in Describe) is read for the controller's service accounts."""
    try:
        summaries = [
            a
            for page in pages(client, "ListPodIdentityAssociations", page_size=PAGE_SIZE, clusterName=cluster_name)
            for a in page.get("associations", [])
        ]
    except CollectionError as exc:
        ctx.problem(f"ListPodIdentityAssociations of {cluster_name}", exc, facet=Facet.EKS_POD_IDENTITY)
        return None
    associations = [
        PodIdentityAssociation(
            association_id=s["associationId"],
            namespace=s.get("namespace", ""),
            service_account=s.get("serviceAccount", ""),
        )
        for s in summaries
    ]

    def describe(association: PodIdentityAssociation) -> None:
        try:
            detail = call(
                client,
                "DescribePodIdentityAssociation",
                clusterName=cluster_name,
                associationId=association.association_id,
            )["association"]
        except CollectionError as exc:
            ctx.problem(
                f"DescribePodIdentityAssociation {association.association_id}", exc, facet=Facet.EKS_POD_IDENTITY
            )
            return
        association.role_arn = detail.get("roleArn")

    ctx.fan_out.map(describe, [a for a in associations if (a.namespace, a.service_account) in wanted])
    ctx.count("pod identity associations", len(associations))
    return associations


NOT_FOUND = "ClusterNotFound"


def not_found(cluster_name: str | None, clusters: list[EksCluster], coverage: list[Coverage]) -> list[Coverage]:
    """The eks coverage with the target cluster's absence recorded: when a cluster name was given, every audited
    account × region listed its clusters (ListClusters OK) and none holds it, its ``eks.cluster`` facet is an
    ERROR in each of them, so the rules reading it say UNKNOWN and the audit is partial. A listing that failed is
    already a gap; a facet no selected rule reads (SKIPPED) stays so."""
    if cluster_name is None or any(c.name == cluster_name for c in clusters):
        return coverage
    listings = [c for c in coverage if c.source == "aws" and c.collector == NAME]
    if not listings or any(c.facet(Facet.EKS_CLUSTERS).status != CoverageStatus.OK for c in listings):
        return coverage
    where = ", ".join(sorted(f"{c.account}/{c.region}" for c in listings))
    message = (
        f"cluster {cluster_name} is not among the EKS clusters of {where}: check the target's cluster_name, "
        "accounts and regions"
    )
    gap = FacetCoverage(status=CoverageStatus.ERROR, error_code=NOT_FOUND, message=message)
    ours = {id(c) for c in listings}
    out: list[Coverage] = []
    for cov in coverage:
        if id(cov) in ours and cov.facet(Facet.EKS_CLUSTER).status != CoverageStatus.SKIPPED:
            update: dict[str, object] = {"facets": {**cov.facets, Facet.EKS_CLUSTER.value: gap}}
            if cov.status == CoverageStatus.OK:  # a partial one keeps its own message; the facet names this gap
                # the other facets keep their OK: a facet not listed has the collector's status
                ok = {
                    f.value: FacetCoverage(status=CoverageStatus.OK) for f in facets_of(NAME) if f != Facet.EKS_CLUSTER
                }
                update |= {
                    "status": CoverageStatus.PARTIAL,
                    "error_code": NOT_FOUND,
                    "message": message,
                    "facets": {**ok, **cov.facets, Facet.EKS_CLUSTER.value: gap},
                }
            out.append(cov.model_copy(update=update))
        else:
            out.append(cov)
    return out
