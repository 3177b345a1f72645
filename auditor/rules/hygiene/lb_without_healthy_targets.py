"""lb-without-healthy-targets: a load balancer with no healthy target (CLB: no InService instance), and why.

The Kubernetes side explains most cases: the target group's Service (TargetGroupBinding or controller
tags) does not exist, its selector matches no ready pod, an enforced NetworkPolicy drops the load balancer's
traffic to the pods of ip or instance targets (auditor.rules._netpol), or pods are ready and the health check fails.
Orphaned load balancers are reported as well: they cost money while serving nothing (the ownership rules
say whose they were). A load balancer whose every listener only redirects or answers fixed responses
needs no targets and passes. Only ``healthy`` counts (a target group with health checks disabled reports
``unavailable``; such load balancers show up here and say so in the evidence). A target group the collector
found healthy through CloudWatch's HealthyHostCount (``TargetGroup.healthy_count``, no DescribeTargetHealth)
counts as that many healthy targets, and the evidence says so and of which minute; the groups without a healthy
target were always described, so a FAIL still names their states and reasons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate import target_group_backend
from auditor.correlate.annotations import ALB, SVC
from auditor.correlate.graph import BackendRef, ExposureGraph, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import LoadBalancer, Service, TargetGroup, TargetHealth
from auditor.rules._helpers import describe_lb, lb_fields, lb_subject, owner_evidence, sentence
from auditor.rules._netpol import judge_target_group
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="lb-without-healthy-targets",
    title="Load balancer has no healthy targets",
    severity=Severity.MEDIUM,
    category="hygiene",
    rationale=(
        "A load balancer without a healthy target answers every request with an error (ALB 503, NLB resets) "
        "while still costing its hourly price. Usually the Service behind it selects no ready pod, was renamed, "
        "or the health check probes the wrong path or port."
    ),
    remediation=(
        "Make the backend Service select ready pods (kubectl get endpointslices -l kubernetes.io/service-name=<svc>), "
        "fix the health check (alb.ingress.kubernetes.io/healthcheck-path, service.beta.kubernetes.io/"
        "aws-load-balancer-healthcheck-path), or delete an unused exposure."
    ),
    references=(
        "AWS Trusted Advisor: Idle Load Balancers (no healthy backends)",
        "Steampipe/Powerpipe thrifty controls: load balancers without targets",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html",
        "https://repost.aws/knowledge-center/eks-resolve-failed-health-check-alb-nlb",
        "https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/#conditions",
    ),
    inputs=(
        Facet.ELBV2_LOAD_BALANCERS,
        Facet.ELBV2_LISTENERS,
        Facet.ELBV2_LISTENER_RULES,  # an ALB without target groups passes only if its rules need none
        Facet.ELBV2_TARGET_GROUPS,
        Facet.ELBV2_TARGET_HEALTH,
        Facet.ELB_LOAD_BALANCERS,
        Facet.ELB_INSTANCE_HEALTH,
    ),
    enrich=(
        Facet.KUBE_SERVICES,
        Facet.KUBE_INGRESSES,
        Facet.KUBE_ENDPOINT_SLICES,
        Facet.KUBE_TARGET_GROUP_BINDINGS,
        # the NetworkPolicy reason: the policies, the pods they select, the LB's subnets, the nodes (instance targets)
        Facet.KUBE_PODS,
        Facet.KUBE_NETWORK_POLICIES,
        Facet.KUBE_NETWORK_DAEMON_SETS,
        Facet.EC2_SUBNETS,
        Facet.EKS_ADDONS,
        Facet.KUBE_NODES,
    ),
    # the rules of a load balancer with target groups are never looked at (``_needs_no_targets`` is asked only
    # of one without): its verdict is its targets' health
    listener_rules_of=lambda lb, listener, has_target_groups: has_target_groups is not True,
)

NO_TARGETS_NEEDED = ("redirect", "fixed-response")


def _needs_no_targets(lb: LoadBalancer) -> bool | None:
    """True when every listener only redirects or answers fixed responses; None when rules are not known."""
    if not lb.listeners:
        return False if lb.listeners is not None else None
    actions = []
    for li in lb.listeners:
        actions += li.default_actions
        if li.rules is None and lb.type == "application":
            return None
        for r in li.rules or []:
            actions += r.actions
    return bool(actions) and all(a.type in NO_TARGETS_NEEDED for a in actions)


def _ready_endpoints(graph: ExposureGraph, svc: Service) -> int | None:
    slices = graph.endpoint_slices(svc.namespace or "", svc.name)
    if slices is None:
        return None
    # EndpointSlice: a nil "ready" condition is to be read as ready.
    return sum(1 for s in slices for e in s.endpoints if e.ready is not False)


Reason = tuple[
    str, str
]  # (kind, sentence): missing-service | no-selector | no-ready-pods | network-policy | health-check


def _service_reason(graph: ExposureGraph, namespace: str, name: str, health_path: str | None) -> Reason | None:
    """Why a Service has nothing healthy to offer, as far as the Kubernetes inventory shows; None if unknown."""
    if not graph.kube_collected:
        return None
    svc = graph.service(namespace, name)
    if svc is None:
        return "missing-service", f"Service {namespace}/{name} does not exist"
    if not svc.selector:
        return "no-selector", f"Service {namespace}/{name} has no selector (its endpoints are managed by hand)"
    ready = _ready_endpoints(graph, svc)
    if ready is None:
        return None
    selector = ",".join(f"{k}={v}" for k, v in sorted(svc.selector.items()))
    if ready == 0:
        return "no-ready-pods", f"selector {selector} of Service {namespace}/{name} matches no ready pods"
    probe = f" on {health_path}" if health_path else ""
    return (
        "health-check",
        f"Service {namespace}/{name} has {ready} ready pod endpoint(s), so the load balancer's health check"
        f"{probe} fails against them",
    )


def _states(targets: list[TargetHealth]) -> dict[str, int]:
    return dict(Counter(t.state for t in targets))


def _target_group_facts(graph: ExposureGraph, node: LbNode, tg: TargetGroup) -> tuple[dict[str, Any], Reason | None]:
    targets = tg.targets or []
    backend: BackendRef | None = target_group_backend(graph, tg)
    reason = _service_reason(graph, backend.namespace, backend.service, tg.health_check_path) if backend else None
    fix: str | None = None
    if reason is not None and reason[0] in ("health-check", "no-ready-pods"):
        # failing health checks (pods ready, or held unready by the controller's readiness gate): an enforced
        # NetworkPolicy dropping the load balancer's traffic is then the cause to name
        verdict = judge_target_group(graph, node, tg)
        if verdict is not None and verdict.outcome == "blocked":
            reason, fix = ("network-policy", verdict.detail), verdict.fix
    facts: dict[str, Any] = {
        "name": tg.name,
        "arn": tg.arn,
        "targets": len(targets),
        "states": _states(targets),
        "reasons": sorted({t.reason for t in targets if t.reason}),
        "health_check_path": tg.health_check_path,
        "backend": str(backend) if backend else None,
        "kubernetes_reason": reason[1] if reason else None,
    }
    if fix is not None:
        facts["network_policy_fix"] = fix
    return facts, reason


_STEPS = {
    "missing-service": "create the missing Service or point the Ingress backend at the right one",
    "no-selector": "give the Service a selector or fill its EndpointSlices",
    "no-ready-pods": "make the selector match running pods (kubectl get pods -l <selector>) and get them ready",
}


def _remediation(node: LbNode, reasons: list[Reason]) -> str:
    if node.orphan is not None:
        delete = (
            f"aws elb delete-load-balancer --load-balancer-name {node.lb.name}"
            if node.lb.type == "classic"
            else f"aws elbv2 delete-load-balancer --load-balancer-arn {node.arn}"
        )
        return f"This load balancer is orphaned ({node.orphan}) and serves nothing: delete it, e.g. {delete}."
    steps: list[str] = []
    for kind, _ in reasons:
        if kind == "network-policy":
            step = (
                "admit the load balancer's subnets with an ipBlock on the traffic and health-check ports in a "
                "NetworkPolicy of the pods' namespace (the manifest is in the evidence, network_policy_fix; see "
                "network-policy-blocks-load-balancer)"
            )
        elif kind == "health-check":
            annotation = (
                f"{ALB}healthcheck-path"
                if node.owner and node.owner.group
                else f"{SVC}aws-load-balancer-healthcheck-path"
            )
            step = (
                f"point the health check at a path that answers 200 ({annotation}) and let the load balancer's "
                "security group reach the pods"
            )
        else:
            step = _STEPS[kind]
        if step not in steps:
            steps.append(step)
    return sentence("; ".join(steps)) + "." if steps else META.remediation


def _classic(graph: ExposureGraph, node: LbNode) -> Finding:
    lb, fields = node.lb, lb_fields(node)
    evidence = owner_evidence(node)
    if lb.instances is None:
        if lb.healthy_count:  # CloudWatch showed an InService instance, so they were not described
            evidence["healthy_by_cloudwatch"] = _cloudwatch_reading(lb.healthy_count, lb.healthy_count_at)
            return META.finding(
                Status.PASS,
                f"{lb_subject(node)} has {lb.healthy_count} InService instance(s)"
                f"{_cloudwatch_note(lb.healthy_count_at)}.",
                evidence=evidence,
                **fields,
            )
        return META.finding(
            Status.UNKNOWN,
            f"Instance health of {describe_lb(node)} was not collected.",
            evidence=evidence,
            **fields,
        )
    in_service = lb.healthy_instances  # described: the InService ones
    evidence.update(instances=len(lb.instances), states=_states(lb.instances))
    if in_service:
        return META.finding(
            Status.PASS,
            f"{lb_subject(node)} has {in_service} InService instance(s).",
            evidence=evidence,
            **fields,
        )
    svc = node.owner.service if node.owner else None
    reason = _service_reason(graph, svc.namespace or "", svc.name, None) if svc else None
    reasons = [reason] if reason else []
    evidence["kubernetes_reasons"] = [text for _, text in reasons]
    what = "no registered instances" if not lb.instances else "no InService instance"
    because = f": {reason[1]}" if reason else ""
    return META.finding(
        Status.FAIL,
        f"{lb_subject(node)} has {what}{because}.",
        remediation=_remediation(node, reasons),
        evidence=evidence,
        **fields,
    )


def _cloudwatch_reading(healthy: int | None, at: datetime | None) -> dict[str, Any]:
    """A health count read from CloudWatch instead of described, as the evidence gives it."""
    return {"source": "CloudWatch HealthyHostCount", "healthy": healthy, "at": at.isoformat() if at else None}


def _cloudwatch_note(at: datetime | None) -> str:
    """The message's note that the count came from CloudWatch, and of which minute."""
    when = f" of {at.strftime('%Y-%m-%d %H:%M')} UTC" if at else ""
    return f" (CloudWatch HealthyHostCount{when})"


