"""Call efficiency of the AWS collectors, counted on the wire: batching, page sizes, O(#ACLs) WAF, bounds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from auditor.collect.aws import collect_aws
from auditor.collect.aws.base import FanOut
from auditor.collect.aws.session import CallCounter, open_account
from auditor.config import AccountConfig, AwsSettings, Settings, TargetConfig
from auditor.inventory.models import AwsInventory, Coverage, CoverageStatus
from tests.collect.test_aws_seed import REGION, VISIBILITY, moto_env, network

LOAD_BALANCERS = 45  # 43 ALBs + 2 NLBs
CONCURRENCY = 2


@dataclass
class Wire:
    """Every request the product's clients built: (service, operation, params), and peak concurrency."""

    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def params(self, **kwargs: Any) -> None:
        model = kwargs["model"]
        with self.lock:
            self.requests.append((model.service_model.service_name, model.name, dict(kwargs["params"])))

    def start(self, **_: Any) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def end(self, **_: Any) -> None:
        with self.lock:
            self.in_flight -= 1

    def of(self, service: str, operation: str) -> list[dict[str, Any]]:
        return [p for s, o, p in self.requests if (s, o) == (service, operation)]


@dataclass
class Seeded:
    albs: list[str]
    nlbs: list[str]
    alb_listener: str
    nlb_listener: str
    acls: list[str]


@pytest.fixture(scope="module")
def run(moto_server) -> Iterator[tuple[Seeded, Wire, AwsInventory, list[Coverage], CallCounter]]:
    with moto_env(moto_server):
        net = network()
        elbv2 = boto3.client("elbv2", region_name=REGION)
        albs = [
            elbv2.create_load_balancer(Name=f"alb-{i}", Subnets=net.subnets)["LoadBalancers"][0]["LoadBalancerArn"]
            for i in range(LOAD_BALANCERS - 2)
        ]
        nlbs = [
            elbv2.create_load_balancer(Name=f"nlb-{i}", Subnets=net.subnets, Type="network")["LoadBalancers"][0][
                "LoadBalancerArn"
            ]
            for i in range(2)
        ]
        fixed: Any = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]
        alb_listener = elbv2.create_listener(LoadBalancerArn=albs[0], Protocol="HTTP", Port=80, DefaultActions=fixed)[
            "Listeners"
        ][0]["ListenerArn"]
        tg = elbv2.create_target_group(Name="tcp", Protocol="TCP", Port=80, VpcId=net.vpc)["TargetGroups"][0]
        nlb_listener = elbv2.create_listener(
            LoadBalancerArn=nlbs[0],
            Protocol="TCP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
        )["Listeners"][0]["ListenerArn"]
        waf = boto3.client("wafv2", region_name=REGION)
        acls = [
            waf.create_web_acl(
                Name=f"acl-{i}", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=VISIBILITY
            )["Summary"]["ARN"]
            for i in range(3)
        ]
        for lb in albs[:6]:
            waf.associate_web_acl(WebACLArn=acls[0], ResourceArn=lb)
        waf.associate_web_acl(WebACLArn=acls[1], ResourceArn=albs[6])

        settings = Settings(aws=AwsSettings(max_concurrency=CONCURRENCY))
        counter = CallCounter()
        session = open_account(AccountConfig(), settings.aws, region=REGION, counter=counter)
        wire = Wire()
        for service in ("elbv2", "elb", "acm", "wafv2", "ec2", "eks", "iam", "cloudwatch", "pricing", "ce"):
            events = session.client(service, "us-east-1" if service in ("pricing", "ce") else REGION).meta.events
            events.register("provide-client-params", wire.params)
            events.register("before-call", wire.start)
            events.register("after-call", wire.end)
        inv, cov = collect_aws(TargetConfig(name="t", regions=[REGION]), settings, counter=counter, sessions=[session])
        yield Seeded(albs, nlbs, alb_listener, nlb_listener, acls), wire, inv, cov, counter


def test_collection_complete(run):
    seeded, _, inv, cov, _ = run
    assert {c.collector: c.status for c in cov} == {
        "elbv2": CoverageStatus.OK,
        "elb": CoverageStatus.OK,
        "acm": CoverageStatus.OK,
        "wafv2": CoverageStatus.OK,
        "ec2": CoverageStatus.OK,
        "eks": CoverageStatus.SKIPPED,  # no cluster name in this target
        "iam": CoverageStatus.OK,
        "cloudwatch": CoverageStatus.OK,
        "pricing": CoverageStatus.OK,
        "costexplorer": CoverageStatus.OK,
    }
    assert len(inv.load_balancers) == LOAD_BALANCERS
    assert {lb.type for lb in inv.load_balancers if lb.arn in seeded.nlbs} == {"network"}


