"""certificate-host-mismatch: an Ingress host is not covered by any certificate on its ALB's HTTPS listeners.

Hosts of an ALB with no HTTPS listener at all are not judged here: they are served over plain HTTP,
which ``http-without-redirect`` reports. An Ingress is checked on the HTTPS listeners of its own
``listen-ports``; when none of them exists on the ALB, on every HTTPS listener of the ALB.

A Gateway's hosts are its listeners' ``hostname`` and its attached routes' ``hostnames``, checked on the
HTTPS (ALB) or TLS (NLB) listeners of its load balancer at the ports of the Gateway listeners they use
(https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.Listener).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB
from auditor.correlate.graph import ExposureGraph, GatewayExposure, IngressGroup, LbNode
from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import Certificate, Ingress, Listener
from auditor.rules._gateway import listener_configuration_fix
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
        "certificates from the Ingress hosts. Gateway: add its ARN to the listener's entry in spec."
        "listenerConfigurations (defaultCertificate / certificates) of the Gateway's LoadBalancerConfiguration. "
        "Request one with aws acm request-certificate --domain-name <host> --validation-method DNS if none exists."
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
        Facet.KUBE_GATEWAY_CLASSES,
        Facet.KUBE_GATEWAYS,
        Facet.KUBE_HTTP_ROUTES,
        Facet.KUBE_GRPC_ROUTES,
        Facet.KUBE_TLS_ROUTES,
    ),
    enrich=(Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS,),
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


_TLS_LISTENER = {"application": "HTTPS", "network": "TLS"}


def _gateway_hosts(gwx: GatewayExposure, tls: list[Listener]) -> list[tuple[KubeRef, str, list[Listener]]]:
    """(who names the host, host, the load balancer listeners it is served on) of a Gateway: each listener's
    hostname on its own port, each route hostname on the ports of the Gateway listeners it attaches to."""
    gw = gwx.gateway
    by_port = {li.port: li for li in tls}
    secure = [li for li in gw.listeners if li.protocol.upper() in ("HTTPS", "TLS")]
    found: list[tuple[KubeRef, str, list[Listener]]] = []
    for li in secure:
        if li.hostname and li.port in by_port:
            found.append((gwx.ref, li.hostname.lower(), [by_port[li.port]]))
    for route in gwx.routes:
        if route.kind not in ("HTTPRoute", "GRPCRoute", "TLSRoute") or not route.hostnames:
            continue
        sections = {p.section_name for p in route.parent_refs if p.name == gw.name}
        ports = {li.port for li in secure if None in sections or li.name in sections}
        listeners = [by_port[p] for p in sorted(ports) if p in by_port] or tls
        ref = KubeRef(kind=route.kind, namespace=route.namespace, name=route.name)
        found.extend((ref, host.lower(), listeners) for host in dict.fromkeys(route.hostnames))
    return found


def _gateway_remediation(gwx: GatewayExposure, listener: Listener, host: str) -> str:
    current = listener.certificate_arns or []
    wanted = ", ".join([*current, f"<ACM certificate ARN for {host}>"])
    request = f"aws acm request-certificate --domain-name {host} --validation-method DNS"
    return f"Get a certificate covering {host} ({request}) and put it on the listener: " + listener_configuration_fix(
        gwx, listener.protocol, listener.port, f"certificates: [{wanted}]"
    )


def _evaluate_gateways(graph: ExposureGraph, in_scope: set[str]) -> Iterator[Finding]:
    nodes = [
        (gwx, node)
        for gwx in graph.gateways
        if gwx.managed
        for node in gwx.load_balancers
        if node.arn in in_scope and not node.orphan
    ]

    def judge(item: tuple[GatewayExposure, LbNode]) -> Iterator[Finding]:
        gwx, node = item
        listeners = node.lb.listeners
        tls = [li for li in listeners or [] if li.protocol.upper() == _TLS_LISTENER.get(node.lb.type)]
        if listeners is not None and not tls:
            return  # nothing terminates TLS on the load balancer: http-without-redirect's finding
        base: dict[str, Any] = {
            "resource_arn": node.arn,
            "resource_name": node.lb.name,
            "account": node.lb.account,
            "region": node.lb.region,
        }
        if listeners is None:
            yield META.finding(
                Status.UNKNOWN,
                f"The listeners of {describe_lb(node)} were not collected, so whether certificates cover the hosts "
                f"of {gwx.ref} is unknown.",
                kubernetes=gwx.ref,
                discriminator=f"{gwx.ref}",
                **base,
            )
            return
        for ref, host, on in _gateway_hosts(gwx, tls):
            status, evidence = _judge_host(node, host, on)
            remediation: str | None = None
            if status == Status.FAIL:
                ports = ", ".join(map(str, evidence["uncovered_ports"]))
                message = (
                    f"Host {host} of {ref} is not covered by any certificate on {on[0].protocol} listener {ports} of "
                    f"{describe_lb(node)}."
                )
                first = next(li for li in on if li.port in evidence["uncovered_ports"])
                remediation = _gateway_remediation(gwx, first, host)
            elif status == Status.UNKNOWN:
                message = (
                    f"Whether host {host} of {ref} has a certificate is unknown: {'; '.join(evidence['missing'])}."
                )
            else:
                message = f"Host {host} of {ref} is covered by a certificate of {describe_lb(node)}."
            evidence["gateway"] = str(gwx.ref)
            yield META.finding(
                status,
                message,
                remediation=remediation,
                evidence=evidence,
                kubernetes=ref,
                discriminator=f"{ref}:{host}",
                **base,
            )

    yield from guarded(META, graph, nodes, judge, describe=lambda item: lb_fields(item[1]))


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    in_scope = {n.arn for n in graph.in_scope()}
    yield from _evaluate_gateways(graph, in_scope)
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
