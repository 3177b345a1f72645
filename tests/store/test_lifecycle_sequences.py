"""One finding lifecycle: sequences of runs through the real store (SQLite, PostgreSQL), the API and the reports.

After every run, four readers must tell the same story: what ``record_result`` counted, what the API says
(the run's counts, ``/findings?status=open|unknown`` totals), the report of that run as the API serves it
(what changed, from the store's history), and ``diff_results`` over the results alone (``replay``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from auditor.api.app import create_app
from auditor.config import Settings, TargetConfig
from auditor.findings import AuditResult, Finding, Status
from auditor.lifecycle import replay
from auditor.output import diff_results
from auditor.store import runs as store_runs
from auditor.store.db import session_factory, transaction
from auditor.store.targets import sync_targets
from auditor.store.tokens import create_token
from tests.store.results import ARN2, finding, result

F, P, U, ABSENT = Status.FAIL, Status.PASS, Status.UNKNOWN, None


@dataclass(frozen=True)
class Counts:
    """A run's lifecycle counts and the open findings after it."""

    new: int = 0
    reopened: int = 0
    resolved: int = 0
    not_rechecked: int = 0
    open: int = 0
    unknown: int = 0  # open but not re-checked by the latest run (the API's status=unknown)


# (status of rule-a in each run, None: not reported; runs that are partial), expected counts per run
SEQUENCES: dict[str, tuple[list[Status | None], set[int], list[Counts]]] = {
    "FAIL-UNKNOWN-FAIL": (
        [F, U, F],
        set(),
        [Counts(new=1, open=1), Counts(not_rechecked=1, open=1, unknown=1), Counts(open=1)],
    ),
    "FAIL-PASS-FAIL": ([F, P, F], set(), [Counts(new=1, open=1), Counts(resolved=1), Counts(reopened=1, open=1)]),
    "UNKNOWN-FAIL": ([U, F], set(), [Counts(), Counts(new=1, open=1)]),
    "UNKNOWN-PASS": ([U, P], set(), [Counts(), Counts()]),
    "FAIL-absent(partial)-absent(complete)": (
        [F, ABSENT, ABSENT],
        {1},
        [Counts(new=1, open=1), Counts(not_rechecked=1, open=1, unknown=1), Counts(resolved=1)],
    ),
    "FAIL-absent(partial)-absent(partial)-absent(complete)": (
        [F, ABSENT, ABSENT, ABSENT],
        {1, 2},
        [
            Counts(new=1, open=1),
            Counts(not_rechecked=1, open=1, unknown=1),
            Counts(not_rechecked=1, open=1, unknown=1),
            Counts(resolved=1),
        ],
    ),
    "FAIL-UNKNOWN-PASS-UNKNOWN-FAIL": (
        [F, U, P, U, F],
        set(),
        [
            Counts(new=1, open=1),
            Counts(not_rechecked=1, open=1, unknown=1),
            Counts(resolved=1),
            Counts(),
            Counts(reopened=1, open=1),
        ],
    ),
    "FAIL-absent(rule not selected)-absent(complete)": (
        [F, ABSENT, ABSENT],
        set(),
        [Counts(new=1, open=1), Counts(not_rechecked=1, open=1, unknown=1), Counts(resolved=1)],
    ),
}
# runs whose rule selection leaves rule-a out (AuditResult.rules): complete, yet they did not look at rule-a
NARROWED: dict[str, set[int]] = {"FAIL-absent(rule not selected)-absent(complete)": {1}}


@dataclass
class World:
    engine: Engine
    client: TestClient
    headers: dict[str, str]
    target_id: int


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    factory = session_factory(engine)
    with transaction(factory) as s:
        [target] = sync_targets(s, [TargetConfig(name="prod", cluster_name="prod-eks", regions=["eu-west-1"])])
        target_id = target.id
        _, token = create_token(s, "reader", "read")
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield World(engine, client, {"Authorization": f"Bearer {token}"}, target_id)


