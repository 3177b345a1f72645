"""Target health from CloudWatch's HealthyHostCount first, DescribeTargetHealth only for the groups it does not
show healthy (issue #11) — against the moto server, calls counted on the wire."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from auditor.collect.aws import cloudwatch, collect_aws
from auditor.collect.aws.base import CollectorContext
from auditor.collect.aws.session import CallCounter, open_account
from auditor.config import AccountConfig, AwsSettings, Settings, TargetConfig
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet
from auditor.inventory.models import AwsInventory, Coverage, CoverageStatus, TargetGroup
from tests.collect.test_aws_permissions import POLICY_FILE, make_user
from tests.collect.test_aws_seed import AMI, REGION, network
from tests.support import builders as b

SETTINGS = Settings(aws=AwsSettings(max_attempts=1))
DESCRIBE = "elasticloadbalancing:DescribeTargetHealth"
METRICS = "cloudwatch:GetMetricData"


@dataclass
class Seeded:
    alb: str
    nlb: str
    groups: dict[str, str]  # name -> ARN


def _published(tg_arn: str, lb_arn: str, value: float, ago: timedelta, namespace: str) -> None:
    """What ELB publishes each minute while health checks run (moto publishes nothing by itself)."""
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "HealthyHostCount",
                "Dimensions": [
                    {"Name": "TargetGroup", "Value": tg_arn.split(":", 5)[-1]},
                    {"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/", 1)[1]},
                ],
                "Timestamp": datetime.now(UTC) - ago,
                "Value": value,
            }
        ],
    )


def _seed() -> Seeded:
    """An ALB with three groups, an NLB with two, a group of no load balancer; each with a registered target."""
    net = network()
    elbv2 = boto3.client("elbv2", region_name=REGION)
    alb = elbv2.create_load_balancer(Name="web", Subnets=net.subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    nlb = elbv2.create_load_balancer(Name="db", Subnets=net.subnets, Type="network")["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    groups: dict[str, str] = {}
    for name, protocol in (("busy", "HTTP"), ("down", "HTTP"), ("stale", "HTTP"), ("pg", "TCP"), ("quiet", "TCP")):
        groups[name] = elbv2.create_target_group(
            Name=name, Protocol=protocol, Port=8080, VpcId=net.vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
    groups["free"] = elbv2.create_target_group(Name="free", Protocol="HTTP", Port=80, VpcId=net.vpc)["TargetGroups"][0][
        "TargetGroupArn"
    ]
    for name, arn in groups.items():
        target = {"Id": "10.0.0.10", "Port": 8080} if name != "free" else {"Id": "i-0123456789abcdef0"}
        elbv2.register_targets(TargetGroupArn=arn, Targets=[target])

    def forward(name: str) -> Any:
        return [{"Type": "forward", "TargetGroupArn": groups[name]}]

    web = elbv2.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80, DefaultActions=forward("busy"))
    listener = web["Listeners"][0]["ListenerArn"]
    for priority, name in enumerate(("down", "stale"), start=1):
        condition = [{"Field": "path-pattern", "Values": [f"/{name}/*"]}]
        elbv2.create_rule(ListenerArn=listener, Priority=priority, Conditions=condition, Actions=forward(name))
    elbv2.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=5432, DefaultActions=forward("pg"))
    elbv2.create_listener(LoadBalancerArn=nlb, Protocol="TCP", Port=5433, DefaultActions=forward("quiet"))

    minute = timedelta(minutes=1)
    _published(groups["busy"], alb, 3.0, minute, "AWS/ApplicationELB")  # healthy now
    _published(groups["down"], alb, 0.0, minute, "AWS/ApplicationELB")  # none healthy now
    _published(groups["stale"], alb, 2.0, 20 * minute, "AWS/ApplicationELB")  # healthy, but long ago
    _published(groups["pg"], nlb, 1.0, minute, "AWS/NetworkELB")  # healthy now
    # "quiet": no data point (health checks off, or just created); "free": attached to no load balancer
    return Seeded(alb, nlb, groups)


def _collect(
    keys: dict[str, str] | None = None,
) -> tuple[AwsInventory, list[Coverage], CallCounter, list[dict[str, Any]]]:
    counter = CallCounter()
    session = open_account(AccountConfig(), SETTINGS.aws, region=REGION, counter=counter)
    queries: list[dict[str, Any]] = []
    session.client("cloudwatch", REGION).meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData",
        lambda params, **_: queries.extend(params["MetricDataQueries"]),
    )
    inv, cov = collect_aws(TargetConfig(name="t", regions=[REGION]), SETTINGS, counter=counter, sessions=[session])
    return inv, cov, counter, queries


@pytest.fixture
def seeded(aws: Any) -> Iterator[Seeded]:
    yield _seed()


def _health(inv: AwsInventory) -> dict[str, TargetGroup]:
    return {tg.name: tg for tg in inv.target_groups}


def test_groups_cloudwatch_shows_healthy_are_not_described(seeded: Seeded) -> None:
    inv, cov, counter, queries = _collect()
    groups = _health(inv)
    # healthy in the latest minute: CloudWatch's count, no DescribeTargetHealth
    for name, count in (("busy", 3), ("pg", 1)):
        tg = groups[name]
        assert tg.targets is None and tg.healthy_count == count and tg.health_source == "CloudWatch HealthyHostCount"
        assert tg.healthy_count_at is not None
        assert timedelta(0) <= datetime.now(UTC) - tg.healthy_count_at < cloudwatch.HEALTH_WINDOW
        assert tg.healthy_targets == count
    # none healthy, a data point older than the window, none at all, no load balancer: described as before
    for name in ("down", "stale", "quiet", "free"):
        tg = groups[name]
        assert tg.healthy_count is None and tg.health_source == "DescribeTargetHealth", name
        assert tg.targets is not None and [t.state for t in tg.targets] == ["healthy"], name  # moto: always healthy
    assert counter.snapshot()[DESCRIBE] == 4
    elbv2 = next(c for c in cov if c.collector == "elbv2")
    assert elbv2.status == CoverageStatus.OK and elbv2.facets == {}
    # one batched HealthyHostCount query per group of exactly one load balancer, in its type's namespace
    health = {
        q["MetricStat"]["Metric"]["Dimensions"][0]["Value"].split("/")[1]: q["MetricStat"]
        for q in queries
        if q["MetricStat"]["Period"] == cloudwatch.MINUTE
    }
    assert set(health) == {"busy", "down", "stale", "pg", "quiet"}  # not "free"
    assert {name: stat["Metric"]["Namespace"] for name, stat in health.items()} == {
        **dict.fromkeys(("busy", "down", "stale"), "AWS/ApplicationELB"),
        **dict.fromkeys(("pg", "quiet"), "AWS/NetworkELB"),  # from the NLB's type: moto gives it an app/ ARN
    }
    assert {(s["Metric"]["MetricName"], s["Stat"]) for s in health.values()} == {("HealthyHostCount", "Minimum")}
    # the elbv2 collector's coverage counts its CloudWatch call too: usage makes the other GetMetricData call
    assert counter.snapshot()[METRICS] == 2
    classic = next(c for c in cov if c.collector == "elb")
    elb_calls = sum(n for action, n in counter.snapshot().items() if action.startswith("elasticloadbalancing:"))
    # its own calls only: elb, running at the same time, asks CloudWatch too
    assert elbv2.calls == elb_calls - classic.calls + 1


def test_unhealthy_groups_keep_their_states_and_reasons(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    """What moto cannot say (every registered target is healthy there) comes from DescribeTargetHealth as AWS
    answers it: the group CloudWatch shows with no healthy target is described, states and reasons kept."""
    from auditor.collect.aws import elbv2

    real = elbv2.call

    def unhealthy(client: Any, operation: str, **params: Any) -> dict[str, Any]:
        answer = real(client, operation, **params)
        if operation == "DescribeTargetHealth" and params["TargetGroupArn"] == seeded.groups["down"]:
            for desc in answer["TargetHealthDescriptions"]:
                desc["TargetHealth"] = {
                    "State": "unhealthy",
                    "Reason": "Target.FailedHealthChecks",
                    "Description": "Health checks failed",
                }
        return answer

    monkeypatch.setattr(elbv2, "call", unhealthy)
    inv, _, _, _ = _collect()
    (target,) = _health(inv)["down"].targets or []
    assert (target.state, target.reason) == ("unhealthy", "Target.FailedHealthChecks")


def test_denied_metrics_fall_back_to_describing_every_group(
    seeded: Seeded, aws: Any, caplog: pytest.LogCaptureFixture
) -> None:
    policy = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != METRICS]
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
    keys = make_user("auditor-no-metrics", policy)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in keys.items():
            mp.setenv(name, value)
        aws.set_iam_enforcement(True)
        try:
            with caplog.at_level(logging.WARNING, logger="auditor.collect.aws.cloudwatch"):
                inv, cov, counter, _ = _collect()
        finally:
            aws.set_iam_enforcement(False)
    groups = _health(inv)
    assert all(tg.targets is not None and tg.healthy_count is None for tg in groups.values())
    assert counter.snapshot()[DESCRIBE] == len(groups) == 6
    elbv2 = next(c for c in cov if c.collector == "elbv2")
    # target health was read completely, another way: neither the collector nor the facet is partial
    assert elbv2.status == CoverageStatus.OK and elbv2.facets == {}
    assert next(c for c in cov if c.collector == "cloudwatch").status != CoverageStatus.OK  # usage: denied
    assert any("HealthyHostCount of 5 target groups not read" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- batching (builders, moto's CloudWatch)


def _ctx() -> tuple[CollectorContext, list[dict[str, Any]]]:
    session = open_account(AccountConfig(), AwsSettings(max_attempts=1), region=REGION, counter=CallCounter())
    ctx = CollectorContext(name="elbv2", session=session, region=REGION)
    sent: list[dict[str, Any]] = []
    ctx.client("cloudwatch").meta.events.register(
        "provide-client-params.cloudwatch.GetMetricData", lambda params, **_: sent.append(params)
    )
    return ctx, sent


def test_five_hundred_groups_a_call_and_only_groups_of_one_alb_or_nlb(aws: Any) -> None:
    alb, nlb = b.load_balancer("shop", region=REGION), b.load_balancer("db", type="network", region=REGION)
    gwlb = b.load_balancer("inspect", type="gateway", region=REGION)
    groups = [b.target_group(f"g{i:04d}", alb) for i in range(1200)]
    lambdas, shared, appliance = b.target_group("fn", alb), b.target_group("both", alb), b.target_group("fw", gwlb)
    lambdas.target_type = "lambda"
    shared.load_balancer_arns.append(nlb.arn)
    _published(groups[7].arn, alb.arn, 2.0, timedelta(minutes=2), "AWS/ApplicationELB")
    _published(groups[1100].arn, alb.arn, 4.0, timedelta(minutes=1), "AWS/ApplicationELB")

    ctx, sent = _ctx()
    found = cloudwatch.healthy_host_counts(ctx, [*groups, lambdas, shared, appliance], [alb, nlb, gwlb])
    assert [len(call["MetricDataQueries"]) for call in sent] == [500, 500, 200]  # lambda, shared, GWLB: not asked
    assert {arn: seen.count for arn, seen in found.items()} == {groups[7].arn: 2, groups[1100].arn: 4}
    assert all(call["EndTime"] - call["StartTime"] == cloudwatch.HEALTH_WINDOW for call in sent)


def test_a_failed_call_loses_only_its_own_groups(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    alb = b.load_balancer("shop", region=REGION)
    groups = [b.target_group(f"g{i:04d}", alb) for i in range(1000)]
    _published(groups[0].arn, alb.arn, 2.0, timedelta(minutes=1), "AWS/ApplicationELB")
    _published(groups[600].arn, alb.arn, 2.0, timedelta(minutes=1), "AWS/ApplicationELB")
    real, made = cloudwatch._get, []

    def throttled_once(client: Any, queries: list[dict[str, Any]], start: datetime, end: datetime) -> Any:
        made.append(len(queries))
        if len(made) == 1:
            raise CollectionError("cloudwatch:GetMetricData failed: Throttling: Rate exceeded", code="Throttling")
        return real(client, queries, start, end)

    monkeypatch.setattr(cloudwatch, "_get", throttled_once)
    ctx, _ = _ctx()
    found = cloudwatch.healthy_host_counts(ctx, groups, [alb])
    assert made == [500, 500] and set(found) == {groups[600].arn}  # the second call's groups still counted
    assert ctx.facet_coverage(CoverageStatus.OK) == {} and not ctx.problems  # the caller describes the rest
    assert Facet.ELBV2_TARGET_HEALTH not in ctx.facet_problems


# --------------------------------------------------------------------------- Classic: instance health


def test_classic_instance_health_from_cloudwatch_first(aws: Any) -> None:
    """A Classic load balancer CloudWatch shows with an InService instance is not described; one with none, an
    old data point or none at all is (DescribeInstanceHealth, states kept); one without instances costs nothing."""
    net = network()
    ec2 = boto3.client("ec2", region_name=REGION)
    instances = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=AMI, MinCount=2, MaxCount=2, SubnetId=net.subnets[0])["Instances"]
    ]
    elb = boto3.client("elb", region_name=REGION)
    listener = [{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 30080}]
    for name in ("busy", "down", "stale", "quiet", "empty"):
        elb.create_load_balancer(LoadBalancerName=name, Listeners=listener, Subnets=net.subnets[:1])
        if name != "empty":
            elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in instances]
            )
    minute = timedelta(minutes=1)
    for name, value, ago in (("busy", 2.0, minute), ("down", 0.0, minute), ("stale", 2.0, 20 * minute)):
        boto3.client("cloudwatch", region_name=REGION).put_metric_data(
            Namespace="AWS/ELB",
            MetricData=[
                {
                    "MetricName": "HealthyHostCount",
                    "Dimensions": [{"Name": "LoadBalancerName", "Value": name}],
                    "Timestamp": datetime.now(UTC) - ago,
                    "Value": value,
                }
            ],
        )
    inv, cov, counter, queries = _collect()
    lbs = {lb.name: lb for lb in inv.load_balancers if lb.type == "classic"}
    busy = lbs["busy"]
    assert busy.instances is None and busy.healthy_count == 2 and busy.healthy_count_at is not None
    for name in ("down", "stale", "quiet"):
        assert lbs[name].healthy_count is None, name
        assert [i.state for i in lbs[name].instances or []] == ["InService", "InService"], name  # moto: InService
    assert lbs["empty"].instances == [] and lbs["empty"].healthy_count is None
    assert counter.snapshot()["elasticloadbalancing:DescribeInstanceHealth"] == 3
    classic = {
        q["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
        for q in queries
        if q["MetricStat"]["Period"] == cloudwatch.MINUTE and q["MetricStat"]["Metric"]["Namespace"] == "AWS/ELB"
    }
    assert classic == {"busy", "down", "stale", "quiet"}  # not "empty": nothing registered
    assert next(c for c in cov if c.collector == "elb").status == CoverageStatus.OK
