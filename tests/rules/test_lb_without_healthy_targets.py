"""lb-without-healthy-targets: nothing healthy behind a load balancer, with the Kubernetes reason."""

import json
from datetime import UTC, datetime

import pytest

from auditor.errors import SnapshotError
from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.models import Inventory, Listener, TargetHealth
from auditor.rules.hygiene.lb_without_healthy_targets import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"
UNHEALTHY = TargetHealth(id="10.0.1.10", port=80, state="unhealthy", reason="Target.FailedHealthChecks")


def _alb_setup(targets, *, slices=None, services=None):
    lb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    tg = b.target_group(
        "k8s-shop-web-tg",
        lb,
        targets=targets,
        tags={"ingress.k8s.aws/resource": "shop/web-web:80", "ingress.k8s.aws/stack": "shop/web"},
    )
    tg.health_check_path = "/healthz"
    ing = b.ingress("shop", "web", lb=lb)
    inv = b.inventory(
        lbs=[lb],
        target_groups=[tg],
        ingresses=[ing],
        services=services if services is not None else [b.service("shop", "web", type="ClusterIP")],
        endpoint_slices=slices,
    )
    return lb, inv


def test_selector_matching_no_ready_pods_is_the_reason():
    lb, inv = _alb_setup([UNHEALTHY], slices=[b.endpoint_slice("shop", "web", ready=0, not_ready=2)])
    f = only(RULE, inv)
    assert f.status == Status.FAIL and f.severity == Severity.MEDIUM
    assert f.resource_arn == lb.arn and f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    assert "selector app=web of Service shop/web matches no ready pods" in f.message
    tg = f.evidence["target_groups"][0]
    assert tg["backend"] == "shop/web:80" and tg["states"] == {"unhealthy": 1}
    assert tg["reasons"] == ["Target.FailedHealthChecks"]
    assert "kubectl get pods -l" in f.remediation


def test_missing_service_and_empty_target_group():
    _, inv = _alb_setup([], services=[])
    f = only(RULE, inv)
    assert f.status == Status.FAIL and "no registered targets" in f.message
    assert "Service shop/web does not exist" in f.message
    assert "Create the missing Service" in f.remediation


def test_ready_pods_with_failing_health_check_points_at_the_probe():
    _, inv = _alb_setup([UNHEALTHY], slices=[b.endpoint_slice("shop", "web", ready=2)])
    f = only(RULE, inv)
    assert "2 ready pod endpoint(s)" in f.message and "health check on /healthz fails" in f.message
    assert f"{ALB}healthcheck-path" in f.remediation


def test_healthy_target_passes():
    _, inv = _alb_setup([TargetHealth(id="10.0.1.10", port=80, state="healthy"), UNHEALTHY])
    f = only(RULE, inv)
    assert f.status == Status.PASS and f.evidence["healthy_targets"] == 1


def test_target_health_not_collected_is_unknown():
    _, inv = _alb_setup(None)
    inv.aws.target_groups[0].targets = None
    f = only(RULE, inv)
    assert f.status == Status.UNKNOWN and "k8s-shop-web-tg was not collected" in f.message


def test_incomplete_elbv2_inventory_is_unknown_without_a_healthy_target():
    lb = b.load_balancer("manual", listeners=[b.listener(80, "HTTP", default=b.forward("tg"))])
    f = only(RULE, b.inventory(lbs=[lb], failed={"elbv2": "Throttling"}))
    assert f.status == Status.UNKNOWN and "incomplete" in f.message


