"""idle-load-balancer: FAIL on too little traffic every day, PASS on traffic, UNKNOWN when metrics were not read."""

import pytest

from auditor.findings import KubeRef, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import LoadBalancerUsage
from auditor.rules.cost.idle_load_balancer import RULE
from auditor.rules.coverage import CoverageIndex, enforce
from tests.rules._harness import only, run
from tests.support import builders as b


def _usage(lb, daily):
    return LoadBalancerUsage(arn=lb.arn, window_days=len(daily), daily_requests=daily, average_lcus=0.0)


def _nlb_with_service(daily):
    nlb = b.load_balancer("k8s-db-pg", type="network", tags=b.service_tags("db/pg"), azs=2)
    svc = b.service(
        "db", "pg", ports=(5432,), lb=nlb, annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"}
    )
    inv = b.inventory(lbs=[nlb], services=[svc])
    inv.aws.lb_usage = [_usage(nlb, daily)]
    return nlb, inv


def test_too_few_new_flows_every_day_fails_with_the_saving_and_the_service_to_change():
    daily = [900.0] * 7 + [12.0, 0.0, 3.0, 0.0, 0.0, 0.0, 99.0]  # busy a week ago, idle for the last 7 days
    nlb, inv = _nlb_with_service(daily)
    f = only(RULE, inv)
    assert f.status == Status.FAIL and f.resource_arn == nlb.arn
    assert f.kubernetes == KubeRef(kind="Service", namespace="db", name="pg")
    assert "fewer than 100 new flows a day on each of the last 7 days (at most 99)" in f.message
    # 730 × 0.0225 + 0 NLCU + 2 public IPv4 (one per AZ) × 730 × 0.005
    assert f.monthly_saving_usd == pytest.approx(16.43 + 7.30, abs=0.01)
    assert f.evidence["monthly_saving_usd"] == f.monthly_saving_usd
    assert "kubectl -n db patch service pg" in f.remediation and "ClusterIP" in f.remediation


def test_one_busy_day_in_the_last_seven_passes_and_the_threshold_is_configurable():
    daily = [0.0] * 13 + [150.0]
    _, inv = _nlb_with_service(daily)
    assert only(RULE, inv).status == Status.PASS
    assert only(RULE, inv, idle_requests_per_day=200).status == Status.FAIL


def test_alb_counts_requests_and_an_orphan_is_deleted_in_aws():
    alb = b.load_balancer("k8s-gone", tags=b.ingress_tags("old/gone"))
    inv = b.inventory(lbs=[alb])
    inv.aws.lb_usage = [_usage(alb, [0.0] * 14)]
    f = only(RULE, inv)
    assert f.status == Status.FAIL and "requests a day" in f.message
    assert f"aws elbv2 delete-load-balancer --load-balancer-arn {alb.arn}" in f.remediation


def test_metrics_not_read_is_unknown_never_pass():
    alb = b.load_balancer("web", tags=b.ingress_tags("shop/web"))
    f = only(RULE, b.inventory(lbs=[alb]))  # no usage in the inventory
    assert f.status == Status.UNKNOWN and "metrics were not read" in f.message


def test_metrics_denied_turns_every_verdict_unknown():
    alb = b.load_balancer("web", tags=b.ingress_tags("shop/web"))
    inv = b.inventory(lbs=[alb])
    inv.aws.lb_usage = [_usage(alb, [5000.0] * 14)]
    denied = b.partial_coverage("cloudwatch", Facet.CLOUDWATCH_METRICS)
    inv.coverage = [c for c in inv.coverage if c.collector != "cloudwatch"] + [denied]
    findings = enforce(RULE.meta, run(RULE, inv), CoverageIndex(inv))
    assert {f.status for f in findings} == {Status.UNKNOWN}
    mine = [f for f in findings if f.resource_arn == alb.arn]
    assert len(mine) == 1 and mine[0].evidence["coverage_gaps"][0]["facet"] == Facet.CLOUDWATCH_METRICS


def test_no_healthy_target_on_any_day_is_idle_even_with_traffic():
    alb = b.load_balancer("web", tags=b.ingress_tags("shop/web"))
    inv = b.inventory(lbs=[alb], ingresses=[b.ingress("shop", "web", lb=alb)])
    busy = LoadBalancerUsage(
        arn=alb.arn,
        window_days=14,
        daily_requests=[5000.0] * 14,  # clients keep trying: every request answered 503
        average_lcus=0.1,
        healthy_hosts_max=0.0,
        healthy_hosts_days=14,
    )
    inv.aws.lb_usage = [busy]
    f = only(RULE, inv)
    assert f.status == Status.FAIL and "had no healthy target on any day of the last 14 days" in f.message
    assert "fewer than" not in f.message
    assert f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    # a partial health record judges nothing: days without HealthyHostCount are not known
    inv.aws.lb_usage = [busy.model_copy(update={"healthy_hosts_days": 9})]
    assert only(RULE, inv).status == Status.PASS
