"""ACM certificates of every key type, read from the ListCertificates summaries.

The summaries carry NotAfter, InUse, Status, Type, KeyAlgorithm, RenewalEligibility and the first
100 SANs, so DescribeCertificate is called only when a summary cannot answer:
- ``HasAdditionalSubjectAlternativeNames`` is true (more than 100 names), or
- a summary lacks one of those fields (older or partial answers) AND the certificate is served by a
  listener we collected — the certificates rules actually look at. Other incomplete summaries keep
  ``None`` in the missing fields ("not collected") rather than costing one call per certificate.
``in_use_by`` exists only in DescribeCertificate, so it is filled just for described certificates.

``served_by`` answers another question for the elbv2 collector: which load balancers serve which
certificate, from ACM's in-use lists (DescribeCertificate ``InUseBy`` of every certificate in use), so a
TLS listener's SNI certificates need no DescribeListenerCertificates where that answer is unambiguous
(``auditor.collect.aws.elbv2.certificates_from_in_use``). What it read is handed on to ``collect``
(``AcmReading``): no certificate is listed or described twice.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from auditor.collect.aws.base import CollectorContext, actions_of, call, pages
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet
from auditor.inventory.models import Certificate

NAME = "acm"
SERVICE = "acm"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {
    Facet.ACM_CERTIFICATES: ("acm:ListCertificates",),
    Facet.ACM_CERTIFICATE_DETAILS: ("acm:DescribeCertificate",),
}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)

log = logging.getLogger(__name__)

# ListCertificates returns only RSA_1024/RSA_2048 unless every key type is named.
KEY_TYPES = (
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
)
PAGE_SIZE = 1000  # MaxItems maximum
SUMMARY_FIELDS = ("NotAfter", "Status", "Type", "KeyAlgorithm", "InUse", "SubjectAlternativeNameSummaries")


@dataclass
class AcmReading:
    """What ``served_by`` read of one account and region: the summaries and the certificates it described."""

    summaries: list[dict[str, Any]]
    details: dict[str, dict[str, Any]] = field(default_factory=dict)  # ARN -> DescribeCertificate's Certificate


def list_summaries(client: Any) -> list[dict[str, Any]]:
    """Every certificate's summary, of every key type (raises CollectionError)."""
    return [
        summary
        for page in pages(client, "ListCertificates", page_size=PAGE_SIZE, Includes={"keyTypes": list(KEY_TYPES)})
        for summary in page.get("CertificateSummaryList", [])
    ]


def collect(
    ctx: CollectorContext, listener_certificate_arns: Collection[str] = (), reading: AcmReading | None = None
) -> list[Certificate]:
    """Every certificate from its summary, described where the summary cannot answer; ``reading``: what the
    elbv2 collector already read of this account and region (not listed nor described again)."""
    client = ctx.client(SERVICE)
    summaries = reading.summaries if reading is not None else list_summaries(client)
    details = reading.details if reading is not None else {}
    served = set(listener_certificate_arns)
    certificates = [_from_summary(ctx, s) for s in summaries]
    to_describe = []
    for cert, summary in zip(certificates, summaries, strict=True):
        if cert.arn in details:
            _apply(cert, details[cert.arn])
        elif summary.get("HasAdditionalSubjectAlternativeNames") or (
            cert.arn in served and any(f not in summary for f in SUMMARY_FIELDS)
        ):
            to_describe.append(cert)
    ctx.fan_out.map(lambda cert: _describe(ctx, client, cert), to_describe)
    ctx.count("certificates", len(certificates))
    ctx.count("described", len(to_describe) + len(details))
    return certificates


def served_by(ctx: CollectorContext) -> tuple[dict[str, set[str]], AcmReading] | None:
    """Load balancer ARN -> the ACM certificates it serves (InUseBy of every certificate in use), or None when
    that cannot be the whole answer: a call failed, or the account holds IAM server certificates (a listener
    may serve one of those, and nothing lists who uses them). Failures are logged, not problems: the caller
    then reads each listener's certificates itself, so nothing goes unread.

    ACM keeps ``InUseBy`` for every certificate attached to a load balancer, default or SNI, with the load
    balancer's ARN (https://docs.aws.amazon.com/acm/latest/APIReference/API_CertificateDetail.html); an ALB or
    NLB can only serve ACM certificates of its own account and region, or IAM server certificates
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html)."""
    acm_client = ctx.client(SERVICE)
    iam_client = ctx.client("iam")
    try:
        if any(page.get("ServerCertificateMetadataList") for page in pages(iam_client, "ListServerCertificates")):
            log.info("%s/%s holds IAM server certificates: SNI certificates read per listener", ctx.account, ctx.region)
            return None
        summaries = list_summaries(acm_client)
    except CollectionError as exc:
        log.warning(
            "%s/%s: which load balancers serve which certificate is not known (%s): SNI certificates read per listener",
            ctx.account,
            ctx.region,
            exc,
        )
        return None
    # InUse missing (an older or partial answer): described too, it may be in use
    in_use = [s["CertificateArn"] for s in summaries if s.get("InUse", True)]
    try:
        described = ctx.fan_out.map(lambda arn: call(acm_client, "DescribeCertificate", CertificateArn=arn), in_use)
    except CollectionError as exc:
        log.warning(
            "%s/%s: DescribeCertificate failed (%s): SNI certificates read per listener", ctx.account, ctx.region, exc
        )
        return None
    reading = AcmReading(summaries=summaries)
    serving: dict[str, set[str]] = {}
    for arn, answer in zip(in_use, described, strict=True):
        detail = answer["Certificate"]
        reading.details[arn] = detail
        for user in detail.get("InUseBy", []):
            serving.setdefault(user, set()).add(arn)
    return serving, reading


def _from_summary(ctx: CollectorContext, summary: dict[str, Any]) -> Certificate:
    sans = summary.get("SubjectAlternativeNameSummaries")
    return Certificate(
        arn=summary["CertificateArn"],
        account=ctx.account,
        region=ctx.region,
        domain_name=summary.get("DomainName"),
        subject_alternative_names=list(sans) if sans is not None else None,
        status=summary.get("Status"),
        type=summary.get("Type"),
        key_algorithm=summary.get("KeyAlgorithm"),
        not_after=summary.get("NotAfter"),
        in_use=summary.get("InUse"),
        renewal_eligibility=summary.get("RenewalEligibility"),
    )


def _describe(ctx: CollectorContext, client: Any, cert: Certificate) -> None:
    try:
        detail = call(client, "DescribeCertificate", CertificateArn=cert.arn)["Certificate"]
    except CollectionError as exc:
        ctx.problem(f"DescribeCertificate of {cert.arn}", exc, facet=Facet.ACM_CERTIFICATE_DETAILS)
        return
    _apply(cert, detail)


def _apply(cert: Certificate, detail: dict[str, Any]) -> None:
    cert.domain_name = detail.get("DomainName", cert.domain_name)
    cert.subject_alternative_names = list(detail.get("SubjectAlternativeNames", []))
    cert.status = detail.get("Status", cert.status)
    cert.type = detail.get("Type", cert.type)
    cert.key_algorithm = detail.get("KeyAlgorithm", cert.key_algorithm)
    cert.not_after = detail.get("NotAfter", cert.not_after)
    cert.in_use_by = list(detail.get("InUseBy", []))
    cert.in_use = bool(cert.in_use_by)
    cert.renewal_eligibility = detail.get("RenewalEligibility", cert.renewal_eligibility)