def test_nlb_service_reason_via_controller_tags_and_kubernetes_not_collected():
    nlb = b.load_balancer("k8s-db-pg", type="network", tags=b.service_tags("db/pg"))
    tg = b.target_group("k8s-db-pg-tg", nlb, targets=[], tags={"service.k8s.aws/resource": "db/pg:5432"})
    svc = b.service(
        "db", "pg", ports=(5432,), lb=nlb, annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"}
    )
    f = only(RULE, b.inventory(lbs=[nlb], target_groups=[tg], services=[svc]))
    assert f.status == Status.FAIL and "selector app=pg of Service db/pg matches no ready pods" in f.message
    assert f.kubernetes == KubeRef(kind="Service", namespace="db", name="pg")
    # without Kubernetes the AWS fact stands, only the reason is missing
    f = only(RULE, b.inventory(lbs=[nlb], target_groups=[tg], kube=False))
    assert f.status == Status.FAIL and f.evidence["target_groups"][0]["kubernetes_reason"] is None


def test_classic_load_balancer_instances():
    out = TargetHealth(id="i-1", state="OutOfService")
    clb = b.load_balancer("a0123", type="classic", tags=b.intree_tags("legacy/app"), instances=[out])
    svc = b.service("legacy", "app", lb=clb)
    f = only(RULE, b.inventory(lbs=[clb], services=[svc]))
    assert f.status == Status.FAIL and "no InService instance" in f.message
    assert "matches no ready pods" in f.message and f.evidence["states"] == {"OutOfService": 1}

    clb.instances = [out, TargetHealth(id="i-2", state="InService")]
    assert only(RULE, b.inventory(lbs=[clb], services=[svc])).status == Status.PASS

    clb.instances = None
    assert only(RULE, b.inventory(lbs=[clb], services=[svc])).status == Status.UNKNOWN


def test_orphaned_load_balancer_is_reported_with_a_delete_fix():
    gone = b.load_balancer("k8s-old-svc", type="network", tags=b.service_tags("old/svc"))
    tg = b.target_group("k8s-old-svc-tg", gone, targets=[])
    f = only(RULE, b.inventory(lbs=[gone], target_groups=[tg]))
    assert f.status == Status.FAIL and f.kubernetes is None and "orphaned: owner-gone" in f.message
    assert f"aws elbv2 delete-load-balancer --load-balancer-arn {gone.arn}" in f.remediation


def test_redirect_only_alb_needs_no_targets_but_a_forwarding_one_does():
    redirect_only = b.load_balancer(
        "redirector", listeners=[b.listener(80, "HTTP", default=b.redirect_https()), b.listener(443, "HTTPS")]
    )
    forwarding = b.load_balancer("empty", listeners=[b.listener(80, "HTTP", default=b.forward("gone"))])
    found = {f.resource_name: f for f in run(RULE, b.inventory(lbs=[redirect_only, forwarding]))}
    assert found["redirector"].status == Status.PASS and "needs no targets" in found["redirector"].message
    assert found["empty"].status == Status.FAIL and "no target group at all" in found["empty"].message

    unknown_rules = b.listener(80, "HTTP", default=b.redirect_https())
    unknown_rules.rules = None
    lb = b.load_balancer("unknown", listeners=[unknown_rules])
    assert only(RULE, b.inventory(lbs=[lb])).status == Status.UNKNOWN


def test_other_clusters_load_balancers_are_not_examined():
    other = b.load_balancer(
        "k8s-prod", tags=b.ingress_tags("a/b", cluster="prod"), listeners=[Listener(port=80, protocol="HTTP")]
    )
    assert run(RULE, b.inventory(lbs=[other], cluster_names=["demo", "prod"])) == []


# --------------------------------------------------------------------------- health counted by CloudWatch


AT = datetime(2026, 12, 6, 9, 14, tzinfo=UTC)


def _counted(tg, healthy: int) -> None:
    """What the collector records for a group CloudWatch's HealthyHostCount shows healthy: no DescribeTargetHealth."""
    tg.targets, tg.healthy_count, tg.healthy_count_at = None, healthy, AT


def test_a_group_counted_healthy_by_cloudwatch_passes_and_says_so():
    _, inv = _alb_setup(None)
    _counted(inv.aws.target_groups[0], 3)
    f = only(RULE, inv)
    assert f.status == Status.PASS and f.evidence["healthy_targets"] == 3
    assert f.evidence["healthy_by_cloudwatch"] == {
        "k8s-shop-web-tg": {"source": "CloudWatch HealthyHostCount", "healthy": 3, "at": "2026-12-06T09:14:00+00:00"}
    }
    assert "3 healthy target(s) (CloudWatch HealthyHostCount of 2026-12-06 09:14 UTC)" in f.message


