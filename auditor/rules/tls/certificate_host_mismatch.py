"""certificate-host-mismatch: an Ingress host is not covered by any certificate on its ALB's HTTPS listeners.

Hosts of an ALB with no HTTPS listener at all are not judged here: they are served over plain HTTP,
which ``http-without-redirect`` reports. An Ingress is checked on the HTTPS listeners of its own
``listen-ports``; when none of them exists on the ALB, on every HTTPS listener of the ALB.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB
from auditor.correlate.graph import ExposureGraph, IngressGroup, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import Certificate, Ingress, Listener
from auditor.rules._helpers import annotate_command, describe_lb, ingress_ref, lb_fields
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded

CERT_ANNOTATION = ALB + "certificate-arn"

META = RuleMeta(
    id="certificate-host-mismatch",
    title="Ingress host not covered by the ALB's certificates",
    severity=Severity.HIGH,
    category="tls",
    rationale=(
        "The ALB presents a certificate chosen by SNI among its listener certificates. A host that no "
        "certificate names (exactly, or through a wildcard covering one label) gets the default certificate, "
        "and browsers and API clients reject the connection."
    ),
    remediation=(
        "Attach an ACM certificate covering the host: add its ARN to alb.ingress.kubernetes.io/certificate-arn "
        "(comma-separated, keep the existing ones), or drop the annotation and let the controller discover "
        "certificates from the Ingress hosts. Request one with aws acm request-certificate --domain-name <host> "
        "--validation-method DNS if none exists."
    ),
    references=(
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/cert_discovery/",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#certificate-arn",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/https-listener-certificates.html",
        "RFC 6125 section 6.4.3 (wildcard matches exactly one left-most label)",
    ),
    inputs=(
        Facet.ELBV2_LOAD_BALANCERS,
        Facet.ELBV2_LISTENERS,
        Facet.ELBV2_LISTENER_CERTIFICATES,
        Facet.ACM_CERTIFICATES,
        Facet.ACM_CERTIFICATE_DETAILS,
        Facet.KUBE_INGRESSES,
        Facet.KUBE_INGRESS_CLASSES,
    ),
)


def host_covered(host: str, name: str) -> bool:
    """Whether a certificate name covers a host: equal (case-insensitive) or a wildcard for one label."""
    host, name = host.lower().rstrip("."), name.lower().rstrip(".")
    if host == name:
        return True
    if name.startswith("*."):
        suffix = name[1:]
        label = host[: -len(suffix)] if host.endswith(suffix) else ""
        return bool(label) and "." not in label and label != "*"
    return False


def _hosts(ing: Ingress) -> list[str]:
    found = [r.host for r in ing.rules if r.host] + [h for t in ing.tls for h in t.hosts if h]
    return list(dict.fromkeys(h.lower() for h in found))


def _listeners_of(group: IngressGroup, ing: Ingress, https: list[Listener]) -> list[Listener]:
    ports = {port for proto, port in group.settings_of(ing).listen_ports if proto == "HTTPS"}
    return [li for li in https if li.port in ports] or https


def _covering(host: str, certs: list[tuple[str, Certificate | None]]) -> Certificate | None:
    """The first known certificate with a name covering the host."""
    for _, cert in certs:
        if cert is not None:
            for name in cert.names:
                if host_covered(host, name):
                    return cert
    return None


def _judge_host(node: LbNode, host: str, listeners: list[Listener]) -> tuple[Status, dict[str, Any]]:
    """PASS when a known certificate covers the host on every listener; FAIL when one listener has none."""
    uncovered: list[int] = []
    unknown: list[str] = []
    covering: dict[str, str] = {}
    for li in listeners:
        if li.certificate_arns is None:
            unknown.append(f"the certificates of listener {li.port} were not collected")
            continue
        certs = [(arn, node.certificates.get(arn)) for arn in li.certificate_arns]
        match = _covering(host, certs)
        if match is not None:
            covering[str(li.port)] = match.arn
            continue
        missing = [arn for arn, c in certs if c is None]
        if missing:
            unknown.append(f"certificate {', '.join(missing)} on listener {li.port} was not collected")
        else:
            uncovered.append(li.port)
    evidence: dict[str, Any] = {
        "host": host,
        "listeners": [li.port for li in listeners],
        "certificate_names": {
            str(li.port): {arn: (c.names if (c := node.certificates.get(arn)) else None) for arn in li.certificate_arns}
            for li in listeners
            if li.certificate_arns is not None
        },
        "covered_by": covering,
    }
    if uncovered:
        evidence["uncovered_ports"] = uncovered
        return Status.FAIL, evidence
    if unknown:
        evidence["missing"] = unknown
        return Status.UNKNOWN, evidence
    return Status.PASS, evidence


def _remediation(group: IngressGroup, ing: Ingress, host: str) -> str:
    current = group.settings_of(ing).certificate_arns
    ref = ingress_ref(ing)
    request = f"aws acm request-certificate --domain-name {host} --validation-method DNS"
    if current:
        command = annotate_command(ref, {CERT_ANNOTATION: ",".join([*current, f"<ACM certificate ARN for {host}>"])})
        return f"Get a certificate covering {host} ({request}) and add it to the Ingress: {command}."
    return (
        f"Get an ACM certificate covering {host} ({request}); with no {CERT_ANNOTATION} annotation the controller "
        f"discovers it from the Ingress hosts, or name it explicitly: "
        f"{annotate_command(ref, {CERT_ANNOTATION: f'<ACM certificate ARN for {host}>'})}."
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    in_scope = {n.arn for n in graph.in_scope()}
    # one object per ALB of an IngressGroup
    albs = [(group, node) for group in graph.ingress_groups for node in group.load_balancers if node.arn in in_scope]

    def judge(alb: tuple[IngressGroup, LbNode]) -> Iterator[Finding]:
        group, node = alb
        listeners = node.lb.listeners
        https = [li for li in listeners or [] if li.protocol.upper() == "HTTPS"]
        if listeners is not None and not https:
            return  # plain HTTP only: http-without-redirect's finding
        for ing in group.members:
            ref = group.ref_of(ing)
            fields: dict[str, Any] = {
                "resource_arn": node.arn,
                "resource_name": node.lb.name,
                "account": node.lb.account,
                "region": node.lb.region,
                "kubernetes": ref,
            }
            for host in _hosts(ing):
                if listeners is None:
                    yield META.finding(
                        Status.UNKNOWN,
                        f"The listeners of {describe_lb(node)} were not collected, so whether a certificate "
                        f"covers host {host} of {ref} is unknown.",
                        evidence={"host": host},
                        discriminator=host,
                        **fields,
                    )
                    continue
                status, evidence = _judge_host(node, host, _listeners_of(group, ing, https))
                if status == Status.FAIL:
                    ports = ", ".join(map(str, evidence["uncovered_ports"]))
                    message = (
                        f"Host {host} of {ref} is not covered by any certificate on HTTPS listener {ports} "
                        f"of ALB {node.lb.name}."
                    )
                    remediation: str | None = _remediation(group, ing, host)
                elif status == Status.UNKNOWN:
                    missing = "; ".join(evidence["missing"])
                    message = f"Whether host {host} of {ref} has a certificate is unknown: {missing}."
                    remediation = None
                else:
                    message = f"Host {host} of {ref} is covered by a certificate of ALB {node.lb.name}."
                    remediation = None
                yield META.finding(
                    status, message, remediation=remediation, evidence=evidence, discriminator=host, **fields
                )

    yield from guarded(META, graph, albs, judge, describe=lambda alb: lb_fields(alb[1]))


RULE = Rule(META, evaluate)
