"""Cost pieces shared by rules: the monthly price of a load balancer node and its evidence."""

from __future__ import annotations

from typing import Any

from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.cost import CostEstimate, default_price_book, estimate, node_estimate
from auditor.rules._helpers import node_memo


def lb_cost(node: LbNode) -> CostEstimate | None:
    """The monthly estimate of a load balancer with the audit's prices and measured usage (once per node:
    several rules price it) — the same figure its LoadBalancerView shows."""
    return node_memo(node, "cost", node_estimate)


def saving_by_replacing(node: LbNode, new_type: str) -> tuple[float | None, str]:
    """What replacing the load balancer with one of ``new_type`` saves a month, and how that was worked out:
    its estimate now minus the new type's hours and public IPv4 at the same prices. The new load balancer's
    capacity units are not known before it carries the traffic; they are left out, and the basis says so."""
    now = lb_cost(node)
    after = estimate(node.lb.model_copy(update={"type": new_type}), node.prices or default_price_book())
    if now is None or after is None:
        return None, ""
    saving = max(0.0, round(now.monthly_usd - after.monthly_usd, 2))
    basis = (
        f"${now.monthly_usd:.2f}/month now minus ${after.monthly_usd:.2f}/month for a {new_type} load balancer "
        "(hours and public IPv4 at the same prices; its capacity units are not known yet and are left out)"
    )
    return saving, basis


def monthly_cost(node: LbNode) -> float | None:
    est = lb_cost(node)
    return est.monthly_usd if est else None


def total_cost(nodes: list[LbNode]) -> float | None:
    """The summed monthly cost of load balancers; None when none of them can be priced."""
    costs = [c for c in (monthly_cost(n) for n in nodes) if c is not None]
    return round(sum(costs), 2) if costs else None


def cost_evidence(node: LbNode) -> dict[str, Any]:
    est = lb_cost(node)
    return {"monthly_cost_usd": est.monthly_usd if est else None, "cost_basis": est.basis if est else None}


def lb_collected(graph: ExposureGraph) -> bool:
    """Whether both load balancer collectors (elbv2, classic elb) are complete."""
    return graph.collected("elbv2") and graph.collected("elb")