def test_counted_and_described_groups_add_up_and_the_unhealthy_ones_still_fail():
    lb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    counted, described = b.target_group("counted", lb), b.target_group("described", lb, targets=[UNHEALTHY])
    _counted(counted, 2)
    f = only(
        RULE, b.inventory(lbs=[lb], target_groups=[counted, described], ingresses=[b.ingress("shop", "web", lb=lb)])
    )
    assert f.status == Status.PASS and f.evidence["healthy_targets"] == 2
    assert set(f.evidence["healthy_by_cloudwatch"]) == {"counted"}
    # described only (the collector describes every group CloudWatch does not show healthy): FAIL with reasons
    f = only(RULE, b.inventory(lbs=[lb], target_groups=[described], ingresses=[b.ingress("shop", "web", lb=lb)]))
    assert f.status == Status.FAIL and f.evidence["target_groups"][0]["reasons"] == ["Target.FailedHealthChecks"]
    assert "healthy_by_cloudwatch" not in f.evidence


def test_a_count_of_zero_without_described_targets_is_unknown_never_a_fail():
    """The collector never records one (it describes such groups); a snapshot could: no states, no reasons."""
    _, inv = _alb_setup(None)
    _counted(inv.aws.target_groups[0], 0)
    f = only(RULE, inv)
    assert f.status == Status.UNKNOWN and "k8s-shop-web-tg was not collected" in f.message


def test_snapshots_before_the_count_still_read_and_the_count_round_trips():
    _, inv = _alb_setup(None)
    _counted(inv.aws.target_groups[0], 3)
    doc = json.loads(inv.dump_json())
    again = Inventory.parse(json.dumps(doc))
    assert again.aws.target_groups[0].healthy_count_at == AT and only(RULE, again).status == Status.PASS
    # version 4 knew no count: its groups were described (or not read)
    doc["schema_version"] = 4
    for tg in doc["aws"]["target_groups"]:
        del tg["healthy_count"], tg["healthy_count_at"]
        tg["targets"] = [{"id": "10.0.1.10", "port": 80, "state": "healthy", "reason": None, "description": None}]
    old = Inventory.parse(json.dumps(doc))
    assert old.aws.target_groups[0].health_source == "DescribeTargetHealth"
    assert only(RULE, old).evidence["healthy_targets"] == 1
    doc["aws"]["target_groups"][0]["healthy_count_at"] = "2026-12-06T09:14:00"
    with pytest.raises(SnapshotError, match=r"aws.target_groups.0.healthy_count_at: .* has no time zone"):
        Inventory.parse(json.dumps(doc))


def test_a_classic_load_balancer_counted_by_cloudwatch_passes_and_says_so():
    clb = b.load_balancer("a0123", type="classic", tags=b.intree_tags("legacy/app"), instances=None)
    clb.healthy_count, clb.healthy_count_at = 2, AT  # not described: CloudWatch showed InService instances
    svc = b.service("legacy", "app", lb=clb)
    f = only(RULE, b.inventory(lbs=[clb], services=[svc]))
    assert f.status == Status.PASS
    assert "2 InService instance(s) (CloudWatch HealthyHostCount of 2026-12-06 09:14 UTC)" in f.message
    assert f.evidence["healthy_by_cloudwatch"] == {
        "source": "CloudWatch HealthyHostCount",
        "healthy": 2,
        "at": "2026-12-06T09:14:00+00:00",
    }
    # a count of zero is never recorded by the collector (it describes the instances then): not read, UNKNOWN
    clb.healthy_count = 0
    assert only(RULE, b.inventory(lbs=[clb], services=[svc])).status == Status.UNKNOWN
