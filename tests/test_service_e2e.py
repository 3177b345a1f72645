"""End to end: a real `auditor serve` process audits the demo fleet (moto + three Kubernetes emulators)
and serves every run, load balancer and finding over HTTP — on SQLite and on PostgreSQL.

PostgreSQL is the case that matters: it enforces column lengths where SQLite does not, and an
internet-facing ALB's cost basis (~340 characters) once made every such run unrecordable there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from auditor.cli_service import token
from auditor.demo.environment import DemoEnvironment
from tests.store.pg import BACKENDS
from tests.store.pg import database_url as new_database
from tests.support.serve import serving
from tests.test_demo_e2e import EXPECTED_FAILS

pytestmark = pytest.mark.slow

CLUSTERS = ("demo", "staging", "sandbox")
OLD_COST_BASIS_LIMIT = 200  # load_balancers.cost_basis was VARCHAR(200) before migration 0003


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoEnvironment]:
    with DemoEnvironment() as env:
        yield env


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with new_database(request.param, tmp_path_factory.mktemp("service")) as url:
        yield url


@pytest.fixture(scope="module")
def server(
    demo: DemoEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """`auditor serve --config <the demo's targets>` on a free port, with an admin token; its log file."""
    assert demo.config_file is not None
    ours = {"AUDITOR_DATABASE_URL": database_url, "AUDITOR_LOG_LEVEL": "INFO"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")} | ours
    cleared: dict[str, str | None] = dict.fromkeys((k for k in os.environ if k.startswith("AUDITOR_")), None)
    created = CliRunner().invoke(token, ["create", "--name", "e2e", "--scope", "admin"], env=cleared | ours)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with serving(["--config", str(demo.config_file)], env, log_path) as base:
        yield base, {"Authorization": f"Bearer {secret}"}, log_path
    assert secret not in log_path.read_text()


def _trigger(client: httpx.Client, target: str) -> int:
    r = client.post("/api/v1/runs", json={"target": target})
    assert r.status_code == 202, r.text
    run: dict[str, Any] = r.json()
    assert run["status"] == "running" and r.headers["location"] == f"/api/v1/runs/{run['id']}"
    return int(run["id"])


def _finish(client: httpx.Client, run_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] != "running":
            return run
        assert time.monotonic() < deadline, f"run {run_id} did not finish"
        time.sleep(0.3)


def _all_findings(client: httpx.Client, cluster: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"cluster": cluster, "limit": 100}
    while True:
        page = client.get("/api/v1/findings", params=params).json()
        items += page["items"]
        if not page.get("next_cursor"):
            return items
        params["cursor"] = page["next_cursor"]


def _expected_rules(cluster: str) -> set[str]:
    return {rule for rule, where in EXPECTED_FAILS.items() if any(target == cluster for target, _ in where)}


def test_serve_records_every_demo_run_and_serves_it(server: tuple[str, dict[str, str], Path]) -> None:
    base, auth, log_path = server
    assert httpx.get(f"{base}/api/v1/findings").status_code == 401
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        assert {t["name"] for t in client.get("/api/v1/targets").json()} == set(CLUSTERS)
        runs = {cluster: _finish(client, run_id) for cluster, run_id in [(c, _trigger(client, c)) for c in CLUSTERS]}
        for run in runs.values():
            assert run["status"] in ("complete", "partial"), run  # recorded, not failed and not lost
            assert run["error"] is None and run["aws_calls"] > 0, run
            assert {c["collector"] for c in run["coverage"]} >= {"elbv2", "kubernetes"}

        # every load balancer of the run, the internet-facing ALBs with their long cost basis
        lbs = client.get("/api/v1/load-balancers", params={"cluster": "demo", "limit": 100}).json()["items"]
        assert len(lbs) == runs["demo"]["load_balancers"] == 16  # incl. ingress-nginx's NLB and orders' internal ALB
        assert all(lb["run_id"] == runs["demo"]["id"] and lb["cost_basis"] for lb in lbs)
        public_albs = [lb for lb in lbs if lb["type"] == "application" and lb["scheme"] == "internet-facing"]
        assert len(public_albs) >= 2
        assert all(len(lb["cost_basis"]) > OLD_COST_BASIS_LIMIT for lb in public_albs), public_albs
        shop = next(lb for lb in public_albs if lb["owner"] and lb["owner"]["name"] == "shop")
        assert shop["owner"]["kind"] == "IngressGroup"
        # Gateways own load balancers in the store and the API as Ingresses and Services do
        gateways = sorted(
            (lb["owner"]["namespace"], lb["owner"]["name"])
            for lb in lbs
            if lb["owner"] and lb["owner"]["kind"] == "Gateway"
        )
        assert gateways == [("data", "queue"), ("edge", "public")]
        public = next(lb for lb in lbs if lb["owner"] and lb["owner"]["name"] == "public")
        assert public["owner"]["routes"] == [
            "HTTPRoute edge/catalog",
            "HTTPRoute edge/catalog-redirect",
            "HTTPRoute edge/promo",
        ]
        # the NLB of the ingress-nginx controller's Service carries its Ingresses, in the store and the API too
        nginx = next(lb for lb in lbs if lb["owner"] and lb["owner"]["namespace"] == "ingress-nginx")
        assert nginx["owner"]["kind"] == "Service" and nginx["owner"]["routes"] == [
            "Ingress wiki/docs",
            "Ingress wiki/wiki",
        ]
        for cluster in ("staging", "sandbox"):  # their load balancers are pending or absent
            assert client.get("/api/v1/load-balancers", params={"cluster": cluster}).json()["items"] == []

        # every finding the scenario breaks, on the cluster it breaks, readable with its history
        for cluster, run in runs.items():
            findings = _all_findings(client, cluster)
            assert {f["rule_id"] for f in findings} == _expected_rules(cluster), cluster
            assert all(f["cluster"] == cluster and f["status"] == "open" for f in findings)
            for f in findings:
                detail = client.get(f"/api/v1/findings/{f['id']}").json()
                assert (detail["title"], detail["message"]) == (f["title"], f["message"])
                assert detail["history"][0]["run_id"] == run["id"]
        blog = [f for f in _all_findings(client, "demo") if f["rule_id"] == "http-without-redirect"]
        assert sorted(f["kubernetes"]["namespace"] for f in blog) == ["blog", "edge", "wiki"]

        second = _finish(client, _trigger(client, "demo"))
        assert second["status"] in ("complete", "partial") and second["error"] is None
        assert second["findings_new"] == 0  # same world, same fingerprints
        report = client.get(f"/api/v1/runs/{second['id']}/report", params={"format": "html"})
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert "blog" in report.text
        md = client.get("/api/v1/reports/latest", params={"cluster": "demo", "format": "markdown"})
        assert md.status_code == 200 and "http-without-redirect" in md.text
        sarif = client.get(f"/api/v1/runs/{second['id']}/report", params={"format": "sarif"}).json()
        assert sarif["version"] == "2.1.0"
        metrics = client.get("/metrics").text
        assert 'auditor_runs_total{cluster="demo"' in metrics
    log = log_path.read_text()
    assert "Traceback" not in log and "could not be recorded" not in log, log[-5000:]
