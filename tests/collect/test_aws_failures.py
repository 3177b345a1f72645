"""Failures become coverage data: an unreachable service, a broken account, and the rest still collected."""

from __future__ import annotations

import boto3

from auditor.collect.aws import REGIONAL, collect_aws
from auditor.collect.aws.session import CallCounter
from auditor.config import AccountConfig, AwsSettings, Settings, TargetConfig
from auditor.inventory.models import CoverageStatus
from auditor.progress import ProgressEvent
from tests.collect.test_aws_seed import ACCOUNT, REGION, VISIBILITY, network

ONE_ATTEMPT = Settings(aws=AwsSettings(max_attempts=1))


def seed_small() -> str:
    net = network()
    elbv2 = boto3.client("elbv2", region_name=REGION)
    lb = elbv2.create_load_balancer(Name="web", Subnets=net.subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    waf = boto3.client("wafv2", region_name=REGION)
    acl = waf.create_web_acl(Name="acl", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=VISIBILITY)
    waf.associate_web_acl(WebACLArn=acl["Summary"]["ARN"], ResourceArn=lb)
    return lb


def test_unreachable_service_is_an_error_and_the_others_complete(aws, monkeypatch):
    lb = seed_small()
    monkeypatch.setenv("AWS_ENDPOINT_URL_WAFV2", "http://127.0.0.1:1")  # nothing listens there
    events: list[ProgressEvent] = []
    inv, cov = collect_aws(
        TargetConfig(name="t", regions=[REGION]), ONE_ATTEMPT, counter=CallCounter(), progress=events.append
    )
    status = {c.collector: c for c in cov}
    waf = status["wafv2"]
    assert waf.status == CoverageStatus.ERROR
    assert waf.error_code == "EndpointConnectionError"
    assert "ListWebACLs" in (waf.message or "")
    assert inv.web_acls == []
    assert {name: c.status for name, c in status.items() if name not in ("wafv2", "eks")} == {
        "elbv2": CoverageStatus.OK,
        "elb": CoverageStatus.OK,
        "acm": CoverageStatus.OK,
        "ec2": CoverageStatus.OK,
        "iam": CoverageStatus.OK,
        "cloudwatch": CoverageStatus.OK,
        "pricing": CoverageStatus.OK,
    }
    assert [x.arn for x in inv.load_balancers] == [lb]
    assert any(e.stage == "aws:wafv2" and e.status == "error" for e in events)


def test_account_that_cannot_be_opened_is_recorded_and_the_other_collected(aws):
    seed_small()
    wrong = AccountConfig(id="111111111111")  # the credentials belong to another account
    inv, cov = collect_aws(
        TargetConfig(name="t", regions=[REGION, "us-east-2"], accounts=[wrong, AccountConfig()]),
        ONE_ATTEMPT,
        counter=CallCounter(),
    )
    broken = [c for c in cov if c.account == "111111111111"]
    assert {(c.collector, c.region) for c in broken} == {
        *((name, region) for name in REGIONAL for region in (REGION, "us-east-2")),
        ("iam", None),
        ("pricing", None),
    }
    assert {c.status for c in broken} == {CoverageStatus.ERROR}
    assert all("111111111111" in (c.message or "") for c in broken)
    good = [c for c in cov if c.account == ACCOUNT]
    assert len(good) == len(broken)
    assert {c.status for c in good if c.collector != "eks"} == {CoverageStatus.OK}
    assert [lb.name for lb in inv.load_balancers] == ["web"]


def test_unreachable_aws_for_every_account_does_not_raise(aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    inv, cov = collect_aws(TargetConfig(name="t", regions=[REGION]), ONE_ATTEMPT, counter=CallCounter())
    assert inv.load_balancers == []
    assert cov and {c.status for c in cov} == {CoverageStatus.ERROR}
    assert {c.error_code for c in cov} == {"TargetUnreachable"}
