"""Shape correlated load balancers into the views every output shows (owner, listeners, WAF, cost)."""

from __future__ import annotations

from typing import Any

from auditor.correlate import ExposureGraph, LbNode
from auditor.correlate.gc_pause import gc_paused
from auditor.cost import PriceBook, estimate, node_estimate
from auditor.cost.allocate import shares
from auditor.cost.estimate import DAYS_PER_MONTH
from auditor.findings import CostShareView, ListenerView, LoadBalancerView, OtherGatewayView, OwnerView
from auditor.inventory.models import Action


def _action_summary(actions: list[Action]) -> str | None:
    if not actions:
        return None
    first = min(actions, key=lambda a: a.order if a.order is not None else 0)
    if first.type == "redirect" and first.redirect is not None:
        return f"redirect {first.redirect.protocol or ''}:{first.redirect.port or ''}".rstrip(":")
    if first.type == "fixed-response":
        return f"fixed-response {first.fixed_response_status or ''}".strip()
    return first.type


def load_balancer_view(
    node: LbNode, book: PriceBook | None = None, cost_shares: list[CostShareView] | None = None
) -> LoadBalancerView:
    """``node`` as reported, priced with ``book`` or else the audit's own prices and measured usage."""
    lb = node.lb
    cost = estimate(lb, book, node.usage) if book is not None else node_estimate(node)
    owner = node.owner
    listeners = None
    if lb.listeners is not None:
        listeners = [
            ListenerView(
                port=li.port,
                protocol=li.protocol,
                ssl_policy=li.ssl_policy,
                certificate_arns=li.certificate_arns,
                default_action=_action_summary(li.default_actions),
            )
            for li in sorted(lb.listeners, key=lambda li: li.port)
        ]
    return LoadBalancerView(
        arn=lb.arn,
        name=lb.name,
        type=lb.type,
        scheme=lb.scheme,
        dns_name=lb.dns_name,
        region=lb.region,
        account=lb.account,
        owner=OwnerView(
            kind=owner.kind,
            namespace=owner.namespace,
            name=owner.name,
            routes=[str(r) for r in owner.gateway.route_refs]
            if owner.gateway is not None
            else [str(r) for r in owner.ingress_controller.ingress_refs]
            if owner.ingress_controller is not None
            else [],
        )
        if owner
        else None,
        owner_evidence=node.owner_evidence,
        cluster=node.cluster_tag,
        controller=node.controller,
        orphan=node.orphan,
        listeners=listeners,
        web_acl_arn=node.web_acl.arn if node.web_acl else None,
        monthly_cost_usd=cost.monthly_usd if cost else None,
        cost_basis=cost.basis if cost else None,
        cost_measured=list(cost.measured) if cost else [],
        cost_assumed=list(cost.assumed) if cost else [],
        cost_shares=cost_shares or [],
        **_billed(node, cost.monthly_usd if cost else None),
    )


def _billed(node: LbNode, monthly: float | None) -> dict[str, Any]:
    """Cost Explorer's billed cost beside the estimate for the same days, and the difference."""
    billed = node.billed
    if billed is None:
        return {}
    days = (billed.end - billed.start).days
    difference = round(billed.usd - monthly * days / DAYS_PER_MONTH, 2) if monthly is not None and days else None
    return {"billed_usd": round(billed.usd, 2), "billed_days": days, "billed_difference_usd": difference}


def load_balancer_views(
    graph: ExposureGraph, book: PriceBook | None = None, *, team_key: str = "team"
) -> list[LoadBalancerView]:
    """Every load balancer this audit speaks for, owned ones first, then by owner and name, with who pays it
    (shares of the audit's own estimate; none when another ``book`` prices it)."""
    nodes = sorted(
        graph.in_scope(),
        key=lambda n: (n.owner is None, n.owner.label if n.owner else "", n.lb.name),
    )
    with gc_paused():  # one view per load balancer, all kept: see auditor.correlate.gc_pause
        return [load_balancer_view(n, book, None if book else _shares(graph, n, team_key)) for n in nodes]


def _shares(graph: ExposureGraph, node: LbNode, team_key: str) -> list[CostShareView]:
    return [
        CostShareView(
            owner=s.owner,
            namespace=s.namespace,
            cluster=s.cluster,
            team=s.team,
            monthly_usd=s.monthly_usd,
            method=s.method,
        )
        for s in shares(graph, node, team_key)
    ]


def other_gateway_views(graph: ExposureGraph) -> list[OtherGatewayView]:
    """The Gateways no AWS Load Balancer Controller class serves, as listed (never judged)."""
    return [
        OtherGatewayView(
            namespace=g.gateway.namespace or "",
            name=g.gateway.name,
            gateway_class=g.gateway.gateway_class_name,
            controller=g.gateway_class.controller_name if g.gateway_class is not None else None,
            addresses=list(g.gateway.addresses),
        )
        for g in sorted(graph.gateways, key=lambda g: (g.gateway.namespace or "", g.gateway.name))
        if not g.managed
    ]