def test_tags_batched_by_twenty(run):
    _, wire, _, _, counter = run
    calls = [p["ResourceArns"] for p in wire.of("elbv2", "DescribeTags")]
    # 45 load balancers and 1 target group in one batch of 46 ARNs -> 3 calls of at most 20
    assert sorted(len(arns) for arns in calls) == [6, 20, 20]
    tagged = [arn for arns in calls for arn in arns]
    assert len(tagged) == len(set(tagged)) == 46 and sum(":targetgroup/" in a for a in tagged) == 1
    assert counter.snapshot()["elasticloadbalancing:DescribeTags"] == 3
    assert "DescribeTags" not in {o for s, o, _ in wire.requests if s == "elb"}  # no classic LB: no call


def test_page_size_400_sent(run):
    _, wire, *_ = run
    for service, operation in [
        ("elbv2", "DescribeLoadBalancers"),
        ("elbv2", "DescribeTargetGroups"),
        ("elbv2", "DescribeListeners"),
        ("elbv2", "DescribeRules"),
        ("elb", "DescribeLoadBalancers"),
    ]:
        sent = wire.of(service, operation)
        assert sent, f"{service}:{operation} not called"
        assert {p.get("PageSize") for p in sent} == {400}, f"{service}:{operation}"
    [acm] = wire.of("acm", "ListCertificates")
    assert acm["MaxItems"] == 1000
    assert set(acm["Includes"]["keyTypes"]) == {
        "RSA_1024",
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
        "EC_prime256v1",
        "EC_secp384r1",
        "EC_secp521r1",
    }
    [waf] = wire.of("wafv2", "ListWebACLs")
    assert (waf["Scope"], waf["Limit"]) == ("REGIONAL", 100)


def test_listeners_once_per_load_balancer_and_rules_only_for_alb_listeners(run):
    seeded, wire, *_ = run
    listeners = [p["LoadBalancerArn"] for p in wire.of("elbv2", "DescribeListeners")]
    assert sorted(listeners) == sorted(seeded.albs + seeded.nlbs)
    assert [p["ListenerArn"] for p in wire.of("elbv2", "DescribeRules")] == [seeded.alb_listener]
    assert wire.of("elbv2", "DescribeListenerCertificates") == []  # no HTTPS/TLS listener


def test_waf_associations_cost_one_call_per_acl(run):
    seeded, wire, inv, _, counter = run
    assert counter.snapshot()["wafv2:ListResourcesForWebACL"] == len(seeded.acls)
    assert sorted(p["WebACLArn"] for p in wire.of("wafv2", "ListResourcesForWebACL")) == sorted(seeded.acls)
    assert {p["ResourceType"] for p in wire.of("wafv2", "ListResourcesForWebACL")} == {"APPLICATION_LOAD_BALANCER"}
    by_arn = {a.arn: a for a in inv.web_acls}
    assert sorted(by_arn[seeded.acls[0]].resource_arns) == sorted(seeded.albs[:6])
    assert "wafv2:GetWebACLForResource" not in counter.snapshot()


def test_no_security_group_or_certificate_calls_without_need(run):
    _, wire, *_ = run
    assert wire.of("ec2", "DescribeSecurityGroups") == []  # no LB has a security group
    assert wire.of("acm", "DescribeCertificate") == []


def test_concurrency_bounded(run):
    _, wire, *_ = run
    assert wire.in_flight == 0
    assert wire.peak == CONCURRENCY  # the fan-out does run in parallel, and never wider


def test_fan_out_inside_a_full_pool_does_not_deadlock():
    """A collector running in the only worker fans out: the caller does the work, nothing waits forever."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        fan = FanOut(pool, 1)
        outer = pool.submit(lambda: fan.map(lambda n: fan.map(lambda m: m * n, [1, 2]), [1, 2, 3]))
        assert outer.result(timeout=10) == [[1, 2], [2, 4], [3, 6]]


def test_fan_out_reraises_the_first_error():
    with ThreadPoolExecutor(max_workers=3) as pool:

        def boom(n: int) -> int:
            if n == 2:
                raise ValueError("two")
            return n

        with pytest.raises(ValueError, match="two"):
            FanOut(pool, 3).map(boom, [1, 2, 3, 4])
