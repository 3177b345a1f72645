"""certificate-expiring: a certificate served by a load balancer listener expires soon, has expired, or is not ISSUED.

Time is the inventory's ``collected_at``, never the wall clock, so a saved snapshot always gives the same
answer. A listener certificate that ACM did not return is UNKNOWN, not FAIL: ACM refuses to delete a
certificate in use, so its absence points at a collection gap (a region or key type not listed) rather
than at a broken listener. IAM server certificates live outside ACM and are UNKNOWN as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, Severity, Status
from auditor.inventory.models import Certificate
from auditor.rules._helpers import audit_time
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded
from auditor.rules.tls._certificates import (
    ENRICH,
    INPUTS,
    CertificateUse,
    UnreadListener,
    certificate_fields,
    not_in_acm,
    served_certificates,
    unread_listener,
    unread_listener_fields,
    used_by,
    users,
    where_referenced,
)

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
    inputs=INPUTS,
    enrich=ENRICH,
)


def _remediation(cert: Certificate, uses: list[CertificateUse]) -> str:
    refs = where_referenced(cert.arn, uses)
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


def _judge_one(
    graph: ExposureGraph, settings: RuleSettings, arn: str, cert: Certificate | None, uses: list[CertificateUse]
) -> Finding:
    fields = certificate_fields(arn, cert, uses)
    evidence: dict[str, Any] = {"used_by": used_by(uses)}
    if cert is None:
        return not_in_acm(
            META, graph, fields, uses, evidence, what="expiry", iam_hint="aws iam list-server-certificates shows it"
        )
    serving = users(uses)
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
            f"The {name} used by {serving} is {cert.status}, not ISSUED.",
            severity=Severity.CRITICAL,
            remediation=_remediation(cert, uses),
            evidence=evidence,
            **fields,
        )
    if cert.not_after is None:
        return META.finding(
            Status.UNKNOWN,
            f"The expiry date of {name} used by {serving} was not collected.",
            evidence=evidence,
            **fields,
        )
    left = cert.not_after - audit_time(graph)
    days = left.days  # whole days, floored: 6 days 23 hours counts as 6
    evidence["days_left"] = days
    if left <= timedelta(0):
        message = (
            f"The {name} used by {serving} expired on {cert.not_after.date()} ({(-left).days} days before the audit)."
        )
        severity = Severity.CRITICAL
    elif left <= timedelta(days=settings.certificate_warning_days):
        within = f"in {days} days" if days else "within a day"
        message = f"The {name} used by {serving} expires {within} ({cert.not_after.date()})."
        critical = left <= timedelta(days=settings.certificate_critical_days)
        severity = Severity.CRITICAL if critical else Severity.HIGH
    else:
        return META.finding(
            Status.PASS,
            f"The {name} used by {serving} is valid for {days} more days.",
            evidence=evidence,
            **fields,
        )
    return META.finding(
        Status.FAIL, message, severity=severity, remediation=_remediation(cert, uses), evidence=evidence, **fields
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    served = served_certificates(graph)

    def judge_listener(listener: UnreadListener) -> Iterator[Finding]:
        yield unread_listener(META, listener)

    yield from guarded(META, graph, served.unread, judge_listener, describe=unread_listener_fields)
    certs = {c.arn: c for c in graph.inventory.aws.certificates}
    uses = served.uses

    def judge(arn: str) -> Iterator[Finding]:
        yield _judge_one(graph, settings, arn, certs.get(arn), uses[arn])

    def describe(arn: str) -> dict[str, Any]:
        return certificate_fields(arn, certs.get(arn), uses[arn])

    yield from guarded(META, graph, uses, judge, describe=describe)


RULE = Rule(META, evaluate)
