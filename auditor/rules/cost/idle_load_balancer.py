"""idle-load-balancer: a load balancer that served (almost) no traffic, or had no healthy target all along.

Idle (Trusted Advisor's "Idle Load Balancers": no healthy back-ends, or fewer than 100 requests a day over
7 days) is either of:
- fewer than ``idle_requests_per_day`` requests (ALB, Classic: RequestCount) or new flows (NLB: NewFlowCount)
  on every one of the last ``idle_days`` days — a day without a data point had no traffic (the metrics exist
  only while traffic flows);
- no healthy target on any day of the usage window (HealthyHostCount, Maximum per day, 0 on every day with
  data, and data on every day; a day without it is not known, so a partial record judges nothing).
The current target health is lb-without-healthy-targets' subject. Gateway Load Balancers are not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import LOAD_BALANCERS, PRICED, Facet
from auditor.rules._helpers import describe_lb, lb_fields
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.cost._common import cost_evidence
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="idle-load-balancer",
    title="Load balancer is idle",
    severity=Severity.LOW,
    category="cost",
    rationale=(
        "A load balancer bills every hour it exists, with or without traffic. One that served (almost) no "
        "requests or new flows on each of the last days is likely left over from a test, a migration or a "
        "renamed Service, and its whole monthly cost can be saved."
    ),
    remediation=(
        "Delete the Kubernetes object that asks for it (the Ingress, or set the Service to `type: ClusterIP`), "
        "or keep it deliberately and lower idle_requests_per_day for it."
    ),
    references=(
        "https://docs.aws.amazon.com/awssupport/latest/user/cost-optimization-checks.html#idle-load-balancers",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html",
    ),
    inputs=(*LOAD_BALANCERS, Facet.CLOUDWATCH_METRICS),
    enrich=(
        Facet.ELBV2_TAGS,
        Facet.ELB_TAGS,
        Facet.KUBE_SERVICES,
        Facet.KUBE_INGRESSES,
        *(f for f in PRICED if f != Facet.CLOUDWATCH_METRICS),  # its usage is an input: the verdict rests on it
    ),
)

_METRIC = {"application": "requests", "classic": "requests", "network": "new flows"}


def _fix(node: LbNode) -> str:
    owner = node.owner
    if node.orphan is None and owner is not None:
        if owner.service is not None:
            svc = owner.service
            return (
                f"Delete Service {svc.namespace}/{svc.name} if nothing uses it, or set it to `type: ClusterIP` "
                f'(`kubectl -n {svc.namespace} patch service {svc.name} -p \'{{"spec":{{"type":"ClusterIP"}}}}\'`)'
                f"; either removes {node.lb.name}."
            )
        if owner.group is not None:
            members = ", ".join(f"{m.namespace}/{m.name}" for m in owner.group.members) or owner.label
            return (
                f"Delete the Ingresses of {owner.label} ({members}) if nothing uses them, or move them into a "
                f"shared IngressGroup (`alb.ingress.kubernetes.io/group.name`); the controller then removes "
                f"{node.lb.name}."
            )
    if node.lb.type == "classic":
        return f"Delete it: `aws elb delete-load-balancer --load-balancer-name {node.lb.name}`."
    return f"Delete it: `aws elbv2 delete-load-balancer --load-balancer-arn {node.arn}`."


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    days, floor = settings.idle_days, settings.idle_requests_per_day

    def judge(node: LbNode) -> Iterator[Finding]:
        what = _METRIC.get(node.lb.type)
        if what is None:
            return  # GWLB: no request metric
        fields: dict[str, Any] = lb_fields(node)
        usage = node.usage
        cost = cost_evidence(node)
        evidence: dict[str, Any] = {"metric": what, "threshold_per_day": floor, "days": days}
        if usage is None or len(usage.daily_requests) < days:
            have = "were not read" if usage is None else f"cover {len(usage.daily_requests)} days, not {days}"
            yield META.finding(
                Status.UNKNOWN,
                f"Whether {describe_lb(node)} is idle is unknown: its CloudWatch metrics {have}.",
                evidence=evidence,
                **fields,
            )
            return
        recent = usage.daily_requests[-days:]
        evidence["daily"] = recent
        busiest = max(recent)
        never_healthy = usage.healthy_hosts_max == 0 and usage.healthy_hosts_days >= usage.window_days
        evidence.update(healthy_hosts_max=usage.healthy_hosts_max, healthy_hosts_days=usage.healthy_hosts_days)
        if busiest >= floor and not never_healthy:
            yield META.finding(
                Status.PASS,
                f"{describe_lb(node)} served up to {busiest:.0f} {what} a day in the last {days} days.",
                evidence=evidence,
                **fields,
            )
            return
        saving = cost["monthly_cost_usd"]
        evidence.update(cost, monthly_saving_usd=saving)
        price = f"; deleting it saves ${saving:.2f}/month" if saving is not None else ""
        reasons = []
        if busiest < floor:
            reasons.append(
                f"served fewer than {floor} {what} a day on each of the last {days} days (at most {busiest:.0f})"
            )
        if never_healthy:
            reasons.append(f"had no healthy target on any day of the last {usage.window_days} days")
        yield META.finding(
            Status.FAIL,
            f"{describe_lb(node)} {' and '.join(reasons)}{price}.",
            remediation=_fix(node),
            evidence=evidence,
            monthly_saving_usd=saving,
            **fields,
        )

    yield from guarded(META, graph, graph.in_scope(), judge, describe=lb_fields)


RULE = Rule(META, evaluate)
