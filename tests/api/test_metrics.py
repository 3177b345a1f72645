"""/metrics is a valid Prometheus exposition with the database up or down: each family once, auditor_store_up 1 or 0."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from auditor.api.app import create_app
from auditor.api.schemas import ErrorOut
from auditor.config import ApiSettings, Settings
from tests.api.conftest import Api


def _unreachable(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/no-such-directory/auditor.db"
    return "postgresql+psycopg://postgres@127.0.0.1:1/auditor"  # port 1: nothing listens


def test_metrics_with_the_database_down_are_one_family_each_and_store_up_0(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=_unreachable(database_url, tmp_path), api=ApiSettings(metrics_public=True))
    app = create_app(settings, migrate=False, sync_targets=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/metrics")
    assert r.status_code == 200, r.text
    families = list(text_string_to_metric_families(r.text))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), names
    up = [f for f in families if f.name == "auditor_store_up"]
    assert [s.value for s in up[0].samples] == [0.0]


def test_metrics_with_the_database_up_say_store_up_1_once(api: Api) -> None:
    families = list(text_string_to_metric_families(api.client.get("/metrics", headers=api.read).text))
    names = [f.name for f in families]
    assert len(names) == len(set(names)) and "auditor_findings_open" in names
    assert [s.value for f in families if f.name == "auditor_store_up" for s in f.samples] == [1.0]


def test_metrics_behind_a_token_with_the_database_down_are_503_with_the_error_body(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(Settings(database_url=_unreachable(database_url, tmp_path)), migrate=False, sync_targets=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/metrics", headers={"Authorization": "Bearer aud_cannot-be-checked-now"})
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert ErrorOut.model_validate_json(r.content).message == "database unavailable"


def test_monthly_cost_per_cluster_namespace_and_team_of_the_latest_runs(api: Api) -> None:
    families = {f.name: f for f in text_string_to_metric_families(api.client.get("/metrics", headers=api.read).text)}
    samples = {
        (s.labels["target"], s.labels["namespace"], s.labels["team"]): s.value
        for s in families["auditor_monthly_cost_usd"].samples
    }
    # what GET /api/v1/cost says for prod's latest run: its ALB paid by shop, its orphan by nobody
    assert samples[("prod", "shop", "storefront")] == 22.0
    assert samples[("prod", "(no namespace)", "(no team)")] == 18.0
    cost = api.client.get("/api/v1/cost?group_by=namespace", headers=api.read).json()["total_monthly_usd"]
    assert round(sum(samples.values()), 2) == cost


def test_a_background_loop_that_fails_is_counted_in_the_metrics(tmp_path: Path) -> None:
    """The lease expiry fails (a database without the schema: its first sweep, at start-up): logged with its traceback
    and counted (``LeaseExpiry.failures``), but nothing outside the process could see the count."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/no-schema.db", api=ApiSettings(metrics_public=True))
    app = create_app(settings, migrate=False, sync_targets=False, run_scheduler=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/metrics")
    assert r.status_code == 200, r.text
    failures = {
        s.labels["loop"]: s.value
        for f in text_string_to_metric_families(r.text)
        if f.name == "auditor_background_failures"
        for s in f.samples
    }
    assert failures["lease_expiry"] >= 1 and failures["scheduler_maintenance"] >= 1, failures
    assert failures["shared_read_claims"] == 0 and failures["scheduled_ticks"] == 0