def _findings(status: Status | None) -> list[Finding]:
    # rule-b fails in every run: a bystander the lifecycle of rule-a must not disturb
    steady = finding("rule-b", arn=ARN2, namespace="pay", name="api")
    return [steady] if status is None else [finding("rule-a", status=status), steady]


def _api(world: World, path: str) -> Any:
    r = world.client.get(path, headers=world.headers)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_store_api_and_reports_agree_run_after_run(world: World, name: str) -> None:
    statuses, partial, expected = SEQUENCES[name]
    factory = session_factory(world.engine)
    results: list[AuditResult] = []
    for n, (status, rule_a) in enumerate(zip(statuses, expected, strict=True)):
        res = result(_findings(status), n=n, status="partial" if n in partial else "complete")
        if n in NARROWED.get(name, set()):
            res = res.model_copy(update={"rules": ["rule-b"]})
        run = store_runs.claim_run(factory, world.target_id, trigger="cli", owner="test")
        recorded = store_runs.record_result(factory, run.id, res)
        # rule-b: new in the first run, then still open in every run
        plus = Counts(new=1, open=1) if n == 0 else Counts(open=1)
        want = Counts(**{k: v + getattr(plus, k) for k, v in vars(rule_a).items()})
        step = f"{name}, run {n + 1}"

        store = (recorded.new, recorded.reopened, recorded.resolved, recorded.not_rechecked)
        assert store == (want.new, want.reopened, want.resolved, want.not_rechecked), step

        api_run = _api(world, f"/api/v1/runs/{run.id}")
        assert (api_run["findings_new"], api_run["findings_resolved"]) == (want.new, want.resolved), step
        opened = _api(world, "/api/v1/findings?status=open&with_total=true&cluster=prod")
        unknown = _api(world, "/api/v1/findings?status=unknown&with_total=true&cluster=prod")
        assert (opened["total"], unknown["total"]) == (want.open, want.unknown), step
        assert {f["status"] for f in unknown["items"]} <= {"unknown"}

        # the run's report as the API serves it: what changed, from the store's history
        changes = _api(world, f"/api/v1/runs/{run.id}/report?format=json")["changes"]
        served = tuple(len(changes[k]) for k in ("new", "reopened", "resolved", "not_rechecked"))
        assert served == store, step
        assert changes["open"] == want.open, step
        if want.resolved:  # listed as it last failed, however many runs ago
            assert {f["rule_id"] for f in changes["resolved"]} == {"rule-a"}
            assert {f["status"] for f in changes["resolved"]} == {"FAIL"}

        # the same diff from the results alone, replaying the history before this run
        diff = diff_results(results[-1] if results else None, res, before=replay(results))
        pure = (len(diff.new), len(diff.reopened), len(diff.resolved), len(diff.not_rechecked))
        assert pure == store, step
        assert diff.open == want.open, step
        results.append(res)


def test_history_shows_every_change_of_a_finding(world: World) -> None:
    """FAIL, not reported by a partial run, UNKNOWN, PASS, FAIL again: one finding, five observations."""
    factory = session_factory(world.engine)
    runs = [(F, "complete"), (ABSENT, "partial"), (U, "complete"), (P, "complete"), (F, "complete")]
    for n, (status, kind) in enumerate(runs):
        run = store_runs.claim_run(factory, world.target_id, trigger="cli", owner="test")
        store_runs.record_result(factory, run.id, result(_findings(status), n=n, status=kind))
    [item] = _api(world, "/api/v1/findings?rule=rule-a&cluster=prod")["items"]
    assert item["reopened"] == 1 and item["status"] == "open"
    history = _api(world, f"/api/v1/findings/{item['id']}")["history"]
    assert [h["status"] for h in history] == ["FAIL", "PASS", "UNKNOWN", "ABSENT", "FAIL"]
