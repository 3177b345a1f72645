"""Shared pieces of rules: finding fields of a load balancer, TLS listeners, and kubectl fix commands."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import KubeRef
from auditor.inventory.models import Ingress, Listener, LoadBalancer

LB_KIND = {"application": "ALB", "network": "NLB", "classic": "CLB", "gateway": "GWLB"}
TLS_PROTOCOLS = ("HTTPS", "TLS", "SSL")
T = TypeVar("T")


def lb_kind(lb: LoadBalancer) -> str:
    """ALB | NLB | CLB | GWLB."""
    return LB_KIND.get(lb.type, lb.type)


def node_memo(node: LbNode, key: str, make: Callable[[LbNode], T]) -> T:
    """``make(node)``, computed once per node and graph: most rules name, describe and price every load
    balancer, so the first one pays and the rest read it back (the graph is read-only once correlated).
    A hit is one dictionary look-up: every rule asks per load balancer."""
    memo = node.derived
    try:
        return memo[key]  # type: ignore[no-any-return]
    except KeyError:
        made = memo[key] = make(node)
        return made


def _lb_fields(node: LbNode) -> dict[str, Any]:
    return {
        "resource_arn": node.arn,
        "resource_name": node.lb.name,
        "account": node.lb.account,
        "region": node.lb.region,
        "kubernetes": node.kube_ref,
    }


def lb_fields(node: LbNode) -> dict[str, Any]:
    """The Finding fields naming a load balancer and its Kubernetes owner (a new dict: callers may change it)."""
    return dict(node_memo(node, "lb_fields", _lb_fields))


def _describe_lb(node: LbNode) -> str:
    lb = node.lb
    text = f"{lb.scheme} {lb_kind(lb)} {lb.name}"
    if node.owner is not None:
        text += f" ({node.owner.label})"
    elif node.orphan is not None:
        text += f" (orphaned: {node.orphan})"
    return text


def describe_lb(node: LbNode) -> str:
    """'internet-facing ALB k8s-shop-abc (IngressGroup shop)' — how messages name a load balancer."""
    return node_memo(node, "describe_lb", _describe_lb)


def _lb_subject(node: LbNode) -> str:
    return sentence(describe_lb(node))


def lb_subject(node: LbNode) -> str:
    """``describe_lb`` capitalised, as a message starts with it ('Internet-facing ALB k8s-shop-abc (...)')."""
    return node_memo(node, "lb_subject", _lb_subject)


def sentence(text: str) -> str:
    """Capitalise the first letter (messages often start with a load balancer's scheme)."""
    return text[:1].upper() + text[1:]


def _owner_evidence(node: LbNode) -> dict[str, Any]:
    found: dict[str, Any] = {
        "load_balancer": node.lb.name,
        "type": node.lb.type,
        "scheme": node.lb.scheme,
        "owner": node.owner.label if node.owner else None,
        "owner_evidence": node.owner_evidence,
        "orphan": node.orphan,
    }
    if node.owner is not None and node.owner.gateway is not None:
        found["routes"] = [str(r) for r in node.owner.gateway.route_refs]
    return found


def owner_evidence(node: LbNode, **more: Any) -> dict[str, Any]:
    """Who owns the load balancer, as evidence, followed by ``more`` (a new dict: callers may add to it)."""
    return {**node_memo(node, "owner_evidence", _owner_evidence), **more}


def tls_listeners(lb: LoadBalancer) -> list[Listener]:
    """Listeners that terminate TLS (HTTPS, TLS, classic SSL); empty when listeners were not collected."""
    return [li for li in lb.listeners or [] if li.protocol.upper() in TLS_PROTOCOLS]


def ingress_members(node: LbNode) -> list[Ingress]:
    """The Ingresses behind an Ingress-owned load balancer (group order), else none."""
    if node.owner is None or node.owner.group is None:
        return []
    return list(node.owner.group.members)


def audit_time(graph: ExposureGraph) -> datetime:
    """When the inventory was collected (aware, UTC): rules judge time against it, never the wall clock."""
    ts = graph.inventory.collected_at
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def shell_quote(value: str) -> str:
    """Single-quote a value for a POSIX shell."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def annotate_command(ref: KubeRef, annotations: Mapping[str, str | None]) -> str:
    """``kubectl annotate`` setting (value) or removing (None) annotations on one object."""
    return annotate_commands([ref], annotations)[0]


def annotate_commands(refs: Iterable[KubeRef], annotations: Mapping[str, str | None]) -> list[str]:
    """``annotate_command`` for each object (the annotation arguments are written once)."""
    args = [f"{key}-" if value is None else f"{key}={shell_quote(value)}" for key, value in annotations.items()]
    if any(v is not None for v in annotations.values()):
        args.append("--overwrite")
    tail = "".join(" " + arg for arg in args)
    return [
        f"kubectl -n {ref.namespace} annotate {ref.kind.lower()} {ref.name}{tail}"
        if ref.namespace
        else f"kubectl annotate {ref.kind.lower()} {ref.name}{tail}"
        for ref in refs
    ]


def ingress_ref(ing: Ingress) -> KubeRef:
    return KubeRef(kind="Ingress", namespace=ing.namespace, name=ing.name)


def owner_annotate(node: LbNode, annotations: Mapping[str, str | None], *, every_member: bool = True) -> list[str]:
    """kubectl commands applying annotations to the owner: each Ingress of the group (or only the first,
    for group-wide "merge" annotations such as ``wafv2-acl-arn``), or the owning Service. Empty: no owner."""
    if node.owner is None:
        return []
    members = ingress_members(node)
    if members:
        chosen = members if every_member else members[:1]
        return annotate_commands([ingress_ref(ing) for ing in chosen], annotations)
    if node.owner.kind == "Service":
        return [annotate_command(node.owner.ref, annotations)]
    return []


def arn_account_region(arn: str) -> tuple[str | None, str | None]:
    """(account, region) of an ARN; None parts when the ARN does not carry them."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None, None
    return parts[4] or None, parts[3] or None


def is_iam_server_certificate(arn: str) -> bool:
    return ":iam::" in arn and ":server-certificate/" in arn
