"""Which certificates the audited load balancers serve, for the rules that judge certificates.

One home for the certificate -> load balancer mapping (default and SNI certificates of ALB/NLB HTTPS/TLS
listeners, Classic HTTPS/SSL listeners, a Gateway's listeners: what ``Listener.certificate_arns`` holds), the
Kubernetes objects that name a certificate, how a finding names a certificate and its users, and the UNKNOWNs
both for listeners whose certificates were not read and for certificates ACM did not return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor.correlate.annotations import ALB, SVC, listener_certificates
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import Finding, KubeRef, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import Certificate
from auditor.rules._helpers import (
    arn_account_region,
    describe_lb,
    ingress_members,
    is_iam_server_certificate,
    lb_fields,
    tls_listeners,
)
from auditor.rules.base import RuleMeta

# What a rule judging served certificates reads: the listeners' certificates and ACM's certificates (its verdicts
# rest on them), the details and the Kubernetes objects that name a certificate (messages and remediations only).
# Every such rule declares these, so selecting several of them reads what one of them reads.
INPUTS: tuple[Facet, ...] = (
    Facet.ELBV2_LOAD_BALANCERS,
    Facet.ELBV2_LISTENERS,
    Facet.ELBV2_LISTENER_CERTIFICATES,
    Facet.ELB_LOAD_BALANCERS,
    Facet.ACM_CERTIFICATES,
)
# the Kubernetes objects that name a certificate (where_referenced), a Gateway's in its LoadBalancerConfiguration
ENRICH: tuple[Facet, ...] = (
    Facet.ACM_CERTIFICATE_DETAILS,
    Facet.KUBE_INGRESSES,
    Facet.KUBE_SERVICES,
    Facet.KUBE_GATEWAYS,
    Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS,
)

MESSAGE_USERS = 3  # load balancers a message names; the evidence lists every one

# A TLS listener whose certificates are unknown: (its load balancer, its port), or port None for a load balancer
# whose listeners were not read, so which certificates it serves is unknown.
UnreadListener = tuple[LbNode, int | None]


@dataclass
class CertificateUse:
    """One load balancer serving a certificate, on these listener ports."""

    node: LbNode
    ports: list[int] = field(default_factory=list)


@dataclass
class ServedCertificates:
    """Certificate ARN -> the in-scope load balancers serving it (first use first); the TLS listeners whose
    certificates were not read."""

    uses: dict[str, list[CertificateUse]]
    unread: list[UnreadListener]


def served_certificates(graph: ExposureGraph) -> ServedCertificates:
    """Every certificate the audit's load balancers serve, from their listeners as collected."""
    uses: dict[str, list[CertificateUse]] = {}
    unread: list[UnreadListener] = []
    for node in graph.in_scope():
        if node.lb.listeners is None:
            unread.append((node, None))
            continue
        for listener in tls_listeners(node.lb):
            if listener.certificate_arns is None:
                unread.append((node, listener.port))
                continue
            for arn in listener.certificate_arns:
                entries = uses.setdefault(arn, [])
                # this node's use, if any, is the last entry: only its own listeners are added while it is read
                use = entries[-1] if entries and entries[-1].node is node else None
                if use is None:
                    use = CertificateUse(node)
                    entries.append(use)
                if listener.port not in use.ports:
                    use.ports.append(listener.port)
    return ServedCertificates(uses, unread)


def unread_listener_fields(listener: UnreadListener) -> dict[str, Any]:
    """The Finding fields naming a listener (or a load balancer) whose certificates were not read."""
    node, port = listener
    return {**lb_fields(node), "discriminator": "listeners" if port is None else f"listener:{port}"}


def unread_listener(meta: RuleMeta, listener: UnreadListener) -> Finding:
    """The UNKNOWN of a listener whose certificates were not read: a certificate only it serves is not lost."""
    node, port = listener
    return meta.finding(
        Status.UNKNOWN,
        f"The listeners of {describe_lb(node)} were not collected, so the certificates it serves are unknown."
        if port is None
        else f"The certificates of listener {port} of {describe_lb(node)} were not collected.",
        evidence={"load_balancer": node.lb.name, "port": port},
        **unread_listener_fields(listener),
    )


