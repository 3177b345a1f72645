"""Who pays: a shared ALB split across its group's Ingresses by target-group requests, else by rules; the
parts add up to each load balancer's estimate; totals per owner, namespace, cluster and team."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.correlate import correlate
from auditor.cost import allocate, cost_by, node_estimate
from auditor.cost.allocate import NO_OWNER, NO_TEAM, UNATTRIBUTED, shares
from auditor.inventory.models import LoadBalancerUsage
from tests.support import builders as b

GROUP = {"alb.ingress.kubernetes.io/group.name": "shared"}


def _tg(name: str, resource: str, lb):
    return b.target_group(name, lb, tags={"ingress.k8s.aws/stack": "shared", "ingress.k8s.aws/resource": resource})


def _shared(requests: dict[str, float] | None):
    alb = b.load_balancer("k8s-shared", tags=b.ingress_tags("shared"), azs=2)
    tgs = [
        _tg("tg-shop-web", "shop/web-web:80", alb),
        _tg("tg-shop-api", "shop/api-api:80", alb),
        _tg("tg-blog-web", "blog/web-web:80", alb),
    ]
    ingresses = [
        b.ingress("shop", "web", annotations=GROUP, lb=alb),
        b.ingress("shop", "api", annotations=GROUP, backend=("api", 80), lb=alb),
        b.ingress("blog", "web", annotations=GROUP, lb=alb),
    ]
    ingresses[0].labels["team"] = "storefront"
    ingresses[1].labels["team"] = "storefront"
    ingresses[2].annotations["team"] = "content"  # a label first, else an annotation
    nlb = b.load_balancer("k8s-db-pg", type="network", scheme="internal", tags=b.service_tags("db/pg"))
    svc = b.service(
        "db", "pg", ports=(5432,), lb=nlb, annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"}
    )
    orphan = b.load_balancer("k8s-gone", type="network", scheme="internal", tags=b.service_tags("old/gone"))
    inv = b.inventory(lbs=[alb, nlb, orphan], target_groups=tgs, ingresses=ingresses, services=[svc])
    if requests is not None:
        by_name = {tg.name: tg.arn for tg in tgs}
        inv.aws.lb_usage = [
            LoadBalancerUsage(
                arn=alb.arn,
                window_days=14,
                daily_requests=[100.0] * 14,
                average_lcus=0.0,
                target_group_requests={
                    by_name.get(n, b.arn("elasticloadbalancing", f"targetgroup/{n}/0")): r for n, r in requests.items()
                },
            )
        ]
    return correlate(inv), alb, nlb, orphan


def test_shared_alb_is_split_by_each_ingresses_requests_and_the_parts_add_up():
    graph, alb, *_ = _shared({"tg-shop-web": 600.0, "tg-shop-api": 300.0, "tg-blog-web": 100.0})
    node = graph.lb(alb.arn)
    total = node_estimate(node).monthly_usd
    got = shares(graph, node)
    assert {s.owner: s.monthly_usd for s in got} == {
        "Ingress shop/web": pytest.approx(total * 0.6, abs=0.01),
        "Ingress shop/api": pytest.approx(total * 0.3, abs=0.01),
        "Ingress blog/web": pytest.approx(total * 0.1, abs=0.01),
    }
    assert {s.method for s in got} == {"requests"}
    assert round(sum(s.monthly_usd for s in got), 2) == total  # to the cent


def test_without_request_counts_the_split_is_even_across_rules_and_says_so():
    graph, alb, *_ = _shared(None)
    node = graph.lb(alb.arn)
    got = shares(graph, node)
    assert {s.method for s in got} == {"rules"}
    assert round(sum(s.monthly_usd for s in got), 2) == node_estimate(node).monthly_usd
    assert max(s.monthly_usd for s in got) - min(s.monthly_usd for s in got) <= 0.01  # one rule each: thirds


def test_traffic_nobody_can_be_charged_for_falls_back_to_rules():
    graph, alb, *_ = _shared({"tg-shop-web": 600.0, "tg-unknown": 50.0})
    assert {s.method for s in shares(graph, graph.lb(alb.arn))} == {"rules"}


def test_totals_per_owner_namespace_cluster_and_team_add_up():
    graph, alb, nlb, orphan = _shared({"tg-shop-web": 600.0, "tg-shop-api": 300.0, "tg-blog-web": 100.0})
    parts = allocate(graph)
    whole = sum(node_estimate(graph.lb(x.arn)).monthly_usd for x in (alb, nlb, orphan))
    for group_by in ("owner", "namespace", "cluster", "team"):
        assert sum(cost_by(parts, group_by).values()) == pytest.approx(whole, abs=0.02), group_by
    by_ns = cost_by(parts, "namespace")
    assert set(by_ns) == {"shop", "blog", "db", UNATTRIBUTED}
    assert by_ns["db"] == node_estimate(graph.lb(nlb.arn)).monthly_usd
    assert cost_by(parts, "owner")[NO_OWNER] == node_estimate(graph.lb(orphan.arn)).monthly_usd
    teams = cost_by(parts, "team")
    assert set(teams) == {"storefront", "content", NO_TEAM}
    assert cost_by(parts, "cluster") == {b.CLUSTER: pytest.approx(whole, abs=0.02)}


def test_unknown_grouping_is_refused():
    with pytest.raises(ValueError, match="group_by must be one of"):
        cost_by([], "colour")


def test_cli_cost_groups_a_snapshot(tmp_path):
    graph, *_ = _shared({"tg-shop-web": 600.0, "tg-shop-api": 300.0, "tg-blog-web": 100.0})
    snap = tmp_path / "snap.json"
    snap.write_text(graph.inventory.dump_json())
    result = CliRunner().invoke(cli, ["cost", "--snapshot", str(snap), "--group-by", "team", "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["group_by"] == "team" and set(doc["monthly_usd"]) == {"storefront", "content", NO_TEAM}
    assert doc["split_methods"] == {"requests": 3, "sole-owner": 1, "unowned": 1}
    assert doc["total_monthly_usd"] == pytest.approx(sum(doc["monthly_usd"].values()), abs=0.01)
    table = CliRunner().invoke(cli, ["cost", "--snapshot", str(snap)])
    assert table.exit_code == 0 and "shares: 3 by requests" in table.stdout
