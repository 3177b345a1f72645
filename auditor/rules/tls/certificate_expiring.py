"""certificate-expiring: a certificate served by a load balancer listener expires soon, has expired, or is not ISSUED.

Time is the inventory's ``collected_at``, never the wall clock, so a saved snapshot always gives the same
answer. A listener certificate that ACM did not return is UNKNOWN, not FAIL: ACM refuses to delete a
certificate in use, so its absence points at a collection gap (a region or key type not listed) rather
than at a broken listener. IAM server certificates live outside ACM and are UNKNOWN as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB, SVC, listener_certificates
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import Certificate
from auditor.rules._helpers import (
    arn_account_region,
    audit_time,
    describe_lb,
    ingress_members,
    is_iam_server_certificate,
    lb_fields,
    tls_listeners,
)
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="certificate-expiring",
    title="Certificate in use expires soon or is not valid",
    severity=Severity.HIGH,
    category="tls",
    rationale=(
        "When the certificate of an HTTPS/TLS listener expires, every client fails the TLS handshake: the "
        "service is down for users. Amazon-issued certificates renew only while their DNS validation still "
        "works; imported certificates never renew by themselves."
    ),
    remediation=(
        "Imported: re-import the renewed certificate into the same ARN (aws acm import-certificate "
        "--certificate-arn ...); listeners keep the ARN. Amazon-issued: make sure the DNS validation records "
        "exist so ACM can renew it, or request a new certificate and point the Ingress annotation "
        "alb.ingress.kubernetes.io/certificate-arn (Service: service.beta.kubernetes.io/aws-load-balancer-ssl-cert) "
        "at it."
    ),
    references=(
        "AWS Security Hub ACM.1: Imported and ACM-issued certificates should be renewed after a specified time period",
        "AWS Config rule acm-certificate-expiration-check",
        "Prowler acm_certificates_expiration_check",
        "https://docs.aws.amazon.com/acm/latest/userguide/managed-renewal.html",
        "https://docs.aws.amazon.com/acm/latest/userguide/import-reimport.html",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#certificate-arn",
    ),
    inputs=(
        Facet.ELBV2_LOAD_BALANCERS,
        Facet.ELBV2_LISTENERS,
        Facet.ELBV2_LISTENER_CERTIFICATES,
        Facet.ELB_LOAD_BALANCERS,
        Facet.ACM_CERTIFICATES,
    ),
    enrich=(Facet.ACM_CERTIFICATE_DETAILS, Facet.KUBE_INGRESSES, Facet.KUBE_SERVICES),
)


@dataclass
class _Use:
    node: LbNode
    ports: list[int] = field(default_factory=list)


def _uses(graph: ExposureGraph) -> tuple[dict[str, list[_Use]], list[tuple[LbNode, int | None]]]:
    """Certificate ARN -> the load balancers serving it; plus TLS listeners whose certificates are unknown (port
    None: a load balancer whose listeners were not read, so which certificates it serves is unknown)."""
    uses: dict[str, list[_Use]] = {}
    missing: list[tuple[LbNode, int | None]] = []
    for node in graph.in_scope():
        if node.lb.listeners is None:
            missing.append((node, None))
            continue
        for listener in tls_listeners(node.lb):
            if listener.certificate_arns is None:
                missing.append((node, listener.port))
                continue
            for arn in listener.certificate_arns:
                entries = uses.setdefault(arn, [])
                # this node's use, if any, is the last entry: only its own listeners are added while it is read
                use = entries[-1] if entries and entries[-1].node is node else None
                if use is None:
                    use = _Use(node)
                    entries.append(use)
                if listener.port not in use.ports:
                    use.ports.append(listener.port)
    return uses, missing


def _where_referenced(arn: str, uses: list[_Use]) -> list[str]:
    """Kubernetes objects naming this certificate ARN, with the annotation that does."""
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


def _remediation(cert: Certificate, uses: list[_Use]) -> str:
    refs = _where_referenced(cert.arn, uses)
    pointer = (
        f"then replace the ARN in {', '.join(refs)}"
        if refs
        else "the controller picks a matching certificate from the Ingress spec.tls hosts when no ARN is annotated"
    )
    if cert.type == "IMPORTED":
        return (
            f"Re-import the renewed certificate into the same ARN (listeners keep working, nothing to change in "
            f"Kubernetes): aws acm import-certificate --certificate-arn {cert.arn} --certificate fileb://cert.pem "
            "--private-key fileb://key.pem --certificate-chain fileb://chain.pem. Or move to an Amazon-issued "
            f"certificate (aws acm request-certificate --validation-method DNS) and {pointer}."
        )
    if cert.type == "PRIVATE":
        return f"Renew it from the private CA: aws acm renew-certificate --certificate-arn {cert.arn}; {pointer}."
    return (
        f"ACM renews Amazon-issued certificates only while validation works (renewal eligibility: "
        f"{cert.renewal_eligibility or 'unknown'}): restore the DNS validation CNAME records shown by aws acm "
        f"describe-certificate --certificate-arn {cert.arn}, or request a new certificate and {pointer}."
    )


def _fields(arn: str, cert: Certificate | None, uses: list[_Use]) -> dict[str, Any]:
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


def _used_by(uses: list[_Use]) -> list[dict[str, Any]]:
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


MESSAGE_USERS = 3  # load balancers a message names; the evidence lists every one


def _users(uses: list[_Use]) -> str:
    named = ", ".join(describe_lb(u.node) for u in uses[:MESSAGE_USERS])
    rest = len(uses) - MESSAGE_USERS
    return f"{named} and {rest} more load balancer{'s' if rest > 1 else ''}" if rest > 0 else named


def _judge_one(
    graph: ExposureGraph, settings: RuleSettings, arn: str, cert: Certificate | None, uses: list[_Use]
) -> Finding:
    fields = _fields(arn, cert, uses)
    users = _users(uses)
    evidence: dict[str, Any] = {"used_by": _used_by(uses)}
    if cert is None:
        if is_iam_server_certificate(arn):
            return META.finding(
                Status.UNKNOWN,
                f"IAM server certificate {fields['resource_name']} used by {users} is outside ACM; the auditor "
                "does not read its expiry (aws iam list-server-certificates shows it).",
                evidence={**evidence, "source": "iam"},
                **fields,
            )
        account, region = fields["account"], fields["region"]
        why = (
            f"ACM of {account}/{region} was not collected"
            if not graph.inventory.collected("acm", account=account, region=region)
            else "ACM did not return it (a key type or region the collector did not list)"
        )
        return META.finding(
            Status.UNKNOWN,
            f"The expiry of certificate {fields['resource_name']} used by {users} is unknown: {why}.",
            evidence=evidence,
            **fields,
        )
    evidence.update(
        domain_name=cert.domain_name,
        status=cert.status,
        type=cert.type,
        not_after=cert.not_after.isoformat() if cert.not_after else None,
        renewal_eligibility=cert.renewal_eligibility,
    )
    name = f"certificate {cert.domain_name or arn}"
    if cert.status is not None and cert.status != "ISSUED":
        return META.finding(
            Status.FAIL,
            f"The {name} used by {users} is {cert.status}, not ISSUED.",
            severity=Severity.CRITICAL,
            remediation=_remediation(cert, uses),
            evidence=evidence,
            **fields,
        )
    if cert.not_after is None:
        return META.finding(
            Status.UNKNOWN,
            f"The expiry date of {name} used by {users} was not collected.",
            evidence=evidence,
            **fields,
        )
    left = cert.not_after - audit_time(graph)
    days = left.days  # whole days, floored: 6 days 23 hours counts as 6
    evidence["days_left"] = days
    if left <= timedelta(0):
        message = (
            f"The {name} used by {users} expired on {cert.not_after.date()} ({(-left).days} days before the audit)."
        )
        severity = Severity.CRITICAL
    elif left <= timedelta(days=settings.certificate_warning_days):
        within = f"in {days} days" if days else "within a day"
        message = f"The {name} used by {users} expires {within} ({cert.not_after.date()})."
        critical = left <= timedelta(days=settings.certificate_critical_days)
        severity = Severity.CRITICAL if critical else Severity.HIGH
    else:
        return META.finding(
            Status.PASS,
            f"The {name} used by {users} is valid for {days} more days.",
            evidence=evidence,
            **fields,
        )
    return META.finding(
        Status.FAIL, message, severity=severity, remediation=_remediation(cert, uses), evidence=evidence, **fields
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    uses, missing = _uses(graph)

    def judge_listener(listener: tuple[LbNode, int | None]) -> Iterator[Finding]:
        node, port = listener
        yield META.finding(
            Status.UNKNOWN,
            f"The listeners of {describe_lb(node)} were not collected, so the certificates it serves are unknown."
            if port is None
            else f"The certificates of listener {port} of {describe_lb(node)} were not collected.",
            evidence={"load_balancer": node.lb.name, "port": port},
            discriminator="listeners" if port is None else f"listener:{port}",
            **lb_fields(node),
        )

    def describe_listener(listener: tuple[LbNode, int | None]) -> dict[str, Any]:
        node, port = listener
        return {**lb_fields(node), "discriminator": "listeners" if port is None else f"listener:{port}"}

    yield from guarded(META, graph, missing, judge_listener, describe=describe_listener)
    certs = {c.arn: c for c in graph.inventory.aws.certificates}

    def judge(arn: str) -> Iterator[Finding]:
        yield _judge_one(graph, settings, arn, certs.get(arn), uses[arn])

    def describe(arn: str) -> dict[str, Any]:
        return _fields(arn, certs.get(arn), uses[arn])

    yield from guarded(META, graph, uses, judge, describe=describe)


RULE = Rule(META, evaluate)
