"""http-desync-unmitigated: an internet-facing ALB or Classic load balancer passes malformed HTTP requests on.

Opt-in (``RuleMeta.opt_in``): its attributes cost one DescribeLoadBalancerAttributes per load balancer, which a
full audit does not make; it runs when named (``--rules http-desync-unmitigated``, ``hardening`` or ``all``).

An ALB's verdict reads two attributes, a Classic load balancer's one; an attribute the answer lacks is not taken
at its documented default: that part is UNKNOWN (a FAIL on the other part still stands)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB, load_balancer_attributes
from auditor.correlate.graph import ExposureGraph, GatewayExposure, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet, attributes_scope
from auditor.inventory.models import LoadBalancer
from auditor.rules._gateway import gateway_of, lb_configuration_fix
from auditor.rules._helpers import (
    annotate_commands,
    describe_lb,
    ingress_members,
    ingress_ref,
    lb_fields,
    lb_subject,
    owner_evidence,
    shell_quote,
)
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded

DROP_INVALID_HEADERS = "routing.http.drop_invalid_header_fields.enabled"
ALB_DESYNC = "routing.http.desync_mitigation_mode"
CLASSIC_DESYNC = "elb.http.desyncmitigationmode"
# the modes that block the requests RFC 7230 calls ambiguous or severe (monitor only logs them)
SAFE_MODES = frozenset({"defensive", "strictest"})
LB_ATTRIBUTES_ANNOTATION = ALB + "load-balancer-attributes"
# what a fixed load balancer sets
WANTED = {DROP_INVALID_HEADERS: "true", ALB_DESYNC: "defensive"}

META = RuleMeta(
    id="http-desync-unmitigated",
    title="Internet-facing load balancer passes malformed HTTP requests to its targets",
    severity=Severity.MEDIUM,
    category="hardening",
    rationale=(
        "HTTP desync (request smuggling) uses requests that the load balancer and the backend parse differently, "
        "e.g. two Content-Length headers or a malformed Transfer-Encoding, to slip a second request past the load "
        "balancer's rules and WAF or into another client's connection. ALBs and Classic load balancers guard "
        "against it with desync mitigation: 'defensive' (the default) or 'strictest' block ambiguous requests, "
        "'monitor' only logs them. An ALB also forwards header fields that are not valid HTTP header names unless "
        "routing.http.drop_invalid_header_fields.enabled is true. Opt-in: reading the attributes costs one call per "
        "load balancer."
    ),
    remediation=(
        f"Ingress: {LB_ATTRIBUTES_ANNOTATION}: {DROP_INVALID_HEADERS}=true,{ALB_DESYNC}=defensive on one Ingress of "
        "the group (or spec.loadBalancerAttributes of its IngressClassParams, which takes precedence). Gateway: "
        "spec.loadBalancerAttributes of its LoadBalancerConfiguration. Classic or unmanaged: aws elb / aws elbv2 "
        "modify-load-balancer-attributes."
    ),
    references=(
        "AWS Security Hub ELB.4: Application Load Balancer should be configured to drop invalid http headers",
        "AWS Security Hub ELB.12: Application Load Balancer should be configured with defensive or strictest desync "
        "mitigation mode",
        "AWS Security Hub ELB.14: Classic Load Balancer should be configured with defensive or strictest desync "
        "mitigation mode",
        "Prowler elbv2_desync_mitigation_mode, elbv2_alb_drop_invalid_header_fields_enabled",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html"
        "#desync-mitigation-mode",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/config-desync-mitigation-mode.html",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/"
        "#load-balancer-attributes",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/gateway/loadbalancerconfig/",
    ),
    inputs=(
        Facet.ELBV2_LOAD_BALANCERS,
        Facet.ELBV2_ATTRIBUTES,
        Facet.ELB_LOAD_BALANCERS,
        Facet.ELB_ATTRIBUTES,
    ),
    enrich=(
        Facet.KUBE_INGRESSES,
        Facet.KUBE_INGRESS_CLASS_PARAMS,
        Facet.KUBE_SERVICES,
        Facet.KUBE_GATEWAYS,
        Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS,
    ),
    opt_in=True,
)


@dataclass
class _Verdict:
    wrong: dict[str, str | None] = field(default_factory=dict)  # attribute -> value found (None: not set)
    unread: list[str] = field(default_factory=list)  # attributes the answer lacks


def _verdict(lb: LoadBalancer, attributes: dict[str, str]) -> _Verdict:
    verdict = _Verdict()
    if lb.type == "application":
        drop = attributes.get(DROP_INVALID_HEADERS)
        if drop is None:
            verdict.unread.append(DROP_INVALID_HEADERS)
        elif drop.strip().lower() != "true":
            verdict.wrong[DROP_INVALID_HEADERS] = drop
    desync_key = ALB_DESYNC if lb.type == "application" else CLASSIC_DESYNC
    mode = attributes.get(desync_key)
    if mode is None:
        verdict.unread.append(desync_key)
    elif mode.strip().lower() not in SAFE_MODES:
        verdict.wrong[desync_key] = mode
    return verdict


def _entries(spec: dict[str, Any]) -> dict[str, str]:
    """``spec.loadBalancerAttributes`` ([{key, value}], IngressClassParams and LoadBalancerConfiguration) as a dict."""
    raw = spec.get("loadBalancerAttributes")
    items = raw if isinstance(raw, list) else []
    return {str(e["key"]): str(e.get("value", "")) for e in items if isinstance(e, dict) and e.get("key")}


def _entries_text(entries: dict[str, str]) -> str:
    return "[" + ", ".join(f'{{key: {k}, value: "{v}"}}' for k, v in entries.items()) + "]"


def _class_params_fix(graph: ExposureGraph, node: LbNode, wanted: dict[str, str]) -> str | None:
    """The IngressClassParams of the group's class when they set one of these attributes: their
    ``spec.loadBalancerAttributes`` override the annotation, so the fix is there (the other entries kept)."""
    group = node.owner.group if node.owner else None
    names = {group.settings_of(m).class_params for m in group.members} if group else set()
    kube = graph.inventory.kubernetes
    for params in (kube.ingress_class_params or []) if kube else []:
        entries = _entries(params.spec)
        if params.name in names and any(k in entries for k in wanted):
            merged = {**entries, **wanted}
            return (
                f"IngressClassParams {params.name} sets these attributes, which override the Ingresses' "
                f"{LB_ATTRIBUTES_ANNOTATION}: set spec.loadBalancerAttributes: {_entries_text(merged)} "
                f"(kubectl edit ingressclassparams {params.name}); every Ingress of its class gets them."
            )
    return None


def _gateway_fix(gwx: GatewayExposure, wanted: dict[str, str]) -> str:
    """spec.loadBalancerAttributes of the LoadBalancerConfiguration in force, its other entries kept; the GatewayClass's
    when it sets these attributes and the controller prefers its values (the default ``mergingMode``)."""
    configuration = gwx.configuration
    of_class = gwx.class_configuration
    if (
        of_class is not None
        and of_class.spec.get("mergingMode") != "prefer-gateway"
        and any(k in _entries(of_class.spec) for k in wanted)
    ):
        configuration = of_class
    entries = {**_entries(configuration.spec if configuration is not None else {}), **wanted}
    return lb_configuration_fix(
        dataclasses.replace(gwx, configuration=configuration), f"loadBalancerAttributes: {_entries_text(entries)}"
    )


def _ingress_fix(graph: ExposureGraph, node: LbNode, wanted: dict[str, str]) -> str | None:
    """The annotation on the group's Ingresses: each one that already sets one of these attributes gets the good
    value (members must not disagree), else the first; the other attributes of each annotation are kept. Where the
    IngressClassParams were not read, the fix says they would take precedence."""
    members = ingress_members(node)
    if not members:
        return None
    own = [(m, load_balancer_attributes(m.annotations.get(LB_ATTRIBUTES_ANNOTATION, ""))) for m in members]
    setting = [(m, pairs) for m, pairs in own if any(k in pairs for k in wanted)]
    commands = []
    for ing, pairs in setting or own[:1]:
        value = ",".join(f"{k}={v}" for k, v in {**pairs, **wanted}.items())
        commands.extend(annotate_commands([ingress_ref(ing)], {LB_ATTRIBUTES_ANNOTATION: value}))
    text = f"Run {' && '.join(commands)}."
    if _class_params_unread(graph):
        text += (
            " If the IngressClassParams of the Ingresses' class set spec.loadBalancerAttributes (they were not read), "
            "set these keys there instead: they take precedence over the annotation."
        )
    return text


def _class_params_unread(graph: ExposureGraph) -> bool:
    """Whether which IngressClassParams apply, and what they set, may be unknown: not read, or the IngressClasses
    (which name them) or the params listed only in part."""
    kube = graph.inventory.kubernetes
    if kube is None or kube.ingress_class_params is None:
        return True
    coverage = graph.inventory.coverage_of("kubernetes")
    return coverage is not None and any(
        coverage.facet(facet).status.incomplete
        for facet in (Facet.KUBE_INGRESS_CLASSES, Facet.KUBE_INGRESS_CLASS_PARAMS)
    )


def _remediation(graph: ExposureGraph, node: LbNode, wrong: dict[str, str | None]) -> str:
    lb = node.lb
    if lb.type == "classic":
        attrs = '{"AdditionalAttributes":[{"Key":"' + CLASSIC_DESYNC + '","Value":"defensive"}]}'
        return (
            f"aws elb modify-load-balancer-attributes --region {lb.region} --load-balancer-name {lb.name} "
            f"--load-balancer-attributes {shell_quote(attrs)} (the in-tree provider does not manage this attribute)."
        )
    wanted = {k: WANTED[k] for k in wrong if k in WANTED}
    gwx = gateway_of(node)
    if gwx is not None:
        return _gateway_fix(gwx, wanted)
    fix = _class_params_fix(graph, node, wanted) or _ingress_fix(graph, node, wanted)
    if fix is not None:
        return fix
    pairs = " ".join(f"Key={k},Value={v}" for k, v in wanted.items())
    return (
        f"Not managed by Kubernetes: aws elbv2 modify-load-balancer-attributes --region {lb.region} "
        f"--load-balancer-arn {lb.arn} --attributes {pairs}."
    )


def _said(wrong: dict[str, str | None]) -> str:
    return ", ".join(f"{k} is {v!r}" for k, v in wrong.items())


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    def judge(node: LbNode) -> Iterator[Finding]:
        lb = node.lb
        if not attributes_scope(lb):  # the load balancers whose attributes are read
            return
        fields = lb_fields(node)
        evidence = owner_evidence(node)
        if lb.attributes is None:
            yield META.finding(
                Status.UNKNOWN,
                f"The attributes of {describe_lb(node)} were not read, so whether it passes malformed HTTP requests "
                "on is unknown.",
                evidence=evidence,
                **fields,
            )
            return
        verdict = _verdict(lb, lb.attributes)
        evidence["attributes"] = {
            k: lb.attributes.get(k) for k in (DROP_INVALID_HEADERS, ALB_DESYNC, CLASSIC_DESYNC) if k in lb.attributes
        }
        if verdict.wrong:
            if verdict.unread:
                evidence["missing"] = verdict.unread
            yield META.finding(
                Status.FAIL,
                f"{lb_subject(node)} passes malformed HTTP requests to its targets: {_said(verdict.wrong)}.",
                remediation=_remediation(graph, node, verdict.wrong),
                evidence=evidence,
                **fields,
            )
        elif verdict.unread:
            evidence["missing"] = verdict.unread
            yield META.finding(
                Status.UNKNOWN,
                f"AWS did not return {', '.join(verdict.unread)} for {describe_lb(node)}, so whether it passes "
                "malformed HTTP requests on is unknown.",
                evidence=evidence,
                **fields,
            )
        else:
            what = "drops invalid header fields and blocks" if lb.type == "application" else "blocks"
            yield META.finding(
                Status.PASS,
                f"{lb_subject(node)} {what} ambiguous requests (desync mitigation "
                f"{lb.attributes.get(ALB_DESYNC if lb.type == 'application' else CLASSIC_DESYNC)}).",
                evidence=evidence,
                **fields,
            )

    yield from guarded(META, graph, graph.in_scope(), judge, describe=lb_fields)


RULE = Rule(META, evaluate)
