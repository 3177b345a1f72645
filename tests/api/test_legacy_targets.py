"""A target stored by an older, looser auditor (a definition today's checks refuse) is listed, not a 500,
and a run of it fails at once with the reason."""

from __future__ import annotations

import time

from auditor.store.db import make_engine, session_factory
from auditor.store.models import TargetRow
from tests.api.conftest import Api


def _store_legacy_target(api: Api) -> None:
    engine = make_engine(api.settings.database_url)
    with session_factory(engine)() as session:
        definition = {"name": "legacy", "regions": ["not-a-region!"], "kubernetes": False}
        session.add(TargetRow(name="legacy", definition=definition, source="api", enabled=True))
        session.commit()
    engine.dispose()


def test_a_target_that_no_longer_validates_is_listed_with_the_reason(api: Api) -> None:
    _store_legacy_target(api)
    listed = api.client.get("/api/v1/targets", headers=api.read)
    assert listed.status_code == 200
    legacy = next(t for t in listed.json() if t["name"] == "legacy")
    assert legacy["definition"] is None
    assert "no longer valid" in legacy["definition_error"] and "regions" in legacy["definition_error"]
    assert "PUT /api/v1/targets/legacy" in legacy["definition_error"]
    assert api.client.get("/api/v1/targets/legacy", headers=api.read).json()["definition_error"]
    # the others are unaffected
    assert all(t["definition"] is not None for t in listed.json() if t["name"] != "legacy")


def test_a_run_of_it_fails_at_once_with_the_reason(api: Api) -> None:
    _store_legacy_target(api)
    started = api.client.post("/api/v1/runs", headers=api.admin, json={"target": "legacy"})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 30
    run = started.json()
    while run["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        run = api.client.get(f"/api/v1/runs/{run_id}", headers=api.read).json()
    assert run["status"] == "failed"
    assert "no longer valid" in (run["error"] or "")