def where_referenced(arn: str, uses: list[CertificateUse]) -> list[str]:
    """Kubernetes objects naming this certificate ARN, with the annotation or field that does."""
    found: list[str] = []
    for use in uses:
        for ing in ingress_members(use.node):
            if arn in ing.annotations.get(ALB + "certificate-arn", ""):
                found.append(f"Ingress {ing.namespace}/{ing.name} ({ALB}certificate-arn)")
        owner = use.node.owner
        svc = owner.service if owner is not None else None
        if svc is not None and arn in svc.annotations.get(SVC + "aws-load-balancer-ssl-cert", ""):
            found.append(f"Service {svc.namespace}/{svc.name} ({SVC}aws-load-balancer-ssl-cert)")
        cfg = owner.gateway.configuration if owner is not None and owner.gateway is not None else None
        entries = cfg.spec.get("listenerConfigurations") if cfg is not None else None
        for entry in entries if isinstance(entries, list) else []:
            named = listener_certificates(entry) if isinstance(entry, dict) else []
            if cfg is not None and arn in named:
                found.append(
                    f"LoadBalancerConfiguration {cfg.namespace}/{cfg.name} (spec.listenerConfigurations "
                    f"{entry.get('protocolPort')})"
                )
    return list(dict.fromkeys(found))


def certificate_fields(arn: str, cert: Certificate | None, uses: list[CertificateUse]) -> dict[str, Any]:
    """The Finding fields naming a certificate; its Kubernetes object is the first user's owner."""
    account, region = arn_account_region(arn)
    owner: KubeRef | None = next((u.node.kube_ref for u in uses if u.node.kube_ref is not None), None)
    return {
        "resource_arn": arn,
        "resource_name": cert.domain_name if cert and cert.domain_name else arn.rsplit("/", 1)[-1],
        "account": cert.account if cert else account,
        "region": cert.region if cert else region,
        "kubernetes": owner,
        "discriminator": arn,
    }


def used_by(uses: list[CertificateUse]) -> list[dict[str, Any]]:
    """Evidence: every load balancer serving the certificate, its ports and owner."""
    return [
        {
            "load_balancer": u.node.lb.name,
            "arn": u.node.arn,
            "ports": u.ports,
            "owner": u.node.owner.label if u.node.owner else None,
            "orphan": u.node.orphan,
        }
        for u in uses
    ]


def users(uses: list[CertificateUse]) -> str:
    """The load balancers serving a certificate, as a message names them (the first few, then how many more)."""
    named = ", ".join(describe_lb(u.node) for u in uses[:MESSAGE_USERS])
    rest = len(uses) - MESSAGE_USERS
    return f"{named} and {rest} more load balancer{'s' if rest > 1 else ''}" if rest > 0 else named


def not_in_acm(
    meta: RuleMeta,
    graph: ExposureGraph,
    fields: dict[str, Any],
    uses: list[CertificateUse],
    evidence: dict[str, Any],
    *,
    what: str,
    iam_hint: str,
) -> Finding:
    """The UNKNOWN of a served certificate that ACM did not return: an IAM server certificate (outside ACM), ACM
    of its account and region not read, or a certificate ACM did not list. ACM refuses to delete a certificate in
    use, so its absence points at a collection gap rather than at a broken listener. ``what`` the rule would have
    judged ("expiry"), ``iam_hint`` how to read it for an IAM server certificate."""
    served = users(uses)
    if is_iam_server_certificate(fields["resource_arn"]):
        return meta.finding(
            Status.UNKNOWN,
            f"IAM server certificate {fields['resource_name']} used by {served} is outside ACM; the auditor "
            f"does not read its {what} ({iam_hint}).",
            evidence={**evidence, "source": "iam"},
            **fields,
        )
    account, region = fields["account"], fields["region"]
    why = (
        f"ACM of {account}/{region} was not collected"
        if not graph.inventory.collected("acm", account=account, region=region)
        else "ACM did not return it (a key type or region the collector did not list)"
    )
    return meta.finding(
        Status.UNKNOWN,
        f"The {what} of certificate {fields['resource_name']} used by {served} is unknown: {why}.",
        evidence=evidence,
        **fields,
    )
