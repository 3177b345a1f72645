"""http-without-redirect: an internet-facing ALB or CLB serves plain HTTP instead of redirecting to HTTPS.

A load balancer in front of an in-cluster ingress-nginx controller passes HTTP on to it, and ingress-nginx decides per
Ingress (facts §14): each Ingress of its classes is judged — FAIL where the controller answers plain HTTP, in
ingress-nginx terms (``ssl-redirect`` / ``force-ssl-redirect`` annotations, ``spec.tls``, the ConfigMap default). Those
verdicts also rest on the Kubernetes facets that say which Ingresses the controller serves and its ConfigMap; where
one of them was not read completely the Ingress is UNKNOWN — they are the rule's ``partial_inputs``, named in those
findings' ``rests_on`` evidence, so a gap there (or an audit without the cluster) leaves the verdicts on ALBs and CLBs
standing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB, NGINX, SVC
from auditor.correlate.build import TAG_INGRESS_STACK, TAG_SERVICE_STACK
from auditor.correlate.graph import ExposureGraph, IngressControllerExposure, LbNode
from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.ingress_controllers import INGRESS_NGINX
from auditor.inventory.models import Action, Ingress, Listener, LoadBalancer, Route
from auditor.rules._helpers import (
    annotate_command,
    describe_lb,
    ingress_ref,
    lb_fields,
    lb_subject,
    owner_evidence,
    sentence,
)
from auditor.rules._ingress_controller import (
    CONTROLLER_FACETS,
    NGINX_CONFIGMAP_DOCS,
    NGINX_REDIRECT_DOCS,
    http_listener_ports,
    ingress_controller_of,
    redirect_of,
    unread,
)
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import RESTS_ON, guarded

META = RuleMeta(
    id="http-without-redirect",
    title="Public load balancer serves HTTP without redirecting to HTTPS",
    severity=Severity.HIGH,
    category="tls",
    rationale=(
        "Requests and cookies sent over plain HTTP can be read and changed by anyone on the path. An "
        "internet-facing ALB should answer HTTP only with a redirect to HTTPS; a Classic Load Balancer cannot "
        "redirect, so it should not listen for HTTP at all. Both load balancer types get the same severity: "
        "the cleartext exposure is the same whichever load balancer carries it. Behind an in-cluster ingress-nginx "
        "controller the load balancer passes HTTP on and the controller answers it, so each of its Ingresses is "
        "judged."
    ),
    remediation=(
        "Ingress: add an HTTPS port to alb.ingress.kubernetes.io/listen-ports and set "
        "alb.ingress.kubernetes.io/ssl-redirect to that port; the controller then makes the HTTP listener a "
        "single redirect. Classic (in-tree) Service: serve HTTPS with service.beta.kubernetes.io/"
        "aws-load-balancer-ssl-cert and aws-load-balancer-ssl-ports and drop port 80, or move the Service "
        "behind the ALB Ingress. Gateway: attach the content routes to the HTTPS listener only and give the HTTP "
        "listener an HTTPRoute whose rule has a RequestRedirect filter (scheme: https). ingress-nginx behind a load "
        "balancer: list the hosts under the Ingress's spec.tls (the controller then redirects them), or set "
        'nginx.ingress.kubernetes.io/force-ssl-redirect: "true" when TLS ends at the load balancer.'
    ),
    references=(
        "AWS Security Hub ELB.1: Application Load Balancer should be configured to redirect all HTTP requests to HTTPS",
        "AWS Config rule alb-http-to-https-redirection-check",
        "Prowler elbv2_ssl_listeners, elb_ssl_listeners",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#ssl-redirect",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html"
        "#redirect-actions",
        "https://kubernetes.io/docs/reference/labels-annotations-taints/#service-beta-kubernetes-io-aws-load-balancer-ssl-cert",
        "https://gateway-api.sigs.k8s.io/guides/http-redirect-rewrite/",
        NGINX_REDIRECT_DOCS,
        NGINX_CONFIGMAP_DOCS,
    ),
    inputs=(Facet.ELBV2_LOAD_BALANCERS, Facet.ELBV2_LISTENERS, Facet.ELBV2_LISTENER_RULES, Facet.ELB_LOAD_BALANCERS),
    enrich=(Facet.KUBE_INGRESSES, Facet.KUBE_SERVICES, Facet.KUBE_GATEWAYS, Facet.KUBE_HTTP_ROUTES),
    # only the verdicts on the Ingresses of an in-cluster ingress-nginx rest on the cluster (evidence['rests_on'])
    partial_inputs=CONTROLLER_FACETS,
    listener_rules_of=lambda lb, listener, _: _rules_decide(lb, listener),
)


def _rules_decide(lb: LoadBalancer, listener: Listener) -> bool:
    """Only the rules of an internet-facing ALB's HTTP listener whose default action redirects to HTTPS (or, on
    a Gateway's ALB, answers a fixed response) can change its verdict — a rule may still forward;
    ``_alb_listener`` judges every other listener without them. Whether the owner is a Gateway is known only
    after correlation (its stack tag, or its status address): any ALB without an Ingress or Service stack tag
    may be one."""
    tags = lb.tags or {}
    maybe_gateway = TAG_INGRESS_STACK not in tags and TAG_SERVICE_STACK not in tags
    return (
        lb.is_public
        and listener.protocol.upper() == "HTTP"
        and bool(listener.default_actions)
        and _all_redirect_to_https(listener.default_actions, gateway=maybe_gateway)
    )


@dataclass
class _Verdict:
    serving: list[dict[str, Any]] = field(default_factory=list)  # listeners answering HTTP with content
    unknown: list[str] = field(default_factory=list)  # why some listener could not be judged
    checked: list[int] = field(default_factory=list)  # HTTP listener ports that only redirect


def _all_redirect_to_https(actions: list[Action], *, gateway: bool = False) -> bool:
    """Every action redirects to HTTPS. On a Gateway's ALB a fixed response serves no content either: the
    controller makes it the default action of every Gateway listener (404, facts §10)."""
    for action in actions:
        if gateway and action.type == "fixed-response":
            continue
        if action.type != "redirect" or action.redirect is None or action.redirect.protocol != "HTTPS":
            return False
    return True


def _alb_listener(listener: Listener, verdict: _Verdict, *, gateway: bool = False) -> None:
    if listener.protocol.upper() != "HTTP":
        return
    if not listener.default_actions:
        verdict.unknown.append(f"the default action of HTTP listener {listener.port} was not collected")
        return
    if not _all_redirect_to_https(listener.default_actions, gateway=gateway):
        verdict.serving.append(
            {
                "port": listener.port,
                "protocol": listener.protocol,
                "default_action": [a.type for a in listener.default_actions],
            }
        )
        return
    if listener.rules is None:
        verdict.unknown.append(f"the rules of HTTP listener {listener.port} were not collected")
        return
    serving_rules = [r.priority for r in listener.rules if not _all_redirect_to_https(r.actions, gateway=gateway)]
    if serving_rules:
        verdict.serving.append(
            {
                "port": listener.port,
                "protocol": listener.protocol,
                "default_action": ["redirect"],
                "rules_not_redirecting": serving_rules,
            }
        )
        return
    verdict.checked.append(listener.port)


def _clb_listener(listener: Listener, verdict: _Verdict, *, gateway: bool = False) -> None:
    proto = listener.protocol.upper()
    if proto == "HTTP" or (proto == "TCP" and listener.port == 80):
        verdict.serving.append(
            {
                "port": listener.port,
                "protocol": listener.protocol,
                "instance_port": listener.instance_port,
                "instance_protocol": listener.instance_protocol,
            }
        )


def _ingress_fix(node: LbNode) -> str | None:
    group = node.owner.group if node.owner else None
    if group is None or not group.members:
        return None
    https_ports = [p for s in group.settings.values() for proto, p in s.listen_ports if proto == "HTTPS"]
    https = https_ports[0] if https_ports else 443
    redirect_set = any(s.ssl_redirect == https for s in group.settings.values())
    commands: list[str] = []
    for i, ing in enumerate(group.members):
        settings = group.settings_of(ing)
        wanted: dict[str, str | None] = {}
        if ("HTTPS", https) not in settings.listen_ports:
            ports = [*settings.listen_ports, ("HTTPS", https)]
            wanted[ALB + "listen-ports"] = json.dumps([{proto: port} for proto, port in ports])
        if i == 0 and not redirect_set:
            wanted[ALB + "ssl-redirect"] = str(https)  # group-wide: one Ingress is enough
        if wanted:
            commands.append(annotate_command(ingress_ref(ing), wanted))
    if not commands:
        return (
            f"The Ingresses of {group.ref} already ask for HTTPS on {https} and {ALB}ssl-redirect, but the "
            "controller has not applied it: look for invalid annotations in the group and at the controller's "
            "logs; AWS-side edits would be reverted."
        )
    text = "Run " + " && ".join(commands) + "."
    has_cert = any(s.certificate_arns for s in group.settings.values()) or any(m.tls for m in group.members)
    if not has_cert:
        text += (
            f" The HTTPS listener needs a certificate: set {ALB}certificate-arn to an ACM certificate ARN, or list "
            "the hosts under spec.tls so the controller discovers a matching ACM certificate."
        )
    return text


def _redirects(route: Route) -> bool:
    return any(rule.redirect is not None and (rule.redirect.scheme or "").lower() == "https" for rule in route.rules)


def _gateway_fix(node: LbNode, ports: list[int]) -> str | None:
    """In Gateway terms: which HTTPRoutes serve the HTTP listener, and the redirect route to add."""
    gwx = node.owner.gateway if node.owner else None
    if gwx is None:
        return None
    gw = gwx.gateway
    http = [li for li in gw.listeners if li.protocol.upper() == "HTTP" and (not ports or li.port in ports)]
    https = next((li for li in gw.listeners if li.protocol.upper() == "HTTPS"), None)
    names = {li.name for li in http}
    serving = [
        str(KubeRef(kind=r.kind, namespace=r.namespace, name=r.name))
        for r in gwx.routes
        if r.kind == "HTTPRoute"
        and not _redirects(r)
        and any(p.name == gw.name and (p.section_name is None or p.section_name in names) for p in r.parent_refs)
    ]
    listener = next(iter(sorted(names)), "http")
    text = f"{gwx.ref}: its HTTP listener {', '.join(sorted(names)) or listener} serves content"
    text += f" through {', '.join(serving)}." if serving else "."
    if serving:
        text += (
            f" Attach those routes to the HTTPS listener only (spec.parentRefs[].sectionName: "
            f"{https.name if https else '<https listener>'}) and"
        )
    else:
        text += " Make"
    text += (
        f" the HTTP listener answer with a redirect: an HTTPRoute in {gw.namespace} with parentRefs "
        f"[{{name: {gw.name}, sectionName: {listener}}}] and one rule whose filters are "
        "[{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]."
    )
    if https is None:
        text += (
            " The Gateway has no HTTPS listener yet: add one (protocol: HTTPS, port: 443) and give it a certificate "
            "in its LoadBalancerConfiguration (spec.listenerConfigurations[].defaultCertificate for HTTPS:443)."
        )
    return text


def _remediation(node: LbNode, ports: list[int]) -> str:
    lb = node.lb
    if lb.type == "application":
        fix = _gateway_fix(node, ports) or _ingress_fix(node)
        if fix:
            return fix
        return (
            "Not managed by Kubernetes: make every HTTP listener redirect, e.g. aws elbv2 modify-listener "
            "--listener-arn <HTTP listener ARN> --default-actions "
            "'Type=redirect,RedirectConfig={Protocol=HTTPS,Port=443,StatusCode=HTTP_301}', and delete its "
            "forwarding rules."
        )
    if node.owner is not None and node.owner.kind == "Service":
        ssl = annotate_command(
            node.owner.ref,
            {SVC + "aws-load-balancer-ssl-cert": "<ACM certificate ARN>", SVC + "aws-load-balancer-ssl-ports": "443"},
        )
        return (
            f"Serve HTTPS and stop serving HTTP: {ssl}, then change the Service port 80 to 443 in spec.ports "
            f"(kubectl -n {node.owner.namespace} edit service {node.owner.name}); or make the Service ClusterIP and "
            f"route it through the ALB Ingress with {ALB}ssl-redirect."
        )
    return (
        f"Not managed by Kubernetes: add an HTTPS listener and remove the HTTP one, e.g. aws elb "
        f"delete-load-balancer-listeners --load-balancer-name {lb.name} --load-balancer-ports 80."
    )


def _nginx_fix(icx: IngressControllerExposure, ing: Ingress, node: LbNode, plain: tuple[str, ...]) -> str:
    """The fix in ingress-nginx terms: TLS for the plain hosts (the controller then redirects them by default), or
    force-ssl-redirect where TLS ends at the load balancer; the ConfigMap key for every Ingress at once."""
    ref = icx.ref_of(ing)
    settings = icx.settings_of(ing)
    tls_at_lb = any(li.protocol.upper() in ("TLS", "HTTPS", "SSL") for li in node.lb.listeners or [])
    steps: list[str] = []
    if settings.ssl_redirect is False:
        steps.append(f"remove the opt-out: {annotate_command(ref, {NGINX + 'ssl-redirect': None})}")
    if tls_at_lb:
        steps.append(
            f"TLS ends at {node.lb.name}, so make the controller redirect requests that arrived as HTTP: "
            + annotate_command(ref, {NGINX + "force-ssl-redirect": "true"})
        )
    else:
        hosts = ", ".join(h for h in plain if h != "*") or "<host>"
        steps.append(
            f"list {hosts} under spec.tls of {ref} with a certificate Secret (e.g. issued by cert-manager): "
            f"kubectl -n {ing.namespace} edit ingress {ing.name}; ingress-nginx then answers HTTP with a 308 to HTTPS"
        )
    config = icx.workload.config_map if icx.workload is not None else None
    where = f"ConfigMap {config}" if config else "the controller's ConfigMap (--configmap)"
    steps.append(f"or for every Ingress of the controller at once set ssl-redirect / force-ssl-redirect in {where}")
    return sentence("; ".join(steps)) + "."


def _nginx_findings(graph: ExposureGraph, node: LbNode, icx: IngressControllerExposure) -> Iterator[Finding]:
    """One finding per Ingress an ingress-nginx controller serves through this internet-facing load balancer."""
    fields = lb_fields(node)
    # every verdict here rests on the cluster too: which load balancer fronts ingress-nginx, and its Ingresses
    base = owner_evidence(
        node,
        ingress_controller=str(icx.ref),
        ingress_classes=icx.class_names,
        **{RESTS_ON: [f.value for f in CONTROLLER_FACETS]},
    )
    ports = http_listener_ports(node)
    if ports is None:
        yield META.finding(
            Status.UNKNOWN,
            f"The listeners of {describe_lb(node)} were not collected, so whether it passes HTTP to ingress-nginx is "
            "unknown.",
            evidence=base,
            **fields,
        )
        return
    if not ports or not icx.ingresses:
        why = "passes no plain HTTP to the controller" if not ports else "carries no Ingress of the controller's class"
        yield META.finding(Status.PASS, f"{lb_subject(node)} {why}.", evidence=base, **fields)
        return
    gaps = unread(graph)
    for ing in icx.ingresses:
        ref = icx.ref_of(ing)
        own = {**fields, "kubernetes": ref, "discriminator": str(ref)}
        verdict = redirect_of(icx, ing)
        evidence = {
            **base,
            "http_ports": ports,
            "tls_hosts": [h for t in ing.tls for h in t.hosts],
            "annotations": {k: v for k, v in ing.annotations.items() if k in _NGINX_REDIRECT_KEYS},
        }
        if verdict is None or verdict.redirects is None or gaps:
            evidence["missing"] = gaps or [verdict.why if verdict else "not ingress-nginx"]
            yield META.finding(
                Status.UNKNOWN,
                f"Whether ingress-nginx redirects HTTP for {ref} on {describe_lb(node)} is unknown: "
                f"{'; '.join(evidence['missing'])}.",
                evidence=evidence,
                **own,
            )
        elif verdict.redirects:
            yield META.finding(
                Status.PASS,
                f"ingress-nginx redirects HTTP to HTTPS for {ref} on {describe_lb(node)} ({verdict.why}).",
                evidence=evidence,
                **own,
            )
        else:
            evidence["plain_hosts"] = list(verdict.plain_hosts)
            hosts = ", ".join(h if h != "*" else "any host" for h in verdict.plain_hosts)
            yield META.finding(
                Status.FAIL,
                f"{sentence(str(ref))} is served as plain HTTP on port {', '.join(map(str, ports))} of "
                f"{describe_lb(node)} for {hosts}: {verdict.why}.",
                remediation=_nginx_fix(icx, ing, node, verdict.plain_hosts),
                evidence=evidence,
                **own,
            )


_NGINX_REDIRECT_KEYS = (NGINX + "ssl-redirect", NGINX + "force-ssl-redirect")


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    def judge(node: LbNode) -> Iterator[Finding]:
        lb = node.lb
        icx = ingress_controller_of(node)
        if icx is not None and icx.implementation == INGRESS_NGINX.name:
            if lb.is_public:  # ingress-nginx answers HTTP itself, whatever the load balancer type
                yield from _nginx_findings(graph, node, icx)
            return
        if not lb.is_public or lb.type not in ("application", "classic"):
            return
        fields = lb_fields(node)
        evidence = owner_evidence(node)
        if lb.listeners is None:
            yield META.finding(
                Status.UNKNOWN,
                f"The listeners of {describe_lb(node)} were not collected, so its HTTP handling is unknown.",
                evidence=evidence,
                **fields,
            )
            return
        verdict = _Verdict()
        judge_listener = _alb_listener if lb.type == "application" else _clb_listener
        gateway = node.owner is not None and node.owner.gateway is not None
        for listener in lb.listeners:
            judge_listener(listener, verdict, gateway=gateway)
        if node.owner is not None and node.owner.group is not None:
            redirects = {
                f"{m.namespace}/{m.name}": m.annotations[ALB + "ssl-redirect"]
                for m in node.owner.group.members
                if ALB + "ssl-redirect" in m.annotations
            }
            evidence["ssl_redirect_annotations"] = redirects
        if verdict.serving:
            ports = ", ".join(str(s["port"]) for s in verdict.serving)
            how = "without redirecting to HTTPS" if lb.type == "application" else "(a CLB cannot redirect)"
            evidence["http_listeners"] = verdict.serving
            yield META.finding(
                Status.FAIL,
                f"{lb_subject(node)} serves plain HTTP on port {ports} {how}.",
                remediation=_remediation(node, [s["port"] for s in verdict.serving]),
                evidence=evidence,
                **fields,
            )
        elif verdict.unknown:
            evidence["missing"] = verdict.unknown
            yield META.finding(
                Status.UNKNOWN,
                f"HTTP handling of {describe_lb(node)} is unknown: {'; '.join(verdict.unknown)}.",
                evidence=evidence,
                **fields,
            )
        else:
            answer = "with a redirect to HTTPS or a fixed response" if gateway else "to HTTPS"
            verb = "answers" if gateway else "redirects"
            what = (
                f"{verb} every HTTP request on port {', '.join(map(str, verdict.checked))} {answer}"
                if verdict.checked
                else "has no plain-HTTP listener"
            )
            evidence["redirecting_http_ports"] = verdict.checked
            yield META.finding(
                Status.PASS,
                f"{lb_subject(node)} {what}.",
                evidence=evidence,
                **fields,
            )

    yield from guarded(META, graph, graph.in_scope(), judge, describe=lb_fields)


RULE = Rule(META, evaluate)
