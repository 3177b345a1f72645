"""Reads kept in the database for the other replicas (auditor.store.shared_reads), on SQLite and PostgreSQL:
one run claims a key, the others wait while it runs and take its read when it is kept, and a claim whose run
ended (its process died and the lease expiry failed it) is taken over, so nobody waits for a dead run."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from auditor.collect.aws.shared import SharedInventory, encode, store_key
from auditor.collect.kept import ALONE, BUSY, CLAIM_SECONDS, Kept
from auditor.config import TargetConfig
from auditor.inventory.models import Coverage, CoverageStatus
from auditor.store import runs as store_runs
from auditor.store.models import SharedReadRow, utcnow
from auditor.store.shared_reads import DatabaseReads, sweep_shared_reads
from auditor.store.targets import sync_targets

KEY = "k" * 64


def _runs(factory: sessionmaker[Session], n: int) -> list[int]:
    """``n`` running runs (of as many targets: one running run per target)."""
    with factory.begin() as s:
        rows = sync_targets(s, [TargetConfig(name=f"t{i}", kubernetes=False, regions=["eu-west-1"]) for i in range(n)])
        ids = [r.id for r in rows]
    return [
        store_runs.claim_run(factory, tid, trigger="schedule", owner=f"replica-{i}").id for i, tid in enumerate(ids)
    ]


def _end(factory: sessionmaker[Session], run_id: int) -> None:
    store_runs.fail_run(factory, run_id, "its process died")


def test_one_run_claims_the_others_wait_then_take_its_read(factory: sessionmaker[Session]) -> None:
    store = DatabaseReads(factory)
    first, second = _runs(factory, 2)
    assert store.take_or_claim(KEY, "acct/eu-west-1 elbv2", 60, first) is True
    assert store.take_or_claim(KEY, "acct/eu-west-1 elbv2", 60, second) == BUSY  # first's run is going
    store.put(KEY, first, b"the read", 60)
    kept = store.take_or_claim(KEY, "acct/eu-west-1 elbv2", 60, second)
    assert isinstance(kept, Kept) and kept.payload == b"the read" and 0 <= kept.age < 5
    assert store.take_or_claim(KEY, "acct/eu-west-1 elbv2", 0, second) is True  # too old for max_age 0: read again
    assert store.take_or_claim(KEY, "acct/eu-west-1 elbv2", 60, first) == BUSY


def test_the_claim_of_a_run_that_ended_is_taken_over_and_its_late_read_ignored(factory: sessionmaker[Session]) -> None:
    store = DatabaseReads(factory)
    dead, alive = _runs(factory, 2)
    assert store.take_or_claim(KEY, "x", 60, dead) is True
    _end(factory, dead)  # what the lease expiry does to the run of a killed replica
    assert store.take_or_claim(KEY, "x", 60, alive) is True
    store.put(KEY, dead, b"late", 60)  # a holder that was only slow: its claim is gone, nothing is overwritten
    assert store.take_or_claim(KEY, "x", 60, alive) == BUSY
    store.put(KEY, alive, b"fresh", 60)
    assert store.take_or_claim(KEY, "x", 60, dead) == Kept(b"fresh", pytest.approx(0, abs=5))


def test_a_released_claim_lets_the_next_run_read(factory: sessionmaker[Session]) -> None:
    store = DatabaseReads(factory)
    first, second = _runs(factory, 2)
    assert store.take_or_claim(KEY, "x", 60, first) is True
    store.release(KEY, second, failed=False)  # not its claim: nothing happens
    assert store.take_or_claim(KEY, "x", 60, second) == BUSY
    store.release(KEY, first, failed=False)
    assert store.take_or_claim(KEY, "x", 60, second) is True


def test_an_incomplete_read_lets_the_waiting_runs_read_for_themselves(factory: sessionmaker[Session]) -> None:
    """Not one after the other: each gets ALONE at once for CLAIM_SECONDS, then the next run claims it again."""
    store = DatabaseReads(factory)
    first, second, third = _runs(factory, 3)
    assert store.take_or_claim(KEY, "x", 60, first) is True
    store.release(KEY, first, failed=True)
    assert [store.take_or_claim(KEY, "x", 60, run) for run in (second, third)] == [ALONE, ALONE]
    with factory.begin() as s:  # CLAIM_SECONDS later
        s.execute(update(SharedReadRow).values(read_at=utcnow() - timedelta(seconds=CLAIM_SECONDS + 1)))
    assert store.take_or_claim(KEY, "x", 60, third) is True


def test_a_claim_lives_while_it_is_renewed(factory: sessionmaker[Session]) -> None:
    """A reader that stopped renewing (it lost the database between reading and keeping, its run still going)
    holds its claim no longer than CLAIM_SECONDS; one that renews keeps it however long its read takes."""
    store = DatabaseReads(factory)
    reader, waiter = _runs(factory, 2)
    assert store.take_or_claim(KEY, "x", 60, reader) is True
    old = utcnow() - timedelta(seconds=CLAIM_SECONDS + 1)
    with factory.begin() as s:
        s.execute(update(SharedReadRow).values(claimed_at=old))
    store.renew([(KEY, reader)])
    assert store.take_or_claim(KEY, "x", 60, waiter) == BUSY  # renewed just now: alive
    with factory.begin() as s:
        s.execute(update(SharedReadRow).values(claimed_at=old))
    assert store.take_or_claim(KEY, "x", 60, waiter) is True  # not renewed: dead, though its run is running
    store.renew([(KEY, reader)])  # the old reader's renewals no longer touch it
    with factory() as s:
        assert s.scalar(select(SharedReadRow.holder)) == waiter


def test_the_sweep_deletes_old_reads_and_dead_claims(factory: sessionmaker[Session]) -> None:
    store = DatabaseReads(factory)
    done, dead, alive, billed, failed, silent = _runs(factory, 6)
    keys = {run: f"{run:064d}" for run in (done, dead, alive, billed, failed, silent)}
    for run, key in keys.items():
        assert store.take_or_claim(key, "x", 60, run) is True
    store.put(keys[done], done, b"kept", 300)  # a regional read: 300 s
    store.put(keys[billed], billed, b"kept", 86400)  # the billed cost: a day
    store.release(keys[failed], failed, failed=True)
    _end(factory, dead)
    with factory.begin() as s:  # a reader that stopped renewing, its run still going
        s.execute(
            update(SharedReadRow)
            .where(SharedReadRow.key == keys[silent])
            .values(claimed_at=utcnow() - timedelta(seconds=CLAIM_SECONDS + 1))
        )
    assert sweep_shared_reads(factory) == 2  # the dead run's claim, the silent one

    def left() -> list[str]:
        with factory() as s:
            return sorted(s.scalars(select(SharedReadRow.key)))

    assert left() == sorted(keys[r] for r in (done, alive, billed, failed))
    # 301 s on, nobody having renewed anything: the regional read, the failed mark and the claim go
    assert sweep_shared_reads(factory, now=utcnow() + timedelta(seconds=301)) == 3
    assert left() == [keys[billed]]


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)  # concurrent writers: SQLite serves one process
def test_runs_claiming_at_once_leave_exactly_one_holder(factory: sessionmaker[Session], engine: Any) -> None:
    assert engine.dialect.name == "postgresql"
    store = DatabaseReads(factory)
    runs = _runs(factory, 8)
    barrier = threading.Barrier(len(runs))
    answers: dict[int, object] = {}

    def claim(run: int) -> None:
        barrier.wait()
        answers[run] = store.take_or_claim(KEY, "x", 60, run)

    threads = [threading.Thread(target=claim, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(map(str, answers.values())) == ["True"] + ["busy"] * 7


# --------------------------------------------------------------------------- the cache over the database


def _read(calls: int = 5) -> tuple[list[Any], Coverage]:
    return [], Coverage(source="aws", collector="wafv2", region="eu-west-1", status=CoverageStatus.OK, calls=calls)


def _replica(factory: sessionmaker[Session]) -> SharedInventory:
    """What each `auditor serve` replica has: its own memory, the one database."""
    return SharedInventory(300, store=DatabaseReads(factory))


def test_a_replica_takes_the_read_another_replica_kept(factory: sessionmaker[Session]) -> None:
    a, b = _replica(factory), _replica(factory)
    run_a, run_b = _runs(factory, 2)
    made: list[str] = []

    def collect(who: str) -> Any:
        made.append(who)
        return _read()

    key = ("account", "eu-west-1", "wafv2")
    (_, cov_a), shared_a = a.for_run(run_a).read(key, lambda: collect("a"), "wafv2", "acct/eu-west-1 wafv2")
    (_, cov_b), shared_b = b.for_run(run_b).read(key, lambda: collect("b"), "wafv2", "acct/eu-west-1 wafv2")
    assert made == ["a"] and (shared_a, shared_b) == (False, True)
    assert (cov_a.calls, cov_b.calls) == (5, 0)  # the calls are counted once, by the run that made them
    assert b.reused == 1
    # not through the store: a run-less use (the CLI), or a collector that is not shared
    assert b.read(("other",), lambda: collect("cli"), "wafv2")[1] is False
    assert b.for_run(run_b).read(("x",), lambda: collect("eks"), "eks")[1] is False
    assert made == ["a", "cli", "eks"]


def test_a_replica_waits_for_a_read_under_way_elsewhere(factory: sessionmaker[Session]) -> None:
    a, b = _replica(factory), _replica(factory)
    run_a, run_b = _runs(factory, 2)
    gate, made, got = threading.Event(), [], []

    def slow() -> Any:
        made.append("a")
        gate.wait(10)
        return _read()

    key = ("account", "eu-west-1", "wafv2")
    reader = threading.Thread(target=lambda: a.for_run(run_a).read(key, slow, "wafv2"))
    reader.start()
    while not made:
        time.sleep(0.01)
    waiter = threading.Thread(target=lambda: got.append(b.for_run(run_b).read(key, lambda: _read(9), "wafv2")))
    waiter.start()
    time.sleep(1.2)  # b looks more than once while a reads
    assert not got
    gate.set()
    reader.join(10)
    waiter.join(10)
    assert made == ["a"] and got[0][1] is True and got[0][0][1].calls == 0


def test_a_replica_whose_reader_died_reads_itself(factory: sessionmaker[Session]) -> None:
    b = _replica(factory)
    dead, run_b = _runs(factory, 2)
    key = ("account", "eu-west-1", "wafv2")
    store = DatabaseReads(factory)
    assert store.take_or_claim(store_key(key), "x", 300, dead) is True  # a replica claimed it, then was killed
    _end(factory, dead)
    (_, cov), shared = b.for_run(run_b).read(key, lambda: _read(3), "wafv2")
    assert shared is False and cov.calls == 3


def test_a_failed_read_is_not_kept_for_the_others(factory: sessionmaker[Session]) -> None:
    a, b = _replica(factory), _replica(factory)
    run_a, run_b = _runs(factory, 2)
    key = ("account", "eu-west-1", "wafv2")
    failed = ([], Coverage(source="aws", collector="wafv2", status=CoverageStatus.ERROR, error_code="AccessDenied"))
    assert a.for_run(run_a).read(key, lambda: failed, "wafv2")[1] is False
    assert b.for_run(run_b).read(key, _read, "wafv2")[1] is False  # read again, not waited for nor reused
    with factory() as s:
        assert s.scalar(select(SharedReadRow.state)) == "failed"  # b read alone: nothing kept under the mark


def test_a_collector_that_read_nothing_is_shared_too(factory: sessionmaker[Session]) -> None:
    """A collector no selected rule needs returns None (coverage SKIPPED): kept and taken like any read."""
    a, b = _replica(factory), _replica(factory)
    run_a, run_b = _runs(factory, 2)
    key = ("account", "eu-west-1", "ec2")
    skipped = (None, Coverage(source="aws", collector="ec2", status=CoverageStatus.SKIPPED, message="not needed"))
    assert a.for_run(run_a).read(key, lambda: skipped, "ec2")[1] is False
    (result, coverage), shared = b.for_run(run_b).read(key, _read, "ec2")
    assert shared is True and result is None and coverage.status == CoverageStatus.SKIPPED


def test_a_reader_that_lost_the_database_stops_holding_its_claim(factory: sessionmaker[Session]) -> None:
    """Its read done, it could neither keep it nor give the claim up: the claim is no longer renewed."""

    class Forgetful(DatabaseReads):
        def put(self, key: str, holder: int, payload: bytes, max_age: float) -> None:
            raise RuntimeError("connection lost")

        def release(self, key: str, holder: int, *, failed: bool) -> None:
            raise RuntimeError("connection lost")

    (run,) = _runs(factory, 1)
    cache = SharedInventory(300, store=Forgetful(factory))
    assert cache.for_run(run).read(("k",), _read, "wafv2")[0][1].calls == 5  # the audit has its read
    assert cache._claims is not None and not cache._claims._held  # not renewed any more: dies in CLAIM_SECONDS


def test_the_database_failing_only_turns_sharing_off(factory: sessionmaker[Session]) -> None:
    class Broken(DatabaseReads):
        def take_or_claim(self, key: str, label: str, max_age: float, holder: int) -> Any:
            raise RuntimeError("connection refused")

    run, mine = _runs(factory, 2)
    cache = SharedInventory(300, store=Broken(factory))
    assert cache.for_run(run).read(("k",), _read, "wafv2")[0][1].calls == 5
    # a kept read that no longer decodes is read again, not trusted
    DatabaseReads(factory).take_or_claim(store_key(("k",)), "x", 300, mine)
    DatabaseReads(factory).put(store_key(("k",)), mine, b"not zlib", 60)
    assert _replica(factory).for_run(run).read(("k",), lambda: _read(4), "wafv2")[0][1].calls == 4


def test_a_read_taken_from_the_store_keeps_its_age_in_memory() -> None:
    """A read another replica kept 299 s ago serves this replica's runs for 1 s more, not another 300."""
    asked: list[str] = []

    class Store:
        def take_or_claim(self, key: str, label: str, max_age: float, holder: int) -> Any:
            asked.append(key)
            return Kept(encode("wafv2", _read()), max_age - 1)

        def put(self, key: str, holder: int, payload: bytes, max_age: float) -> None:
            raise AssertionError("nothing to keep: the read came from the store")

        def release(self, key: str, holder: int, *, failed: bool) -> None:
            raise AssertionError("no claim was held")

        def renew(self, claims: Any) -> None:
            raise AssertionError("no claim was held")

    cache = SharedInventory(300, store=Store())
    for run in (1, 2):  # the second run of this replica takes it from memory
        assert cache.for_run(run).read(("k",), lambda: _read(7), "wafv2")[1] is True
    assert len(asked) == 1
    time.sleep(1.1)
    assert cache.for_run(3).read(("k",), lambda: _read(7), "wafv2")[1] is True
    assert len(asked) == 2  # too old in memory: asked the store again


