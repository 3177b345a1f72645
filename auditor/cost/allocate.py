"""Cost per Kubernetes namespace: each load balancer charged to the namespaces of its owner.

Split (OpenCost/Kubecost leave shared ALBs unsplit, kubecost #1203): an IngressGroup's ALB is divided
evenly across the *distinct namespaces* of its member Ingresses — not per Ingress, not by traffic (not
collected) — so a group of three Ingresses in ``shop`` and one in ``blog`` charges each namespace half.
A Service's load balancer goes to the Service's namespace. Load balancers without a Kubernetes owner
(unmanaged, or orphans whose owner is gone) are charged to ``UNATTRIBUTED`` so the total still adds up;
a superseded load balancer keeps its owner and is charged to that owner's namespaces.
"""

from __future__ import annotations

from collections import defaultdict

from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.cost.estimate import estimate, node_estimate
from auditor.cost.prices import PriceBook

UNATTRIBUTED = "(no namespace)"


def owner_namespaces(node: LbNode) -> list[str]:
    """The namespaces a load balancer's cost is charged to (empty: no Kubernetes owner)."""
    owner = node.owner
    if owner is None:
        return []
    if owner.group is not None:
        return owner.group.namespaces
    return [owner.namespace or ""]


def cost_by_namespace(graph: ExposureGraph, book: PriceBook | None = None) -> dict[str, float]:
    """Monthly USD per namespace over the load balancers this audit speaks for (``graph.in_scope()``), priced
    with ``book`` or else the audit's own prices and measured usage.

    Load balancers the book cannot price are left out (they have no figure to split).
    """
    totals: dict[str, float] = defaultdict(float)
    for node in graph.in_scope():
        est = estimate(node.lb, book, node.usage) if book is not None else node_estimate(node)
        if est is None:
            continue
        namespaces = owner_namespaces(node) or [UNATTRIBUTED]
        share = est.monthly_usd / len(namespaces)
        for ns in namespaces:
            totals[ns] += share
    return {ns: round(v, 2) for ns, v in sorted(totals.items())}
