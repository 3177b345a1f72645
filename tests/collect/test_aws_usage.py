"""Usage from CloudWatch GetMetricData (batched, counted on the wire against moto) and public IPv4 addresses
counted on the load balancers' network interfaces."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from auditor.collect.aws import cloudwatch, ec2
from auditor.collect.aws.base import CollectorContext
from auditor.collect.aws.session import CallCounter, open_account
from auditor.config import AccountConfig, AwsSettings
from auditor.inventory.facets import Facet
from auditor.inventory.models import CoverageStatus
from tests.collect.test_aws_seed import REGION, network
from tests.support import builders as b

FLEET = 1000


def _ctx(name: str) -> tuple[CollectorContext, CallCounter, list[dict[str, Any]]]:
    counter = CallCounter()
    session = open_account(AccountConfig(), AwsSettings(max_attempts=1), region=REGION, counter=counter)
    ctx = CollectorContext(name=name, session=session, region=REGION)
    sent: list[dict[str, Any]] = []
    ctx.client(name).meta.events.register(
        f"provide-client-params.{name}.*", lambda params, model, **_: sent.append({"op": model.name, **params})
    )
    return ctx, counter, sent


def _put(metric: str, namespace: str, dimension: str, value: str, days_ago: int, amount: float) -> None:
    start, _ = cloudwatch.window(14)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": dimension, "Value": value}],
                "Timestamp": start + timedelta(days=14 - days_ago, hours=12),
                "Value": amount,
            }
        ],
    )


def test_a_thousand_load_balancers_cost_a_handful_of_calls(aws):
    fleet = [b.load_balancer(f"alb-{i:04d}", region=REGION) for i in range(FLEET)]
    busy, nlb, clb = fleet[7], b.load_balancer("db", type="network", region=REGION), None
    clb = b.load_balancer("legacy", type="classic", region=REGION)
    _put("RequestCount", "AWS/ApplicationELB", "LoadBalancer", cloudwatch.dimension_value(busy), 1, 5000)
    _put("RequestCount", "AWS/ApplicationELB", "LoadBalancer", cloudwatch.dimension_value(busy), 3, 7000)
    _put("ConsumedLCUs", "AWS/ApplicationELB", "LoadBalancer", cloudwatch.dimension_value(busy), 3, 2.8)
    _put("ProcessedBytes", "AWS/ApplicationELB", "LoadBalancer", cloudwatch.dimension_value(busy), 2, 2 * 1024**3)
    _put("NewFlowCount", "AWS/NetworkELB", "LoadBalancer", cloudwatch.dimension_value(nlb), 1, 40)
    _put("EstimatedProcessedBytes", "AWS/ELB", "LoadBalancerName", "legacy", 1, 1024**3)

    ctx, counter, sent = _ctx("cloudwatch")
    usage = {u.arn: u for u in cloudwatch.collect(ctx, [*fleet, nlb, clb], 14)}

    calls = [s for s in sent if s["op"] == "GetMetricData"]
    assert len(calls) == 7  # 3,000 + 3 + 3 queries, 500 a call — not one call per metric per load balancer
    assert all(len(c["MetricDataQueries"]) <= cloudwatch.QUERIES_PER_CALL for c in calls)
    assert counter.snapshot()["cloudwatch:GetMetricData"] == 7
    assert ctx.facet_coverage(CoverageStatus.OK) == {}

    assert len(usage) == FLEET + 2
    got = usage[busy.arn]
    assert got.daily_requests[-1] == 5000 and got.daily_requests[-3] == 7000 and sum(got.daily_requests) == 12000
    assert got.average_lcus == pytest.approx(2.8 / 14)  # the days without data are zero traffic
    assert got.processed_gb == pytest.approx(2.0)
    quiet = usage[fleet[0].arn]
    assert quiet.daily_requests == [0.0] * 14 and quiet.average_lcus == 0.0 and quiet.processed_gb == 0.0
    assert usage[nlb.arn].daily_requests[-1] == 40  # NLB: NewFlowCount
    assert usage[clb.arn].processed_gb == pytest.approx(1.0) and usage[clb.arn].average_lcus is None


def test_denied_metrics_are_coverage_and_no_usage(aws, monkeypatch):
    ctx, _, _ = _ctx("cloudwatch")
    from auditor.errors import PermissionDenied

    def denied(*_: Any, **__: Any) -> Any:
        raise PermissionDenied("cloudwatch:GetMetricData failed: AccessDenied", code="AccessDenied")

    monkeypatch.setattr(cloudwatch, "call", denied)
    lbs = [b.load_balancer(f"alb-{i}", region=REGION) for i in range(300)]
    assert cloudwatch.collect(ctx, lbs, 14) == []
    facet = ctx.facet_coverage(CoverageStatus.PARTIAL)[Facet.CLOUDWATCH_METRICS]
    assert facet.status == CoverageStatus.PARTIAL and facet.error_code == "AccessDenied"


def test_public_ipv4_counted_on_the_load_balancers_network_interfaces(aws):
    client = boto3.client("ec2", region_name=REGION)
    net = network()
    alb = b.load_balancer("web", region=REGION, azs=2)
    internal = b.load_balancer("inner", scheme="internal", region=REGION)
    unseen = b.load_balancer("new", region=REGION)
    for n in range(3):  # an ALB scaled to three nodes: three interfaces with a public address each
        eni = client.create_network_interface(
            SubnetId=net.subnets[n % len(net.subnets)], Description=ec2.eni_description(alb)
        )["NetworkInterface"]["NetworkInterfaceId"]
        address = client.allocate_address(Domain="vpc")["AllocationId"]
        client.associate_address(AllocationId=address, NetworkInterfaceId=eni)
    client.create_network_interface(SubnetId=net.subnets[0], Description="ELB app/someone-else/0123")

    ctx, _counter, sent = _ctx("ec2")
    result = ec2.collect(ctx, [], [alb, internal, unseen])
    assert result.public_ipv4 == {alb.arn: 3}  # none found for "new": its count stays an assumption
    calls = [s for s in sent if s["op"] == "DescribeNetworkInterfaces"]
    assert len(calls) == 1 and calls[0]["Filters"][0]["Name"] == "description"
    assert set(calls[0]["Filters"][0]["Values"]) == {"ELB app/web/0123456789abcdef", "ELB app/new/0123456789abcdef"}


def test_alb_requests_per_target_group_in_the_same_batch(aws):
    alb = b.load_balancer("shared", region=REGION)
    shop, blog = b.target_group("shop", alb), b.target_group("blog", alb)
    start, _ = cloudwatch.window(14)
    for tg, amount in ((shop, 900.0), (blog, 100.0)):
        boto3.client("cloudwatch", region_name=REGION).put_metric_data(
            Namespace="AWS/ApplicationELB",
            MetricData=[
                {
                    "MetricName": "RequestCount",
                    "Dimensions": [
                        {"Name": "TargetGroup", "Value": tg.arn.split(":", 5)[-1]},
                        {"Name": "LoadBalancer", "Value": cloudwatch.dimension_value(alb)},
                    ],
                    "Timestamp": start + timedelta(days=10, hours=3),
                    "Value": amount,
                }
            ],
        )
    ctx, _, sent = _ctx("cloudwatch")
    (usage,) = cloudwatch.collect(ctx, [alb], 14, [shop, blog])
    assert usage.target_group_requests == {shop.arn: 900.0, blog.arn: 100.0}
    calls = [s for s in sent if s["op"] == "GetMetricData"]
    # 3 per ALB + RequestCount and HealthyHostCount per target group
    assert len(calls) == 1 and len(calls[0]["MetricDataQueries"]) == 7
    assert usage.healthy_hosts_max is None and usage.healthy_hosts_days == 0  # no health data: not known


def test_healthy_host_count_per_target_group_and_classic(aws):
    nlb = b.load_balancer("db", type="network", region=REGION)
    tg = b.target_group("pg", nlb, port=5432, protocol="TCP")
    clb = b.load_balancer("legacy", type="classic", region=REGION)
    start, _ = cloudwatch.window(14)
    client = boto3.client("cloudwatch", region_name=REGION)
    for day in range(14):
        when = start + timedelta(days=day, hours=6)
        client.put_metric_data(
            Namespace="AWS/NetworkELB",
            MetricData=[
                {
                    "MetricName": "HealthyHostCount",
                    "Dimensions": [
                        {"Name": "TargetGroup", "Value": tg.arn.split(":", 5)[-1]},
                        {"Name": "LoadBalancer", "Value": cloudwatch.dimension_value(nlb)},
                    ],
                    "Timestamp": when,
                    "Value": 0.0,
                }
            ],
        )
        if day >= 10:  # the Classic LB reported health on its last four days only
            client.put_metric_data(
                Namespace="AWS/ELB",
                MetricData=[
                    {
                        "MetricName": "HealthyHostCount",
                        "Dimensions": [{"Name": "LoadBalancerName", "Value": "legacy"}],
                        "Timestamp": when,
                        "Value": 2.0,
                    }
                ],
            )
    ctx, _, _ = _ctx("cloudwatch")
    usage = {u.arn: u for u in cloudwatch.collect(ctx, [nlb, clb], 14, [tg])}
    assert (usage[nlb.arn].healthy_hosts_max, usage[nlb.arn].healthy_hosts_days) == (0.0, 14)
    assert (usage[clb.arn].healthy_hosts_max, usage[clb.arn].healthy_hosts_days) == (2.0, 4)