def test_claims_under_way_are_renewed_until_their_read_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    import auditor.collect.aws.shared as shared_module

    monkeypatch.setattr(shared_module, "RENEW_SECONDS", 0.05)
    renewed: list[list[tuple[str, int]]] = []
    gate = threading.Event()

    class Store:
        def take_or_claim(self, key: str, label: str, max_age: float, holder: int) -> Any:
            return True

        def put(self, key: str, holder: int, payload: bytes, max_age: float) -> None:
            pass

        def release(self, key: str, holder: int, *, failed: bool) -> None:
            pass

        def renew(self, claims: Any) -> None:
            renewed.append(sorted(claims))
            if len(renewed) == 2:
                raise RuntimeError("a renewal that fails is logged and counted; the next one goes on")

    cache = SharedInventory(300, store=Store())
    reader = threading.Thread(target=lambda: cache.for_run(7).read(("k",), lambda: (gate.wait(5), _read())[1], "wafv2"))
    reader.start()
    while len(renewed) < 4:
        time.sleep(0.01)
    gate.set()
    reader.join(5)
    assert renewed[0] == [(store_key(("k",)), 7)]
    assert cache._claims is not None and cache._claims.renew_failures == 1
    time.sleep(0.2)
    count = len(renewed)
    time.sleep(0.2)
    assert len(renewed) == count and cache._claims._keeper is None  # nothing held: the keeper stopped
