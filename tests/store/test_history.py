"""Finding identity across runs: first/last seen, resolve, reopen; partial runs resolve nothing by absence."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from auditor.config import TargetConfig
from auditor.errors import Conflict, StoreError
from auditor.findings import AuditResult, Severity, Status
from auditor.store import runs as store_runs
from auditor.store.db import make_engine, session_factory, upgrade
from auditor.store.models import FindingRow, RunRow, utcnow
from auditor.store.queries import FindingFilter, get_finding, list_findings, summary
from auditor.store.targets import sync_targets
from tests.store.results import ARN, ARN2, finding, lb, result


def _target(factory: sessionmaker[Session], name: str = "prod") -> int:
    with factory() as s:
        [row] = sync_targets(s, [TargetConfig(name=name, cluster_name=name, regions=["eu-west-1"])])
        s.commit()
        return row.id


def _record(factory: sessionmaker[Session], target_id: int, res: AuditResult) -> store_runs.Recorded:
    run = store_runs.claim_run(factory, target_id, trigger="cli", owner="test")
    return store_runs.record_result(factory, run.id, res)


def _rows(factory: sessionmaker[Session]) -> dict[str, FindingRow]:
    with factory() as s:
        return {r.rule_id: r for r in s.scalars(select(FindingRow))}


def test_finding_keeps_identity_resolves_and_reopens(factory: sessionmaker[Session]) -> None:
    tid = _target(factory)
    a, b = finding("rule-a"), finding("rule-b", severity=Severity.CRITICAL, arn=ARN2, namespace="pay", name="api")

    first = _record(factory, tid, result([a, b], n=0))
    assert (first.new, first.resolved) == (2, 0)
    _record(factory, tid, result([a, b], n=1))
    rows = _rows(factory)
    assert rows["rule-a"].first_seen < rows["rule-a"].last_seen
    ids = {k: r.id for k, r in rows.items()}

    # b passes now: resolved by the PASS; a is still failing
    third = _record(
        factory, tid, result([a, finding("rule-b", status=Status.PASS, arn=ARN2, namespace="pay", name="api")], n=2)
    )
    assert (third.new, third.resolved) == (0, 1)
    rows = _rows(factory)
    assert rows["rule-b"].state == "resolved" and rows["rule-b"].resolved_at is not None
    assert rows["rule-a"].state == "open"

    # b fails again: same row, reopened once
    fourth = _record(factory, tid, result([a, b], n=3))
    assert fourth.reopened == 1
    rows = _rows(factory)
    assert {k: r.id for k, r in rows.items()} == ids
    assert rows["rule-b"].reopened == 1 and rows["rule-b"].resolved_at is None and rows["rule-b"].is_open

    with factory() as s:
        detail, history = get_finding(s, ids["rule-b"])
    assert detail["fingerprint"] == b.fingerprint
    assert [h["status"] for h in history] == ["FAIL", "PASS", "FAIL", "FAIL"]


def test_absent_finding_resolves_only_in_a_complete_run(factory: sessionmaker[Session]) -> None:
    tid = _target(factory)
    a = finding("rule-a")
    _record(factory, tid, result([a], n=0))

    partial = _record(factory, tid, result([], n=1, status="partial"))
    assert (partial.resolved, partial.not_rechecked) == (0, 1)
    row = _rows(factory)["rule-a"]
    assert row.is_open and row.state == "unknown"  # its collector may have failed: open, not re-checked

    complete = _record(factory, tid, result([], n=2))
    assert complete.resolved == 1
    row = _rows(factory)["rule-a"]
    assert row.state == "resolved"
    assert row.last_seen < row.resolved_at  # type: ignore[operator]


def test_unknown_keeps_an_open_finding_open_and_opens_nothing(factory: sessionmaker[Session]) -> None:
    tid = _target(factory)
    _record(factory, tid, result([finding("rule-a"), finding("rule-b")], n=0))
    second = _record(
        factory,
        tid,
        result([finding("rule-a", status=Status.UNKNOWN), finding("rule-b"), finding("rule-c", status=Status.UNKNOWN)]),
    )
    assert (second.new, second.resolved, second.not_rechecked) == (0, 0, 1)
    with factory() as s:
        unknown = list_findings(s, FindingFilter(status="unknown"), limit=10)
        opened = list_findings(s, FindingFilter(status="open"), limit=10)
    assert [f["rule_id"] for f in unknown.items] == ["rule-a"]  # open, not re-checked
    assert {f["rule_id"] for f in opened.items} == {"rule-a", "rule-b"}  # rule-c never FAILed: no finding
    assert set(_rows(factory)) == {"rule-a", "rule-b"}


def test_one_running_run_per_target_and_one_claim_per_fire_time(factory: sessionmaker[Session]) -> None:
    tid = _target(factory)
    fire = result([], n=0).started_at
    run = store_runs.claim_run(factory, tid, trigger="schedule", owner="a", scheduled_for=fire)
    with pytest.raises(Conflict, match=f"run {run.id} of this target is still going"):
        store_runs.claim_run(factory, tid, trigger="api", owner="b")
    store_runs.record_result(factory, run.id, result([], n=0))
    with pytest.raises(Conflict, match="claimed already"):
        store_runs.claim_run(factory, tid, trigger="schedule", owner="b", scheduled_for=fire)
    store_runs.claim_run(factory, tid, trigger="api", owner="b")  # free again


def test_expired_lease_fails_the_run_and_discards_late_results(factory: sessionmaker[Session]) -> None:
    tid = _target(factory)
    run = store_runs.claim_run(factory, tid, trigger="api", owner="dead")
    assert store_runs.expire_stale_runs(factory, lease_seconds=60) == []
    assert store_runs.expire_stale_runs(factory, lease_seconds=0) == [run.id]
    with factory() as s:
        row = s.get(RunRow, run.id)
        assert row is not None and row.status == "failed" and "stopped" in (row.error or "")
    assert not store_runs.heartbeat(factory, run.id)
    with pytest.raises(StoreError, match="discarded"):
        store_runs.record_result(factory, run.id, result([finding()], n=0))
    assert _rows(factory) == {}


def test_claiming_again_what_a_dropped_commit_claimed_is_that_run_not_a_conflict(
    factory: sessionmaker[Session],
) -> None:
    tid = _target(factory)
    at = utcnow()
    fire = at.replace(microsecond=0)
    run = store_runs.claim_run(factory, tid, trigger="schedule", owner="me", scheduled_for=fire, claimed_at=at)
    again = store_runs.claim_run(factory, tid, trigger="schedule", owner="me", scheduled_for=fire, claimed_at=at)
    assert again.id == run.id and again.status == "running"
    with factory() as s:
        assert len(s.scalars(select(RunRow)).all()) == 1
    # another claim -- another process, or this one a moment later -- is still refused
    with pytest.raises(Conflict, match="still going"):
        store_runs.claim_run(factory, tid, trigger="api", owner="other", claimed_at=at)
    with pytest.raises(Conflict, match="still going"):
        store_runs.claim_run(factory, tid, trigger="api", owner="me")
    # a first try that hung longer than a lease: the run's lease starts at the try that returns it
    long_ago = at - timedelta(minutes=10)
    old = store_runs.claim_run(factory, _target(factory, "stage"), trigger="api", owner="me", claimed_at=long_ago)
    assert old.heartbeat_at > long_ago
    assert store_runs.expire_stale_runs(factory, lease_seconds=120) == []


def test_recording_again_what_a_dropped_commit_recorded_is_that_record_not_an_error(
    factory: sessionmaker[Session],
) -> None:
    """A COMMIT that went through while its connection dropped: the second try (once_more_if_dropped) finds the run
    finished from this very result, and says so -- the service then sends its reports -- instead of "discarded"."""
    tid = _target(factory)
    run = store_runs.claim_run(factory, tid, trigger="api", owner="me")
    mine = result([finding("rule-a"), finding("rule-b", arn=ARN2)], n=0)
    first = store_runs.record_result(factory, run.id, mine)
    again = store_runs.record_result(factory, run.id, mine)
    assert (again.status, again.new, again.resolved) == (first.status, 2, 0) == ("complete", 2, 0)
    assert again.reopened is None and again.not_rechecked is None
    with factory() as s:
        assert len(s.scalars(select(FindingRow)).all()) == 2  # nothing written twice
    # another audit's result for a finished run is still refused
    with pytest.raises(StoreError, match="discarded"):
        store_runs.record_result(factory, run.id, result([finding("rule-a")], n=1))


def test_keyset_pages_cover_everything_once_worst_first(factory: sessionmaker[Session]) -> None:
    tid = _target(factory)
    sevs = [Severity.LOW, Severity.CRITICAL, Severity.MEDIUM, Severity.HIGH, Severity.INFO]
    findings = [finding(f"rule-{i}", severity=sevs[i % 5], namespace=f"ns{i % 3}") for i in range(23)]
    _record(factory, tid, result(findings, n=0))
    seen: list[dict[str, Any]] = []
    cursor = None
    with factory() as s:
        while True:
            page = list_findings(s, FindingFilter(), limit=5, cursor=cursor, with_total=True)
            assert page.total == 23
            seen.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len({f["id"] for f in seen}) == 23
        ranks = [f["severity_rank"] for f in seen]
        assert ranks == sorted(ranks, reverse=True)
        ns1 = list_findings(s, FindingFilter(namespace="ns1", severities=(Severity.CRITICAL,)), limit=50)
        assert {f["rule_id"] for f in ns1.items} == {f"rule-{i}" for i in range(23) if i % 3 == 1 and i % 5 == 1}


@pytest.mark.postgres
def test_failing_a_run_that_is_being_recorded_leaves_it_recorded(postgres_url: str) -> None:
    """The service stopping fails the runs going in it (``AuditService.shutdown``) while one of them may be recording
    its result: the recording holds the run's row, the failure waits for it and must then find the run ended. It read
    ``running`` before the wait and overwrote the recorded run with ``failed``."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    factory = session_factory(engine)
    try:
        tid = _target(factory, f"race-{uuid.uuid4().hex[:8]}")
        run = store_runs.claim_run(factory, tid, trigger="api", owner="test")
        with factory() as recording:  # what record_result does: lock the row, end the run, commit
            row = recording.scalar(select(RunRow).where(RunRow.id == run.id).with_for_update(of=RunRow))
            assert row is not None
            row.status = "complete"
            recording.flush()
            failing = threading.Thread(target=store_runs.fail_run, args=(factory, run.id, "interrupted"))
            failing.start()
            failing.join(1.0)  # waits on the row lock
            recording.commit()
        failing.join(10.0)
        assert not failing.is_alive()
        with factory() as s:
            ended = s.get(RunRow, run.id)
            assert ended is not None and (ended.status, ended.error) == ("complete", None)
    finally:
        engine.dispose()


def test_the_summary_adds_costs_up_to_the_cent(factory: sessionmaker[Session]) -> None:
    """Costs summed over load balancers of several types are rounded as every USD figure is, on both databases."""
    tid = _target(factory)
    lbs = [
        lb(ARN, cost=0.1),
        lb(ARN2, cost=0.2, type_="network"),
        lb(ARN.replace("/1", "/3"), cost=0.1, orphan="owner-gone", type_="classic"),
        lb(ARN.replace("/1", "/4"), cost=0.2, orphan="owner-gone"),
    ]
    _record(factory, tid, result([], n=0, load_balancers=lbs))
    with factory() as s:
        (entry,) = summary(s)
    assert entry.monthly_cost_usd == 0.6 and entry.orphan_monthly_cost_usd == 0.3
