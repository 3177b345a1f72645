"""Shape correlated load balancers into the views every output shows (owner, listeners, WAF, cost)."""

from __future__ import annotations

from auditor.correlate import ExposureGraph, LbNode
from auditor.correlate.gc_pause import gc_paused
from auditor.cost import PriceBook, default_price_book, estimate
from auditor.findings import ListenerView, LoadBalancerView, OwnerView
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


def load_balancer_view(node: LbNode, book: PriceBook) -> LoadBalancerView:
    lb = node.lb
    cost = estimate(lb, book)
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
    )


def load_balancer_views(graph: ExposureGraph, book: PriceBook | None = None) -> list[LoadBalancerView]:
    """Every load balancer this audit speaks for, owned ones first, then by owner and name."""
    nodes = sorted(
        graph.in_scope(),
        key=lambda n: (n.owner is None, n.owner.label if n.owner else "", n.lb.name),
    )
    book = book or default_price_book()
    with gc_paused():  # one view per load balancer, all kept: see auditor.correlate.gc_pause
        return [load_balancer_view(n, book) for n in nodes]
