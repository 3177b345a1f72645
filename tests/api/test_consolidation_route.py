"""GET /api/v1/consolidation: the consolidation plan of each target's latest finished run, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from auditor.config import Settings
from auditor.pipeline import analyze
from auditor.store import runs as store_runs
from auditor.store.db import make_engine, session_factory
from auditor.store.targets import get_target
from tests.api.conftest import Api
from tests.cost.test_consolidation import cluster


def _record_planned_run(api: Api, target: str) -> dict:
    """An audit of the consolidation test cluster, stored as the target's latest run; its plan as JSON."""
    result = analyze(cluster(), Settings()).result.model_copy(update={"target": target})
    engine = make_engine(api.settings.database_url)
    factory = session_factory(engine)
    with factory() as s:
        target_id = get_target(s, target).id
    run = store_runs.claim_run(factory, target_id, trigger="cli", owner="test")
    store_runs.record_result(factory, run.id, result)
    engine.dispose()
    assert result.consolidation is not None
    return result.consolidation.model_dump(mode="json")


def test_the_latest_runs_plan_with_totals(api: Api) -> None:
    stored = _record_planned_run(api, "stage")
    got = api.client.get("/api/v1/consolidation?cluster=stage", headers=api.read)
    assert got.status_code == 200, got.text
    doc = got.json()
    (entry,) = doc["plans"]
    assert entry["target"] == "stage" and entry["plan"] == stored
    assert [(m["kind"], m["group"]) for m in entry["plan"]["moves"]] == [
        ("join-group", "shared"),
        ("service-behind-alb", "shared"),
        ("service-behind-alb", "ops/admin"),
    ]
    assert (doc["load_balancers_before"], doc["load_balancers_after"]) == (8, 4)
    assert doc["monthly_saving_usd"] == pytest.approx(stored["monthly_saving_usd"])
    assert doc["monthly_usd_after"] == pytest.approx(doc["monthly_usd_before"] - doc["monthly_saving_usd"], abs=0.01)
    assert doc["complete"] is True


def test_a_run_stored_before_plans_says_so(api: Api) -> None:
    _record_planned_run(api, "stage")
    doc = api.client.get("/api/v1/consolidation", headers=api.read).json()
    plans = {p["target"]: p["plan"] for p in doc["plans"]}
    assert plans["prod"] is None and plans["stage"] is not None  # prod's runs were stored without a plan
    assert doc["complete"] is False
    assert doc["load_balancers_before"] == plans["stage"]["load_balancers_before"]


def test_bad_requests(api: Api) -> None:
    assert api.client.get("/api/v1/consolidation?cluster=nowhere", headers=api.read).status_code == 404
    assert api.client.get("/api/v1/consolidation").status_code == 401
    assert api.client.get("/api/v1/consolidation?cluster=" + "x" * 500, headers=api.read).status_code == 422
