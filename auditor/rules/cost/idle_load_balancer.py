"""idle-load-balancer: a load balancer that served (almost) no traffic on each of the last days, and what it costs.

Traffic is CloudWatch's daily RequestCount (ALB, Classic) or NewFlowCount (NLB) over the usage window; a day
without a data point had no traffic (metrics exist only while traffic flows). Idle = fewer than
``idle_requests_per_day`` on every one of the last ``idle_days`` days (Trusted Advisor's "Idle Load Balancers":
fewer than 100 requests a day over 7 days). A load balancer with no healthy target is reported by
lb-without-healthy-targets. Gateway Load Balancers have no request metric and are not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import LOAD_BALANCERS, Facet
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
        Facet.PRICING_PRODUCTS,
        Facet.EC2_NETWORK_INTERFACES,
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
        if busiest >= floor:
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
        yield META.finding(
            Status.FAIL,
            f"{describe_lb(node)} served fewer than {floor} {what} a day on each of the last {days} days "
            f"(at most {busiest:.0f}){price}.",
            remediation=_fix(node),
            evidence=evidence,
            monthly_saving_usd=saving,
            **fields,
        )

    yield from guarded(META, graph, graph.in_scope(), judge, describe=lb_fields)


RULE = Rule(META, evaluate)
