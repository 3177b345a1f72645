"""weak-certificate-key: a certificate served by a load balancer listener has a key weaker than RSA 2048 / ECDSA P-256.

The counterpart of Security Hub ACM.2 and Prowler ``acm_certificates_with_secure_key_algorithms``, on the
certificates the audited load balancers serve (default and SNI certificates of ALB/NLB HTTPS/TLS listeners,
Classic HTTPS/SSL listeners, a Gateway's listeners: ``auditor.rules.tls._certificates``). The key is ACM's
``KeyAlgorithm`` (RSA_1024, RSA_2048, RSA_3072, RSA_4096, EC_prime256v1, EC_secp384r1, EC_secp521r1:
https://docs.aws.amazon.com/acm/latest/APIReference/API_CertificateDetail.html), which the ListCertificates
summaries carry: the rule reads what certificate-expiring reads (the same facets) and costs no call of its own.

A key that was not read (ACM not read, DescribeCertificate failed where the summary lacked it, an IAM server
certificate, which lives outside ACM) or an algorithm the auditor does not know is UNKNOWN, never PASS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, Severity, Status
from auditor.inventory.models import Certificate
from auditor.rules._helpers import shell_quote
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
    id="weak-certificate-key",
    title="Certificate in use has a key weaker than RSA 2048 or ECDSA P-256",
    severity=Severity.HIGH,
    category="tls",
    rationale=(
        "An RSA key shorter than 2048 bits gives about 80 bits of security, below the 112 bits NIST has required "
        "since 2013: whoever factors it can impersonate the service to every client, and decrypt recorded sessions "
        "that did not use forward secrecy. ACM issues no such key; an imported or old certificate may carry one. "
        "High (Security Hub ACM.2's severity) when an internet-facing load balancer serves it, anyone on the "
        "internet can be its client; medium when only internal ones do (the VPC, peered networks, VPN)."
    ),
    remediation=(
        "A key cannot be changed in place: get a new certificate with a 2048-bit RSA or an ECDSA P-256/P-384 key "
        "(aws acm request-certificate --domain-name <host> --validation-method DNS --key-algorithm EC_prime256v1, "
        "or RSA_2048; or import one issued for such a key), point the Ingress annotation "
        "alb.ingress.kubernetes.io/certificate-arn (Service: service.beta.kubernetes.io/aws-load-balancer-ssl-cert; "
        "Gateway: defaultCertificate / certificates of the listener's entry in its LoadBalancerConfiguration's "
        "spec.listenerConfigurations) at the new ARN, then delete the old certificate."
    ),
    references=(
        "AWS Security Hub ACM.2: RSA certificates managed by ACM should use a key length of at least 2,048 bits",
        "https://docs.aws.amazon.com/securityhub/latest/userguide/acm-controls.html#acm-2",
        "AWS Config rule acm-certificate-rsa-check",
        "Prowler acm_certificates_with_secure_key_algorithms",
        "https://docs.aws.amazon.com/acm/latest/userguide/acm-certificate.html#algorithms",
        "https://docs.aws.amazon.com/acm/latest/userguide/import-certificate-prerequisites.html",
        "https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#certificate-arn",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/gateway/loadbalancerconfig/",
        "NIST SP 800-131A Rev. 2: RSA keys shorter than 2048 bits disallowed for signatures",
    ),
    # certificate-expiring's facets: selecting both reads what it alone reads, no call of its own
    inputs=INPUTS,
    enrich=ENRICH,
)

MIN_RSA_BITS = 2048
# ACM's ECDSA curves: P-256, P-384, P-521 (a curve ACM may add later is not judged until the auditor knows it)
STRONG_CURVES = frozenset({"prime256v1", "secp384r1", "secp521r1"})


def key_is_strong(algorithm: str) -> bool | None:
    """Whether an ACM KeyAlgorithm is at least RSA 2048 / ECDSA P-256; None: not one the auditor knows."""
    family, _, size = algorithm.partition("_")
    if family == "RSA" and size.isascii() and size.isdigit():  # "²".isdigit() is True, int("²") a ValueError
        return int(size) >= MIN_RSA_BITS
    if family == "EC" and size in STRONG_CURVES:
        return True
    return None


def _severity(uses: list[CertificateUse]) -> Severity:
    """High when any load balancer serving it may be internet-facing, medium when all are internal."""
    return Severity.MEDIUM if all(u.node.lb.scheme == "internal" for u in uses) else Severity.HIGH


SHOWN_NAMES = 10  # subject alternative names a request-certificate command spells out


def _request_names(cert: Certificate) -> str:
    """``--domain-name`` and ``--subject-alternative-names`` of a new certificate for the same names."""
    names = [_shell_word(n) for n in cert.names] or ["<host>"]
    args = f"--domain-name {names[0]}"
    others = names[1:]
    if len(others) > SHOWN_NAMES:
        args += f" --subject-alternative-names <its {len(others)} other names>"
    elif others:
        args += " --subject-alternative-names " + " ".join(others)
    return args


def _shell_word(name: str) -> str:
    """A DNS name as a shell word: quoted when it is no plain host name ('*.example.com' would glob)."""
    return name if name and all(c.isalnum() or c in ".-" for c in name) else shell_quote(name)


def _remediation(cert: Certificate, uses: list[CertificateUse]) -> str:
    # a Classic Load Balancer negotiates RSA cipher suites (its policies' ECDHE-RSA and RSA ones): keep an RSA key
    classic = any(u.node.lb.type == "classic" for u in uses)
    algorithm = (
        "RSA_2048 (a Classic Load Balancer serves it: keep an RSA key)"
        if classic
        else "EC_prime256v1 (RSA_2048 where clients cannot do ECDSA)"
    )
    if cert.type == "PRIVATE":
        get = (
            f"request a new one from the same private CA: aws acm request-certificate {_request_names(cert)} "
            "--certificate-authority-arn <the CA's ARN> --key-algorithm RSA_2048 (EC_prime256v1 from an ECDSA CA)"
        )
    else:
        get = (
            f"request one from ACM: aws acm request-certificate {_request_names(cert)} --validation-method DNS "
            f"--key-algorithm {algorithm}; or import one issued for a 2048-bit RSA or P-256 key (aws acm "
            "import-certificate --certificate fileb://cert.pem --private-key fileb://key.pem --certificate-chain "
            "fileb://chain.pem)"
        )
    refs = where_referenced(cert.arn, uses)
    pointer = (
        f"replace the ARN in {', '.join(refs)} with the new one"
        if refs
        else (
            "name the new ARN where the load balancer's owner takes it (no object names this one: the controller "
            "found it by the Ingress spec.tls hosts): alb.ingress.kubernetes.io/certificate-arn on the Ingress, "
            "service.beta.kubernetes.io/aws-load-balancer-ssl-cert on a Service, defaultCertificate in a Gateway's "
            "LoadBalancerConfiguration spec.listenerConfigurations"
        )
    )
    return (
        f"A certificate's key cannot be changed in place ({cert.key_algorithm}): {get}; then {pointer}; once no "
        f"listener serves the old certificate, delete it: aws acm delete-certificate --certificate-arn {cert.arn}."
    )


def _judge_one(graph: ExposureGraph, arn: str, cert: Certificate | None, uses: list[CertificateUse]) -> Finding:
    fields = certificate_fields(arn, cert, uses)
    evidence: dict[str, Any] = {"used_by": used_by(uses)}
    if cert is None:
        return not_in_acm(
            META,
            graph,
            fields,
            uses,
            evidence,
            what="key algorithm",
            iam_hint="aws iam get-server-certificate returns its body; openssl x509 -noout -text shows the key",
        )
    serving = users(uses)
    evidence.update(domain_name=cert.domain_name, type=cert.type, key_algorithm=cert.key_algorithm)
    name = f"certificate {cert.domain_name or arn}"
    if cert.key_algorithm is None:
        return META.finding(
            Status.UNKNOWN,
            f"The key algorithm of {name} used by {serving} was not collected.",
            evidence=evidence,
            **fields,
        )
    strong = key_is_strong(cert.key_algorithm)
    if strong is None:
        return META.finding(
            Status.UNKNOWN,
            f"The {name} used by {serving} has key algorithm {cert.key_algorithm}, which the auditor does not "
            "know, so its strength is not judged.",
            evidence=evidence,
            **fields,
        )
    if strong:
        return META.finding(
            Status.PASS, f"The {name} used by {serving} has an {cert.key_algorithm} key.", evidence=evidence, **fields
        )
    return META.finding(
        Status.FAIL,
        f"The {name} used by {serving} has an {cert.key_algorithm} key, weaker than RSA 2048 or ECDSA P-256.",
        severity=_severity(uses),
        remediation=_remediation(cert, uses),
        evidence=evidence,
        **fields,
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    served = served_certificates(graph)

    def judge_listener(listener: UnreadListener) -> Iterator[Finding]:
        yield unread_listener(META, listener)

    yield from guarded(META, graph, served.unread, judge_listener, describe=unread_listener_fields)
    certs = {c.arn: c for c in graph.inventory.aws.certificates}
    uses = served.uses

    def judge(arn: str) -> Iterator[Finding]:
        yield _judge_one(graph, arn, certs.get(arn), uses[arn])

    def describe(arn: str) -> dict[str, Any]:
        return certificate_fields(arn, certs.get(arn), uses[arn])

    yield from guarded(META, graph, uses, judge, describe=describe)


RULE = Rule(META, evaluate)
