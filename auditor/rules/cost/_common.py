"""Cost pieces shared by rules: the monthly price of a load balancer node and its evidence."""

from __future__ import annotations

from functools import cache
from typing import Any

from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.cost import CostEstimate, PriceBook, default_price_book, estimate
from auditor.rules._helpers import node_memo


@cache
def _book() -> PriceBook:
    # Rules price with the built-in list prices; the audit's LoadBalancerView carries region prices if loaded.
    return default_price_book()


def _list_price(node: LbNode) -> CostEstimate | None:
    return estimate(node.lb, _book())


def lb_cost(node: LbNode) -> CostEstimate | None:
    """The monthly estimate of a load balancer at list prices (once per node: several rules price it)."""
    return node_memo(node, "list_price", _list_price)


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
