"""Who pays: each load balancer's monthly cost split across the Kubernetes objects that use it.

OpenCost and Kubecost charge a flat rate per LoadBalancer Service and leave a shared ALB unsplit (kubecost
#1203, opencost #2065). Here:
- a Service's (or a Gateway's) load balancer is charged to that Service (or Gateway);
- an IngressGroup's ALB is split across the Ingresses of its group by each one's share of the ALB's
  per-target-group ``RequestCount`` over the usage window (CloudWatch) where it was read and non-zero —
  a target group serving a backend of two Ingresses is shared evenly between them — otherwise evenly
  across their rules (host/path entries, a default backend counting as one); each share says which;
- a load balancer without an owner (unmanaged, or orphaned with its owner gone) is charged to no owner, namespace
  ``UNATTRIBUTED``, so the parts still add up.
Shares are rounded to cents and the rounding remainder goes to the largest share: the parts of a load
balancer sum exactly to its estimate. Team is a configurable label (or annotation) of the owning object.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.cost.estimate import node_estimate
from auditor.inventory.models import Ingress, KubeObject

UNATTRIBUTED = "(no namespace)"
NO_TEAM = "(no team)"
NO_OWNER = "(no owner)"
GROUP_BY = ("owner", "namespace", "cluster", "team")
Method = Literal["requests", "rules", "sole-owner", "unowned"]


@dataclass(frozen=True)
class CostShare:
    """The part of one load balancer's monthly cost one Kubernetes object pays."""

    load_balancer: str  # ARN
    owner: str  # "Ingress shop/web", "Service db/pg", NO_OWNER
    namespace: str
    cluster: str
    team: str
    monthly_usd: float
    method: Method  # how the load balancer was split


def owner_namespaces(node: LbNode) -> list[str]:
    """The namespaces a load balancer's cost is charged to (empty: no Kubernetes owner)."""
    owner = node.owner
    if owner is None:
        return []
    if owner.group is not None:
        return owner.group.namespaces
    return [owner.namespace or ""]


def _team(obj: KubeObject, key: str) -> str:
    return obj.labels.get(key) or obj.annotations.get(key) or NO_TEAM


def _rule_count(ing: Ingress) -> int:
    return max(1, sum(len(r.paths) for r in ing.rules) + (1 if ing.default_backend is not None else 0))


def _services(ing: Ingress) -> set[str]:
    found = {p.backend.service_name for r in ing.rules for p in r.paths if p.backend.service_name}
    if ing.default_backend is not None and ing.default_backend.service_name:
        found.add(ing.default_backend.service_name)
    return found


def _request_weights(graph: ExposureGraph, node: LbNode, members: list[Ingress]) -> list[float] | None:
    """Each member's requests over the window, from the ALB's per-target-group RequestCount; None when not
    read, zero in total, or a target group with traffic cannot be tied to a member."""
    from auditor.correlate.build import target_group_backend  # correlate imports auditor.cost: not at the top

    per_group = node.usage.target_group_requests if node.usage is not None else None
    if not per_group or sum(per_group.values()) <= 0:
        return None
    weights = [0.0] * len(members)
    by_arn = {tg.arn: tg for tg in node.target_groups}
    for tg_arn, requests in per_group.items():
        if requests <= 0:
            continue
        tg = by_arn.get(tg_arn)
        backend = target_group_backend(graph, tg) if tg is not None else None
        users = [
            i
            for i, m in enumerate(members)
            if backend is not None and m.namespace == backend.namespace and backend.service in _services(m)
        ]
        if not users:
            return None  # traffic nobody can be charged for: fall back to rules rather than guess
        for i in users:
            weights[i] += requests / len(users)
    return weights


def _split(total: float, weights: list[float]) -> list[float]:
    """``total`` in proportion to ``weights``, in cents, summing exactly to ``total`` (rounded)."""
    whole = sum(weights)
    parts = [round(total * w / whole, 2) for w in weights]
    if parts:
        biggest = max(range(len(parts)), key=lambda i: parts[i])
        parts[biggest] = round(parts[biggest] + round(total, 2) - sum(parts), 2)
    return parts


def shares(graph: ExposureGraph, node: LbNode, team_key: str = "team") -> list[CostShare]:
    """Who pays ``node``'s monthly cost (empty when it has no price)."""
    est = node_estimate(node)
    if est is None:
        return []
    total = est.monthly_usd
    cluster = node.cluster_tag or graph.cluster_name or ""
    owner = node.owner  # a superseded load balancer keeps its owner, who still pays for it
    if owner is None:
        return [CostShare(node.arn, NO_OWNER, UNATTRIBUTED, cluster, NO_TEAM, round(total, 2), "unowned")]
    if owner.group is None:
        svc = owner.service
        team = _team(svc, team_key) if svc is not None else NO_TEAM
        return [CostShare(node.arn, owner.label, owner.namespace or "", cluster, team, round(total, 2), "sole-owner")]
    members = list(owner.group.members)
    if not members:
        return [CostShare(node.arn, owner.label, UNATTRIBUTED, cluster, NO_TEAM, round(total, 2), "unowned")]
    weights = _request_weights(graph, node, members)
    method: Method = "requests"
    if weights is None:
        weights, method = [float(_rule_count(m)) for m in members], "rules"
    parts = _split(total, weights)
    return [
        CostShare(
            node.arn, f"Ingress {m.namespace}/{m.name}", m.namespace or "", cluster, _team(m, team_key), p, method
        )
        for m, p in zip(members, parts, strict=True)
    ]


def allocate(graph: ExposureGraph, team_key: str = "team") -> list[CostShare]:
    """Every share of every load balancer this audit speaks for (``graph.in_scope()``)."""
    return [s for node in graph.in_scope() for s in shares(graph, node, team_key)]


class Share(Protocol):
    """A share as the audit made it (CostShare) or as reported (auditor.findings.CostShareView)."""

    @property
    def owner(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def cluster(self) -> str: ...
    @property
    def team(self) -> str: ...
    @property
    def monthly_usd(self) -> float: ...
    @property
    def method(self) -> str: ...


@dataclass(frozen=True)
class CostPoint:
    """One finished run's monthly load balancer cost, grouped by ``cost_by`` (a point of the cost trend)."""

    run_id: int
    target: str
    started_at: datetime
    monthly_usd: dict[str, float]

    @property
    def total(self) -> float:
        return round(sum(self.monthly_usd.values()), 2)


def cost_by(allocations: Iterable[Share], group_by: str) -> dict[str, float]:
    """Monthly USD per owner, namespace, cluster or team."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}, not {group_by!r}")
    totals: dict[str, float] = defaultdict(float)
    for share in allocations:
        totals[getattr(share, group_by)] += share.monthly_usd
    return {k: round(v, 2) for k, v in sorted(totals.items())}


def cost_summary(shares: Iterable[Share], group_by: str) -> dict[str, Any]:
    """What ``auditor cost`` and ``GET /api/v1/cost`` answer: monthly USD per group, the total, and how the shared
    load balancers were split (shares per method)."""
    shares = list(shares)
    groups = cost_by(shares, group_by)
    return {
        "group_by": group_by,
        "monthly_usd": groups,
        "total_monthly_usd": round(sum(groups.values()), 2),
        "split_methods": dict(sorted(Counter(s.method for s in shares).items())),
    }


def cost_by_namespace(graph: ExposureGraph) -> dict[str, float]:
    """Monthly USD per namespace (see ``allocate``)."""
    return cost_by(allocate(graph), "namespace")
