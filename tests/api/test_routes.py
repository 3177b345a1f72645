"""The API answers platform teams' questions from the stored history; bad input is 422, never 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auditor.store import runs as store_runs
from auditor.store.db import make_engine, session_factory
from auditor.store.targets import get_target
from tests.api.conftest import Api
from tests.store.results import result


def _rules(body: dict[str, Any]) -> list[str]:
    return [f["rule_id"] for f in body["items"]]


def test_findings_filters_and_status(api: Api) -> None:
    c, h = api.client, api.read
    body = c.get("/api/v1/findings", headers=h).json()
    # open by default, worst first; rule-b was resolved by the second complete run of prod
    assert _rules(body) == ["rule-a", "rule-c", "rule-u", "rule-a"]
    assert [f["cluster"] for f in body["items"]] == ["prod", "prod", "prod", "stage"]
    assert body["items"][2]["status"] == "unknown"
    assert _rules(c.get("/api/v1/findings?status=resolved", headers=h).json()) == ["rule-b"]
    assert _rules(c.get("/api/v1/findings?cluster=prod-eks&severity=medium&severity=high", headers=h).json()) == [
        "rule-a",
        "rule-c",
    ]
    assert _rules(c.get("/api/v1/findings?namespace=ops", headers=h).json()) == ["rule-u"]
    assert _rules(c.get("/api/v1/findings?rule=rule-a&cluster=stage", headers=h).json()) == ["rule-a"]
    since = "2030-01-01T10:30:00Z"  # between the two prod runs: only what the second one found
    assert _rules(c.get(f"/api/v1/findings?since={since}&cluster=prod", headers=h).json()) == ["rule-c"]
    one = c.get("/api/v1/findings?limit=1&with_total=true", headers=h).json()
    assert one["total"] == 4 and one["next_cursor"]
    two = c.get(f"/api/v1/findings?limit=1&cursor={one['next_cursor']}", headers=h).json()
    assert two["items"][0]["id"] != one["items"][0]["id"]


@pytest.mark.parametrize(
    "query",
    [
        "severity=urgent",
        "status=everything",
        "limit=0",
        "limit=100000",
        "since=yesterday",
        "since=2030-01-01T10:00:00",  # no time zone
        "cursor=abc",
        "cursor=9.99999999999999999999999",
        "cluster=",
    ],
)
def test_bad_findings_parameters_are_422_with_a_message(api: Api, query: str) -> None:
    r = api.client.get(f"/api/v1/findings?{query}", headers=api.read)
    assert r.status_code == 422, r.text
    assert r.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/findings/abc", None),
        ("get", "/api/v1/runs?cursor=x", None),
        ("get", "/api/v1/runs/1/report?format=pdf", None),
        ("get", "/api/v1/load-balancers?type=alb", None),
        ("get", "/api/v1/load-balancers?offset=-5", None),
        ("post", "/api/v1/runs", {"cluster": "prod"}),
        ("post", "/api/v1/runs", "not json"),
        ("post", "/api/v1/suppressions", {"reason": "no matcher given"}),
        ("post", "/api/v1/suppressions", {"rule_id": "r", "reason": "ok!", "expires_at": "2030-01-01T00:00:00"}),
        ("post", "/api/v1/suppressions", {"rule_id": "r", "reason": "past", "expires_at": "2001-01-01T00:00:00Z"}),
        ("post", "/api/v1/targets", {"name": "x", "schedule": "every hour"}),
        ("post", "/api/v1/targets", {"name": "x", "regions": "eu-west-1", "bogus": 1}),
    ],
)
def test_bad_input_everywhere_is_422(api: Api, method: str, path: str, body: object) -> None:
    r = api.client.request(method, path, headers=api.admin, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["message"]


def test_missing_things_are_404(api: Api) -> None:
    for path in (
        "/api/v1/findings/999",
        "/api/v1/findings/0",  # no row has it: not found, as on every {id} path (test_bad_input)
        "/api/v1/runs/999",
        "/api/v1/runs/-1",
        "/api/v1/targets/nope",
        "/api/v1/summary?cluster=nope",
    ):
        r = api.client.get(path, headers=api.read)
        assert r.status_code == 404, path
        assert r.json()["detail"]
    assert api.client.post("/api/v1/runs", headers=api.admin, json={"target": "nope"}).status_code == 404


def test_one_finding_with_history(api: Api) -> None:
    listed = api.client.get("/api/v1/findings?cluster=prod&rule=rule-a", headers=api.read).json()["items"][0]
    body = api.client.get(f"/api/v1/findings/{listed['id']}", headers=api.read).json()
    assert body["fingerprint"] == listed["fingerprint"]
    assert [h["status"] for h in body["history"]] == ["FAIL", "FAIL"]
    assert body["kubernetes"] == {"kind": "Ingress", "namespace": "shop", "name": "web"}
    assert body["remediation"].startswith("add alb.ingress")
    resolved = api.client.get("/api/v1/findings?status=resolved", headers=api.read).json()["items"][0]
    history = api.client.get(f"/api/v1/findings/{resolved['id']}", headers=api.read).json()["history"]
    assert [h["status"] for h in history] == ["RESOLVED", "FAIL"]


def test_load_balancers_with_owner_findings_and_orphans(api: Api) -> None:
    body = api.client.get("/api/v1/load-balancers?cluster=prod", headers=api.read).json()
    assert body["total"] == 2
    web = next(i for i in body["items"] if i["type"] == "application")
    assert web["owner"] == {"kind": "Ingress", "namespace": "shop", "name": "web", "routes": []}
    assert {(f["rule_id"], f["status"]) for f in web["findings"]} == {
        ("rule-a", "open"),
        ("rule-c", "open"),
        ("rule-u", "unknown"),
    }
    orphans = api.client.get("/api/v1/load-balancers?orphan=true", headers=api.read).json()
    assert [(i["orphan"], i["monthly_cost_usd"]) for i in orphans["items"]] == [("owner-gone", 18.0)]


def test_runs_with_coverage_and_reports(api: Api) -> None:
    runs = api.client.get("/api/v1/runs?cluster=prod", headers=api.read).json()["items"]
    assert [r["status"] for r in runs] == ["complete", "complete"]
    latest = runs[0]
    assert (latest["findings_new"], latest["findings_resolved"]) == (1, 1)
    detail = api.client.get(f"/api/v1/runs/{latest['id']}", headers=api.read).json()
    assert detail["coverage"][0]["collector"] == "elbv2"
    assert detail["api_calls"]["sts:GetCallerIdentity"] == 1
    page = api.client.get("/api/v1/runs?limit=1", headers=api.read).json()
    assert api.client.get(f"/api/v1/runs?limit=1&cursor={page['next_cursor']}", headers=api.read).json()["items"]
    for fmt, media in [
        ("markdown", "text/markdown"),
        ("html", "text/html"),
        ("json", "application/json"),
        ("csv", "text/csv"),
        ("sarif", "application/sarif+json"),
    ]:
        r = api.client.get(f"/api/v1/runs/{latest['id']}/report?format={fmt}", headers=api.read)
        assert r.status_code == 200, (fmt, r.text)
        assert r.headers["content-type"].startswith(media)
        if fmt in ("markdown", "html"):
            assert "rule-c" in r.text
    latest_report = api.client.get("/api/v1/reports/latest?cluster=prod&format=json", headers=api.read)
    assert latest_report.status_code == 200


def test_suppressions_hide_findings_until_deleted_or_expired(api: Api) -> None:
    c = api.client
    r = c.post(
        "/api/v1/suppressions",
        headers=api.admin,
        json={"cluster": "prod", "rule_id": "rule-a", "reason": "risk accepted by sec team"},
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["created_by"] == "boss" and r.json()["cluster"] == "prod"
    assert "rule-a" not in _rules(c.get("/api/v1/findings?cluster=prod", headers=api.read).json())
    assert _rules(c.get("/api/v1/findings?status=suppressed", headers=api.read).json()) == ["rule-a"]
    assert "rule-a" in _rules(c.get("/api/v1/findings?cluster=stage", headers=api.read).json())  # other target
    assert [s["id"] for s in c.get("/api/v1/suppressions", headers=api.read).json()] == [sid]
    summary = c.get("/api/v1/summary?cluster=prod", headers=api.read).json()["clusters"][0]
    assert summary["suppressed"] == 1 and "high" not in summary["open_by_severity"]
    assert c.delete(f"/api/v1/suppressions/{sid}", headers=api.admin).status_code == 204
    assert c.delete(f"/api/v1/suppressions/{sid}", headers=api.admin).status_code == 404
    assert "rule-a" in _rules(c.get("/api/v1/findings?cluster=prod", headers=api.read).json())
    soon = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = c.post(
        "/api/v1/suppressions", headers=api.admin, json={"namespace": "ops", "reason": "tooling", "expires_at": soon}
    )
    assert r.status_code == 201
    assert _rules(c.get("/api/v1/findings?status=suppressed", headers=api.read).json()) == ["rule-u"]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("rule_id", "rule 03 with spaces", "a rule id is"),
        ("resource_arn", "not-an-arn", "an ARN is"),
        ("resource_arn", "arn:aws:elasticloadbalancing:eu-west-1:123456789012:", "an ARN is"),
        ("namespace", "Bad_NS!", "a namespace is a DNS label"),
        ("namespace", "x" * 64, "a namespace is a DNS label"),
        ("fingerprint", "zz", "a fingerprint is"),
    ],
)
def test_a_suppression_matcher_no_finding_can_have_is_refused_saying_what_one_looks_like(
    api: Api, field: str, value: str, says: str
) -> None:
    """Stored, it would match nothing, silently: a 422 naming the field and the shape."""
    r = api.client.post("/api/v1/suppressions", headers=api.admin, json={field: value, "reason": "accepted risk"})
    assert r.status_code == 422, r.text
    assert says in r.text and field in r.text
    assert api.client.get("/api/v1/suppressions", headers=api.read).json() == []


def test_cost_per_namespace_team_and_owner_of_the_latest_runs(api: Api) -> None:
    got = api.client.get("/api/v1/cost?group_by=namespace&cluster=prod", headers=api.read).json()
    assert got["monthly_usd"] == {"(no namespace)": 18.0, "shop": 22.0}
    assert got["total_monthly_usd"] == 40.0
    assert got["split_methods"] == {"sole-owner": 1, "unowned": 1}
    assert got["complete"] is True and got["partial_targets"] == []
    teams = api.client.get("/api/v1/cost?group_by=team", headers=api.read).json()["monthly_usd"]
    assert teams["storefront"] >= 22.0  # every target's latest run
    assert api.client.get("/api/v1/cost?group_by=colour", headers=api.read).status_code == 422
    assert api.client.get("/api/v1/cost?cluster=nowhere", headers=api.read).status_code == 404
    assert api.client.get("/api/v1/cost").status_code == 401


def test_cost_of_a_partial_latest_run_says_the_total_is_not_whole(api: Api, database_url: str) -> None:
    """As `auditor cost` exits 7: a partial run's load balancers are only those it read."""
    engine = make_engine(database_url)
    factory = session_factory(engine)
    with factory() as s:
        stage = get_target(s, "stage").id
    run = store_runs.claim_run(factory, stage, trigger="cli", owner="test")
    store_runs.record_result(factory, run.id, result([], n=2, status="partial", target="stage"))
    engine.dispose()
    got = api.client.get("/api/v1/cost", headers=api.read).json()
    assert got["complete"] is False and got["partial_targets"] == ["stage"]
    assert api.client.get("/api/v1/cost?cluster=prod", headers=api.read).json()["complete"] is True


