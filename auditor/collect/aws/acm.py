"""ACM certificates of every key type, read from the ListCertificates summaries.

The summaries carry NotAfter, InUse, Status, Type, KeyAlgorithm, RenewalEligibility and the first
100 SANs, so DescribeCertificate is called only when a summary cannot answer:
- ``HasAdditionalSubjectAlternativeNames`` is true (more than 100 names), or
- a summary lacks one of those fields (older or partial answers) AND the certificate is served by a
  listener we collected — the certificates rules actually look at. Other incomplete summaries keep
  ``None`` in the missing fields ("not collected") rather than costing one call per certificate.
``in_use_by`` exists only in DescribeCertificate, so it is filled just for described certificates.
"""

from __future__ import annotations

from collections.abc import Collection
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


def collect(ctx: CollectorContext, listener_certificate_arns: Collection[str] = ()) -> list[Certificate]:
    client = ctx.client(SERVICE)
    summaries = [
        summary
        for page in pages(client, "ListCertificates", page_size=PAGE_SIZE, Includes={"keyTypes": list(KEY_TYPES)})
        for summary in page.get("CertificateSummaryList", [])
    ]
    served = set(listener_certificate_arns)
    certificates = [_from_summary(ctx, s) for s in summaries]
    to_describe = [
        cert
        for cert, summary in zip(certificates, summaries, strict=True)
        if summary.get("HasAdditionalSubjectAlternativeNames")
        or (cert.arn in served and any(f not in summary for f in SUMMARY_FIELDS))
    ]
    ctx.fan_out.map(lambda cert: _describe(ctx, client, cert), to_describe)
    ctx.count("certificates", len(certificates))
    ctx.count("described", len(to_describe))
    return certificates


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
    cert.domain_name = detail.get("DomainName", cert.domain_name)
    cert.subject_alternative_names = list(detail.get("SubjectAlternativeNames", []))
    cert.status = detail.get("Status", cert.status)
    cert.type = detail.get("Type", cert.type)
    cert.key_algorithm = detail.get("KeyAlgorithm", cert.key_algorithm)
    cert.not_after = detail.get("NotAfter", cert.not_after)
    cert.in_use_by = list(detail.get("InUseBy", []))
    cert.in_use = bool(cert.in_use_by)
    cert.renewal_eligibility = detail.get("RenewalEligibility", cert.renewal_eligibility)
