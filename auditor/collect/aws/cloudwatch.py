"""Load balancer traffic over the usage window from CloudWatch ``GetMetricData``, many load balancers per call.

Per load balancer, one daily data point per metric over the window (default 14 days, complete UTC days):
- ALB (``AWS/ApplicationELB``, dimension ``LoadBalancer=app/<name>/<id>``): RequestCount (Sum),
  ConsumedLCUs (Average), ProcessedBytes (Sum);
- NLB (``AWS/NetworkELB``, ``LoadBalancer=net/<name>/<id>``): NewFlowCount, ConsumedLCUs, ProcessedBytes;
- GWLB (``AWS/GatewayELB``): ConsumedLCUs, ProcessedBytes;
- Classic (``AWS/ELB``, ``LoadBalancerName``): RequestCount, EstimatedProcessedBytes;
- and per target group of an ALB, RequestCount (dimensions ``TargetGroup`` + ``LoadBalancer``): how a shared
  ALB's cost is split across the Ingresses of its group (``auditor.cost.allocate``);
- HealthyHostCount (Maximum) per target group of an ALB or NLB, per Classic load balancer: whether it had a
  healthy target at all through the window (idle-load-balancer). Unlike traffic, a day without this metric
  is a day not known (it is reported only while health checks run), never a day without healthy targets.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-cloudwatch-metrics.html.
Traffic metrics exist only while traffic flows: a day without a data point is a day of zero traffic.
``GetMetricData`` takes at most 500 queries per call (enforced here: AWS rejects more, moto does not), so
1,000 load balancers with a target group each cost about ten calls. A call that fails leaves its load
balancers without usage (the facet says so) and their cost falls back to hours only, marked assumed.

``healthy_host_counts`` serves the elbv2 collector (target health, issue #11): HealthyHostCount (Minimum, 60 s
periods) of the last ``HEALTH_WINDOW`` per target group, so that DescribeTargetHealth is called only for the
groups CloudWatch does not show healthy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.collect.aws.base import CollectorContext, actions_of, call, chunked
from auditor.errors import CollectionError, PermissionDenied
from auditor.inventory.facets import Facet
from auditor.inventory.models import LoadBalancer, LoadBalancerUsage, TargetGroup

log = logging.getLogger(__name__)

NAME = "cloudwatch"
SERVICE = "cloudwatch"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {Facet.CLOUDWATCH_METRICS: ("cloudwatch:GetMetricData",)}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)

QUERIES_PER_CALL = 500  # GetMetricData MetricDataQueries maximum
DAY = 86400
MINUTE = 60
# How far back a target group's latest HealthyHostCount may lie to stand for its health now: ELB publishes it every
# minute while health checks run, and CloudWatch shows a minute a few minutes late (the metric pages above);
# five minutes leaves room for that delay and never reaches back to an older state of the group.
HEALTH_WINDOW = timedelta(minutes=5)
# Target types whose HealthyHostCount counts what DescribeTargetHealth calls healthy; lambda (health checks off
# by default: no data) and alb (an NLB's ALB target) groups are always described.
_HEALTH_TARGET_TYPES = frozenset({"instance", "ip"})
GB = 1024**3

# type -> (namespace, dimension, [(what, metric, statistic)])
METRICS: dict[str, tuple[str, str, tuple[tuple[str, str, str], ...]]] = {
    "application": (
        "AWS/ApplicationELB",
        "LoadBalancer",
        (("requests", "RequestCount", "Sum"), ("lcus", "ConsumedLCUs", "Average"), ("bytes", "ProcessedBytes", "Sum")),
    ),
    "network": (
        "AWS/NetworkELB",
        "LoadBalancer",
        (("requests", "NewFlowCount", "Sum"), ("lcus", "ConsumedLCUs", "Average"), ("bytes", "ProcessedBytes", "Sum")),
    ),
    "gateway": (
        "AWS/GatewayELB",
        "LoadBalancer",
        (("lcus", "ConsumedLCUs", "Average"), ("bytes", "ProcessedBytes", "Sum")),
    ),
    "classic": (
        "AWS/ELB",
        "LoadBalancerName",
        (("requests", "RequestCount", "Sum"), ("bytes", "EstimatedProcessedBytes", "Sum")),
    ),
}


@dataclass(frozen=True)
class _Query:
    lb: LoadBalancer
    what: str  # requests | lcus | bytes | health | a target group ARN (its RequestCount) | "health:" + that ARN


def dimension_value(lb: LoadBalancer) -> str:
    """``app/<name>/<id>`` (the ARN after ``loadbalancer/``) for elbv2; the name for Classic."""
    if lb.type == "classic":
        return lb.name
    return lb.arn.split(":loadbalancer/", 1)[-1]


def target_group_dimensions(tg_arn: str, lb: LoadBalancer) -> list[dict[str, str]]:
    """The dimensions of a target group's metrics behind one load balancer, in the order they are published:
    TargetGroup ``targetgroup/<name>/<id>`` (the ARN's resource part), then LoadBalancer."""
    return [
        {"Name": "TargetGroup", "Value": tg_arn.split(":", 5)[-1]},
        {"Name": "LoadBalancer", "Value": dimension_value(lb)},
    ]


def window(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last ``days`` complete UTC days: [midnight ``days`` days ago, today's midnight)."""
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days), today


def _stat(
    namespace: str, metric: str, dimensions: list[dict[str, str]], stat: str, period: int = DAY
) -> dict[str, Any]:
    return {
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def collect(
    ctx: CollectorContext,
    load_balancers: Iterable[LoadBalancer],
    days: int,
    target_groups: Iterable[TargetGroup] = (),
) -> list[LoadBalancerUsage]:
    client = ctx.client(SERVICE)
    start, end = window(days)
    groups_of: dict[str, list[str]] = {}
    for tg in target_groups:
        for lb_arn in tg.load_balancer_arns:
            groups_of.setdefault(lb_arn, []).append(tg.arn)
    queries: list[tuple[dict[str, Any], _Query]] = []
    for lb in sorted(load_balancers, key=lambda lb: lb.arn):
        spec = METRICS.get(lb.type)
        if spec is None:
            continue
        namespace, dimension, metrics = spec
        for what, metric, stat in metrics:
            dimensions = [{"Name": dimension, "Value": dimension_value(lb)}]
            queries.append((_stat(namespace, metric, dimensions, stat), _Query(lb, what)))
        if lb.type == "classic":
            dimensions = [{"Name": dimension, "Value": dimension_value(lb)}]
            queries.append((_stat(namespace, "HealthyHostCount", dimensions, "Maximum"), _Query(lb, "health")))
        for tg_arn in sorted(groups_of.get(lb.arn, [])) if lb.type in ("application", "network") else ():
            dimensions = target_group_dimensions(tg_arn, lb)
            if lb.type == "application":
                queries.append((_stat(namespace, "RequestCount", dimensions, "Sum"), _Query(lb, tg_arn)))
            health = _stat(namespace, "HealthyHostCount", dimensions, "Maximum")
            queries.append((health, _Query(lb, "health:" + tg_arn)))
    series: dict[tuple[str, str], list[float]] = {}
    healthy: dict[str, dict[int, float]] = {}  # LB ARN -> day index -> healthy targets that day (all its groups)
    failed: set[str] = set()
    for chunk in chunked(queries, QUERIES_PER_CALL):
        try:
            answers = _get(client, [query for query, _ in chunk], start, end)
        except PermissionDenied as exc:
            ctx.problem("GetMetricData (costs fall back to hours only)", exc, facet=Facet.CLOUDWATCH_METRICS)
            failed.update(q.lb.arn for _, q in queries)
            break
        except CollectionError as exc:
            lbs = {q.lb.arn for _, q in chunk}
            ctx.problem(f"GetMetricData of {len(lbs)} load balancers", exc, facet=Facet.CLOUDWATCH_METRICS)
            failed.update(lbs)
            continue
        for index, (_, q) in enumerate(chunk):
            points = answers.get(f"q{index}", ([], []))
            if q.what.startswith("health"):
                days_seen = healthy.setdefault(q.lb.arn, {})
                for day, value in _by_day(points, start, days).items():
                    days_seen[day] = days_seen.get(day, 0.0) + value
            else:
                series[(q.lb.arn, q.what)] = _daily(points, start, days)
    usage: list[LoadBalancerUsage] = []
    seen: set[str] = set()
    for _, q in queries:
        lb = q.lb
        if lb.arn in failed or lb.arn in seen:
            continue
        seen.add(lb.arn)
        lcus = series.get((lb.arn, "lcus"))
        requests = series.get((lb.arn, "requests"))
        per_group = (
            {tg: sum(series.get((lb.arn, tg), [])) for tg in sorted(groups_of.get(lb.arn, []))}
            if lb.type == "application"
            else None
        )
        usage.append(
            LoadBalancerUsage(
                arn=lb.arn,
                window_days=days,
                daily_requests=requests or [],
                average_lcus=None if lcus is None else sum(lcus) / days,
                processed_gb=sum(series.get((lb.arn, "bytes"), [])) / GB,
                target_group_requests=per_group,
                healthy_hosts_max=max(healthy[lb.arn].values()) if healthy.get(lb.arn) else None,
                healthy_hosts_days=len(healthy.get(lb.arn, {})),
            )
        )
    ctx.count("load balancers with usage", len(usage))
    return usage


@dataclass(frozen=True)
class HealthyHosts:
    """A target group's latest HealthyHostCount: the fewest healthy targets during the minute that began ``at``."""

    count: int
    at: datetime

    @property
    def shows_healthy(self) -> bool:
        """Whether it stands for a healthy target (or InService instance) now: the caller need not describe them."""
        return self.count >= 1


def healthy_host_counts(
    ctx: CollectorContext,
    target_groups: Iterable[TargetGroup],
    load_balancers: Iterable[LoadBalancer],
    now: datetime | None = None,
) -> dict[str, HealthyHosts]:
    """Target group ARN -> its latest HealthyHostCount of the last ``HEALTH_WINDOW``, for the instance and ip
    target groups of exactly one ALB or NLB; a group without a data point there is absent. 500 groups a
    GetMetricData call. A call that fails is logged and its groups are absent: the caller (elbv2) then reads
    their health with DescribeTargetHealth, so nothing goes unread and no facet is partial.

    ``AWS/ApplicationELB`` and ``AWS/NetworkELB`` (the namespace from the load balancer's type, not its ARN)
    publish HealthyHostCount per TargetGroup + LoadBalancer while health checks are enabled, each minute;
    Minimum is the fewest healthy targets of the minute.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-cloudwatch-metrics.html"""
    by_arn = {lb.arn: lb for lb in load_balancers}
    asked: list[tuple[dict[str, Any], str]] = []
    for tg in target_groups:
        if tg.target_type not in _HEALTH_TARGET_TYPES or len(tg.load_balancer_arns) != 1:
            continue  # several load balancers: a count per pair, none for the group as DescribeTargetHealth sees it
        lb = by_arn.get(tg.load_balancer_arns[0])
        if lb is None or lb.type not in ("application", "network"):
            continue
        namespace = METRICS[lb.type][0]
        dimensions = target_group_dimensions(tg.arn, lb)
        asked.append((_stat(namespace, "HealthyHostCount", dimensions, "Minimum", MINUTE), tg.arn))
    return _latest_counts(ctx, asked, "target groups", now)


def classic_healthy_host_counts(
    ctx: CollectorContext, names: Iterable[str], now: datetime | None = None
) -> dict[str, HealthyHosts]:
    """Classic load balancer name -> its latest HealthyHostCount of the last ``HEALTH_WINDOW`` (``AWS/ELB``,
    dimension LoadBalancerName, Minimum per minute); one without a data point there is absent. Each of the load
    balancer's nodes reports the instances it sees healthy; Minimum is the fewest any of them reported in the
    minute, so a count of at least one means an InService instance.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-cloudwatch-metrics.html"""
    namespace, dimension, _ = METRICS["classic"]
    asked = [
        (_stat(namespace, "HealthyHostCount", [{"Name": dimension, "Value": name}], "Minimum", MINUTE), name)
        for name in names
    ]
    return _latest_counts(ctx, asked, "classic load balancers", now)


def _latest_counts(
    ctx: CollectorContext, asked: list[tuple[dict[str, Any], str]], what: str, now: datetime | None
) -> dict[str, HealthyHosts]:
    """Key -> the latest data point of its HealthyHostCount query over the last ``HEALTH_WINDOW``, 500 queries a
    call. A call that fails is logged and its keys are absent (the caller reads those one by one)."""
    end = now or datetime.now(UTC)
    start = end - HEALTH_WINDOW
    found: dict[str, HealthyHosts] = {}
    for chunk in chunked(asked, QUERIES_PER_CALL):
        try:
            answers = _get(ctx.client(SERVICE), [query for query, _ in chunk], start, end)
        except CollectionError as exc:
            log.warning(
                "%s %s/%s: HealthyHostCount of %d %s not read, described one by one instead: %s",
                ctx.name,
                ctx.account,
                ctx.region,
                len(chunk),
                what,
                exc,
            )
            if isinstance(exc, PermissionDenied):
                break  # the next calls would be denied too
            continue
        for index, (_, key) in enumerate(chunk):
            stamps, values = answers.get(f"q{index}", ([], []))
            if stamps:
                at, value = max(zip(stamps, values, strict=False), key=lambda point: point[0])
                found[key] = HealthyHosts(count=int(value), at=at.astimezone(UTC))
    return found


def _get(
    client: Any, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[str, tuple[list[datetime], list[float]]]:
    """Id (``q`` + the query's index) -> (timestamps, values) of one batch of at most 500 queries, following
    NextToken."""
    if len(queries) > QUERIES_PER_CALL:
        raise ValueError(f"GetMetricData takes at most {QUERIES_PER_CALL} queries, not {len(queries)}")
    body = [{"Id": f"q{i}", **query} for i, query in enumerate(queries)]
    found: dict[str, tuple[list[datetime], list[float]]] = {}
    token: str | None = None
    while True:
        params: dict[str, Any] = {"MetricDataQueries": body, "StartTime": start, "EndTime": end}
        if token:
            params["NextToken"] = token
        answer = call(client, "GetMetricData", **params)
        for result in answer.get("MetricDataResults", []):
            stamps, values = found.setdefault(result["Id"], ([], []))
            stamps.extend(result.get("Timestamps", []))
            values.extend(float(v) for v in result.get("Values", []))
        token = answer.get("NextToken")
        if not token:
            return found


def _by_day(points: tuple[list[datetime], list[float]], start: datetime, days: int) -> dict[int, float]:
    """Day index (0 = oldest) -> the day's value, for the days of the window that have a data point."""
    found: dict[int, float] = {}
    for stamp, value in zip(*points, strict=False):
        index = int((stamp.astimezone(UTC) - start).total_seconds() // DAY)
        if 0 <= index < days:
            found[index] = found.get(index, 0.0) + value
    return found


def _daily(points: tuple[list[datetime], list[float]], start: datetime, days: int) -> list[float]:
    """One value per day of the window, oldest first; a day without a data point is zero (no traffic)."""
    by_day = _by_day(points, start, days)
    return [by_day.get(i, 0.0) for i in range(days)]
