"""Cost pieces shared by rules: the monthly price of a load balancer node and its evidence."""

from __future__ import annotations

from typing import Any

from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.cost import CostEstimate, node_estimate
from auditor.rules._helpers import node_memo


def lb_cost(node: LbNode) -> CostEstimate | None:
    """The monthly estimate of a load balancer with the audit's prices and measured usage (once per node:
    several rules price it) — the same figure its LoadBalancerView shows."""
    return node_memo(node, "cost", node_estimate)


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
