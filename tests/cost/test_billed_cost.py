"""Billed cost from Cost Explorer's resource-level data (issue #10, item 8): beside the estimate with the difference;
absent or denied, coverage says so and nothing else changes."""

from __future__ import annotations

import boto3
import pytest

from auditor.config import Settings, TargetConfig
from auditor.cost.estimate import DAYS_PER_MONTH
from auditor.demo.motoserver import MotoServer
from auditor.inventory.facets import Facet
from auditor.inventory.models import CoverageStatus
from auditor.pipeline import run_audit
from tests.collect.test_aws_seed import REGION, network

TARGET = TargetConfig(name="t", kubernetes=False, regions=[REGION])


def _alb() -> str:
    net = network()
    elbv2 = boto3.client("elbv2", region_name=REGION)
    arn: str = elbv2.create_load_balancer(Name="web", Subnets=net.subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    return arn


def test_billed_cost_beside_the_estimate(aws: MotoServer) -> None:
    arn = _alb()
    aws.serve_billed_costs({arn: 1.5, "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/gone/1": 9})
    outcome = run_audit(TARGET, Settings())
    [view] = outcome.result.load_balancers
    assert view.billed_days == 14 and view.billed_usd == 21.0  # 14 days at $1.50
    assert view.monthly_cost_usd is not None
    assert view.billed_difference_usd == round(21.0 - view.monthly_cost_usd * 14 / DAYS_PER_MONTH, 2)
    [cov] = [c for c in outcome.result.coverage if c.collector == "costexplorer"]
    assert cov.status == CoverageStatus.OK and cov.calls == 14  # one day per page in the stand-in: paged through
    assert outcome.result.status == "complete"


@pytest.mark.parametrize(
    ("enabled", "denied", "code"), [(False, False, "DataUnavailable"), (True, True, "AccessDenied")]
)
def test_absent_or_denied_says_so_and_nothing_else_changes(
    aws: MotoServer, enabled: bool, denied: bool, code: str
) -> None:
    arn = _alb()
    without = run_audit(TARGET, Settings())  # nothing served: no billed cost, but the call answered
    aws.serve_billed_costs({arn: 1.5}, enabled=enabled, denied=denied)
    outcome = run_audit(TARGET, Settings())
    [view] = outcome.result.load_balancers
    assert view.billed_usd is None and view.billed_difference_usd is None
    [cov] = [c for c in outcome.result.coverage if c.collector == "costexplorer"]
    assert cov.status == CoverageStatus.SKIPPED and code in (cov.message or "")
    assert cov.facet(Facet.COSTEXPLORER_RESOURCE_COSTS).status == CoverageStatus.SKIPPED
    assert outcome.result.status == "complete"  # not partial: no verdict rests on the billed cost
    verdicts = {(f.rule_id, f.status) for f in outcome.result.findings}
    assert verdicts == {(f.rule_id, f.status) for f in without.result.findings}


def test_more_pages_than_the_guard_is_not_read_rather_than_cut_short(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load balancer's days may sit on the pages not read: a total cut short would understate what AWS billed."""
    from auditor.collect.aws import costexplorer

    monkeypatch.setattr(costexplorer, "MAX_PAGES", 5)  # the stand-in serves one day per page: 14 pages
    aws.serve_billed_costs({_alb(): 1.5})
    outcome = run_audit(TARGET, Settings())
    [view] = outcome.result.load_balancers
    assert view.billed_usd is None
    [cov] = [c for c in outcome.result.coverage if c.collector == "costexplorer"]
    assert cov.status == CoverageStatus.SKIPPED and "more than 5 pages" in (cov.message or "")
    assert cov.calls == 5 and outcome.result.status == "complete"


def test_an_amount_that_is_not_a_finite_number_leaves_that_load_balancer_with_estimates_only(aws: MotoServer) -> None:
    """A total without that day would be too low, one with NaN no total: estimates only, for it alone."""
    arn = _alb()
    elbv2 = boto3.client("elbv2", region_name=REGION)
    subnets = [az["SubnetId"] for az in elbv2.describe_load_balancers()["LoadBalancers"][0]["AvailabilityZones"]]
    other = elbv2.create_load_balancer(Name="api", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    aws.serve_billed_costs({arn: float("nan"), other: 1.5})
    outcome = run_audit(TARGET, Settings())
    views = {v.arn: v for v in outcome.result.load_balancers}
    assert views[arn].billed_usd is None and views[arn].billed_difference_usd is None
    assert views[arn].monthly_cost_usd is not None  # the estimate stands
    assert views[other].billed_usd == 21.0
    [cov] = [c for c in outcome.result.coverage if c.collector == "costexplorer"]
    assert cov.status == CoverageStatus.OK and outcome.result.status == "complete"