def test_summary_per_cluster(api: Api) -> None:
    clusters = {c["cluster"]: c for c in api.client.get("/api/v1/summary", headers=api.read).json()["clusters"]}
    prod = clusters["prod"]
    assert prod["open_by_severity"] == {"high": 1, "medium": 1}
    assert prod["unknown"] == 1
    assert prod["load_balancers_by_type"] == {"application": 1, "network": 1}
    assert (prod["orphans"], prod["orphan_monthly_cost_usd"]) == (1, 18.0)
    # open findings' savings, the largest per load balancer: rule-a (22) and rule-c (18) name the same one
    assert prod["monthly_saving_usd"] == 22.0
    assert clusters["stage"]["monthly_saving_usd"] == 0.0
    items = api.client.get("/api/v1/findings?cluster=prod", headers=api.read).json()["items"]
    assert {i["rule_id"]: i["monthly_saving_usd"] for i in items} == {"rule-a": 22.0, "rule-c": 18.0, "rule-u": None}
    assert prod["last_run"]["status"] == "complete"
    assert clusters["stage"]["open_by_severity"] == {"info": 1}


def test_targets_crud(api: Api) -> None:
    c = api.client
    names = [t["name"] for t in c.get("/api/v1/targets", headers=api.read).json()]
    assert names == ["prod", "stage"]
    new = {"name": "dev", "regions": ["us-east-1"], "kubernetes": False, "schedule": "*/30 * * * *"}
    r = c.post("/api/v1/targets", headers=api.admin, json=new)
    assert r.status_code == 201 and r.json()["source"] == "api"
    assert c.post("/api/v1/targets", headers=api.admin, json=new).status_code == 409
    r = c.put("/api/v1/targets/dev", headers=api.admin, json={**new, "schedule": "0 3 * * *"})
    assert r.json()["schedule"] == "0 3 * * *"
    assert c.delete("/api/v1/targets/dev", headers=api.admin).status_code == 204
    assert c.get("/api/v1/targets/dev", headers=api.read).status_code == 404


def test_metrics(api: Api) -> None:
    text = api.client.get("/metrics", headers=api.read).text
    assert 'auditor_findings_open{cluster="prod",severity="high",state="open"} 1.0' in text
    assert 'auditor_runs_total{cluster="prod",status="complete"} 2.0' in text
    assert 'auditor_run_duration_seconds_count{cluster="prod"} 2.0' in text
    assert 'auditor_aws_calls_total{cluster="prod"} 4.0' in text
    assert "auditor_collector_errors_total" in text