def _by_cloudwatch(tgs: list[TargetGroup]) -> tuple[dict[str, dict[str, Any]], str]:
    """The groups counted by CloudWatch, for the evidence, and the message's note of it ("" when there are none)."""
    counted = {
        tg.name: _cloudwatch_reading(tg.healthy_count, tg.healthy_count_at)
        for tg in tgs
        if tg.targets is None and tg.healthy_count
    }
    stamps = [tg.healthy_count_at for tg in tgs if tg.name in counted and tg.healthy_count_at]
    return counted, _cloudwatch_note(min(stamps) if stamps else None) if counted else ""


def _elbv2(graph: ExposureGraph, node: LbNode) -> Finding:
    fields = lb_fields(node)
    evidence = owner_evidence(node)
    tgs = node.target_groups
    healthy = sum(tg.healthy_targets or 0 for tg in tgs)
    if healthy:
        evidence["healthy_targets"] = healthy
        counted, note = _by_cloudwatch(tgs)
        if counted:
            evidence["healthy_by_cloudwatch"] = counted
        return META.finding(
            Status.PASS,
            f"{lb_subject(node)} has {healthy} healthy target(s){note}.",
            evidence=evidence,
            **fields,
        )
    # a group counted by CloudWatch with no healthy target (only a hand-made snapshot holds one: the collector
    # describes those) has no states or reasons to judge by: not collected, as one never read
    not_collected = [tg.name for tg in tgs if tg.targets is None]
    if not_collected or not graph.collected("elbv2", node):
        what = (
            f"the health of target group {', '.join(not_collected)} was not collected"
            if not_collected
            else f"the elbv2 inventory of {node.lb.account}/{node.lb.region} is incomplete"
        )
        return META.finding(
            Status.UNKNOWN,
            f"Whether {describe_lb(node)} has healthy targets is unknown: {what}.",
            evidence={**evidence, "target_groups_not_collected": not_collected},
            **fields,
        )
    if not tgs:
        no_targets_needed = _needs_no_targets(node.lb)
        if no_targets_needed is None:
            return META.finding(
                Status.UNKNOWN,
                f"{lb_subject(node)} has no target group, and its listener rules were not collected.",
                evidence=evidence,
                **fields,
            )
        if no_targets_needed:
            return META.finding(
                Status.PASS,
                f"{lb_subject(node)} only redirects or answers fixed responses; it needs no targets.",
                evidence=evidence,
                **fields,
            )
        return META.finding(
            Status.FAIL,
            f"{lb_subject(node)} has no target group at all.",
            remediation=_remediation(node, []),
            evidence={**evidence, "target_groups": []},
            **fields,
        )
    judged = [_target_group_facts(graph, node, tg) for tg in tgs]
    facts = [f for f, _ in judged]
    reasons = list(dict.fromkeys(r for _, r in judged if r is not None))
    empty = all(f["targets"] == 0 for f in facts)
    what = "no registered targets" if empty else "no healthy target"
    because = f": {'; '.join(text for _, text in reasons)}" if reasons else ""
    return META.finding(
        Status.FAIL,
        f"{lb_subject(node)} has {what}{because}.",
        remediation=_remediation(node, reasons),
        evidence={**evidence, "target_groups": facts},
        **fields,
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    def judge(node: LbNode) -> Iterator[Finding]:
        yield _classic(graph, node) if node.lb.type == "classic" else _elbv2(graph, node)

    yield from guarded(META, graph, graph.in_scope(), judge, describe=lb_fields)


RULE = Rule(META, evaluate)
