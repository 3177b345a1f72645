"""Scheduler: no overlap, one run per fire time across replicas sharing PostgreSQL, killed runs end up failed."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from auditor.api.app import create_app
from auditor.cli_service import token
from auditor.config import AwsSettings, SchedulerSettings, Settings, TargetConfig
from auditor.demo.motoserver import MotoServer
from auditor.errors import AuditorError, ConfigError
from auditor.findings import AuditResult
from auditor.scheduler import AuditScheduler, cron_trigger, latest_fire_time
from auditor.service import AuditService, Heartbeat, LeaseExpiry
from auditor.store import runs as store_runs
from auditor.store.db import make_engine, session_factory, transaction, upgrade
from auditor.store.models import FindingRow, LoadBalancerRow, RunRow, SharedReadRow, utcnow
from auditor.store.targets import sync_targets
from tests.store.pg import fresh_postgres_database
from tests.store.results import finding, result
from tests.support.moto_requests import record_requests
from tests.support.serve import start_serve

EVERY_MINUTE = "* * * * *"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated-on-use database on each backend (PostgreSQL shared by the module: unique target names)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/runs.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _service(url: str, **scheduler: float) -> AuditService:
    settings = Settings(database_url=url, scheduler=SchedulerSettings(**scheduler))  # type: ignore[arg-type]
    engine = make_engine(url)
    upgrade(engine)
    return AuditService(settings, session_factory(engine))


def _add_target(factory: sessionmaker[Session], name: str, schedule: str = EVERY_MINUTE) -> int:
    with transaction(factory) as s:
        [row] = sync_targets(s, [TargetConfig(name=name, kubernetes=False, regions=["eu-west-1"], schedule=schedule)])
        return row.id


def _runs(factory: sessionmaker[Session], target_id: int) -> list[RunRow]:
    with factory() as s:
        return list(s.scalars(select(RunRow).where(RunRow.target_id == target_id).order_by(RunRow.id)))


def test_latest_fire_time_is_the_cron_tick_being_served() -> None:
    trigger = cron_trigger("*/15 * * * *")
    now = datetime(2030, 1, 1, 10, 37, 12, tzinfo=UTC)
    assert latest_fire_time(trigger, now, timedelta(hours=1)) == datetime(2030, 1, 1, 10, 30, tzinfo=UTC)
    assert latest_fire_time(trigger, now.replace(minute=30, second=0), timedelta(hours=1)) == now.replace(
        minute=30, second=0
    )
    assert latest_fire_time(trigger, now, timedelta(minutes=5)) is None  # the 10:30 tick is past its grace
    with pytest.raises(Exception, match="5-field cron"):
        cron_trigger("every hour")


@pytest.mark.parametrize(
    ("schedule", "fires_on"),
    [
        ("0 9 * * 1", {"Mon"}),  # APScheduler's own reading: Tuesdays
        ("0 9 * * 0", {"Sun"}),
        ("0 9 * * 7", {"Sun"}),
        ("0 9 * * 1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("0 9 * * mon-fri", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("0 9 * * */2", {"Sun", "Tue", "Thu", "Sat"}),
        ("0 9 * * 1/3", {"Mon", "Thu", "Sun"}),
        ("0 9 * * 5,SAT", {"Fri", "Sat"}),
        ("0 9 * * *", {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}),
    ],
)
def test_the_day_of_week_counts_from_sunday_as_in_crontab(schedule: str, fires_on: set[str]) -> None:
    trigger = cron_trigger(schedule)
    fire, days = datetime(2030, 1, 1, tzinfo=UTC), set()  # a Tuesday
    for _ in range(14):
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        days.add(fire.strftime("%a"))
        assert fire.hour == 9
    assert days == fires_on


def test_a_restricted_day_of_month_and_day_of_week_fire_when_either_matches() -> None:
    """crontab(5): '0 0 1 * 1' runs on the 1st and on every Monday, not only on a 1st that is a Monday."""
    trigger = cron_trigger("0 0 1 * 1")
    fire, fired = datetime(2030, 1, 1, 12, tzinfo=UTC), []  # Tuesday 1 January 2030
    for _ in range(6):
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        fired.append(fire.date().isoformat())
    assert fired == ["2030-01-07", "2030-01-14", "2030-01-21", "2030-01-28", "2030-02-01", "2030-02-04"]
    assert latest_fire_time(trigger, datetime(2030, 2, 1, 0, 5, tzinfo=UTC), timedelta(hours=1)) == datetime(
        2030, 2, 1, tzinfo=UTC
    )


def test_a_half_of_an_either_day_schedule_that_never_fires_is_dropped() -> None:
    """'0 9 31 2 1': the 31st of February or February's Mondays; the dead half would make every tick search
    APScheduler's calendar to its last year (seconds of CPU a minute)."""
    trigger = cron_trigger("0 9 31 2 1")
    assert isinstance(trigger, CronTrigger)
    fire = trigger.get_next_fire_time(None, datetime(2030, 1, 1, tzinfo=UTC))
    assert fire == datetime(2030, 2, 4, 9, tzinfo=UTC)  # the first Monday of February


@pytest.mark.parametrize("schedule", ["0 9 * * 8", "0 9 * * 5-1", "0 9 * * */0", "0 9 * * funday", "0 9 * *"])
def test_a_day_of_week_crontab_does_not_know_is_refused(schedule: str) -> None:
    with pytest.raises(ConfigError, match="not a valid 5-field cron expression"):
        cron_trigger(schedule)


def test_no_overlap_a_run_still_going_is_not_started_again(aws: MotoServer, tmp_path: Path) -> None:
    service = _service(f"sqlite:///{tmp_path}/s.db")
    tid = _add_target(service.factory, "busy")
    going = store_runs.claim_run(service.factory, tid, trigger="api", owner="elsewhere")  # a run still going
    scheduler = AuditScheduler(service)
    scheduler.reload_targets()
    job = scheduler._scheduler.get_job(f"target-{tid}")
    assert job is not None and job.max_instances == 1 and job.coalesce  # and in-process: no second instance
    now = datetime.now(UTC)  # one tick throughout: wall time may cross a minute boundary during the audit
    assert scheduler.fire("busy", EVERY_MINUTE, now) is None
    assert [r.id for r in _runs(service.factory, tid)] == [going.id]
    store_runs.fail_run(service.factory, going.id, "test over")
    run_id = scheduler.fire("busy", EVERY_MINUTE, now)
    assert run_id is not None
    assert _runs(service.factory, tid)[-1].status in ("complete", "partial")
    assert scheduler.fire("busy", EVERY_MINUTE, now) is None  # the same minute's tick again: already served
    service.shutdown()


def test_a_tick_that_cannot_start_its_run_is_counted(tmp_path: Path) -> None:
    """The database without its schema: the tick logs the error with its traceback, counts it, and the next retries."""
    service = _service(f"sqlite:///{tmp_path}/s.db")
    scheduler = AuditScheduler(service)
    with service.factory() as session:
        session.execute(text("DROP TABLE runs"))
        session.commit()
    assert scheduler.fire("gone", EVERY_MINUTE, datetime.now(UTC)) is None  # no runs table: an OperationalError
    assert scheduler.fire("gone", EVERY_MINUTE, datetime.now(UTC)) is None
    assert scheduler.tick_failures == 2
    service.shutdown()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_schedulers_sharing_postgres_run_each_audit_once(aws: MotoServer, postgres_url: str) -> None:
    a, b = _service(postgres_url), _service(postgres_url)
    tid = _add_target(a.factory, "shared")
    replicas = [AuditScheduler(a), AuditScheduler(b)]

    # 1. a race on the same tick, started at the same instant from two threads
    now = datetime.now(UTC)
    barrier = threading.Barrier(2)
    results: list[int | None] = []

    def tick(s: AuditScheduler) -> None:
        barrier.wait()
        results.append(s.fire("shared", EVERY_MINUTE, now))

    threads = [threading.Thread(target=tick, args=(s,)) for s in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2 and results.count(None) == 1  # one replica ran it, the other stood down
    runs = _runs(a.factory, tid)
    assert len(runs) == 1 and runs[0].status in ("complete", "partial")
    assert runs[0].scheduled_for == now.replace(second=0, microsecond=0)

    # 2. the real APScheduler path in both replicas, fired together at the next tick
    for s in replicas:
        s.start()
    try:
        deadline = time.monotonic() + 90
        while len(_runs(a.factory, tid)) < 2 or any(r.status == "running" for r in _runs(a.factory, tid)):
            assert time.monotonic() < deadline, "the next minute's run did not happen"
            time.sleep(0.5)
        time.sleep(2)  # the other replica's attempt for the same tick has fired by now too
        runs = _runs(a.factory, tid)
        ticks = [r.scheduled_for for r in runs]
        assert len(ticks) == len(set(ticks)) == 2, ticks
    finally:
        for s in replicas:
            s.shutdown()
        a.shutdown()
        b.shutdown()


@pytest.mark.postgres
def test_the_targets_of_one_tick_spread_over_three_replicas(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every replica fires every target at the tick, as many at once as it has workers (APScheduler's pool:
    ``max_parallel_runs`` + 1); a replica busy with its runs does not claim more, so the others take them."""
    replicas = [_service(postgres_url, max_parallel_runs=1) for _ in range(3)]
    names = [f"spread-{uuid.uuid4().hex[:8]}-{i}" for i in range(6)]
    tids = [_add_target(replicas[0].factory, name) for name in names]
    ran_by: dict[str, int] = {}

    def slow_audit(target: TargetConfig, settings: Settings, **_: object) -> SimpleNamespace:
        ran_by[target.name] = next(i for i, r in enumerate(replicas) if r.settings is settings)
        time.sleep(0.5)
        return SimpleNamespace(result=result([], target=target.name))

    monkeypatch.setattr("auditor.pipeline.run_audit", slow_audit)
    now = datetime.now(UTC)
    pools = [ThreadPoolExecutor(max_workers=2) for _ in replicas]  # max_parallel_runs + 1, as the scheduler's
    schedulers = [AuditScheduler(r) for r in replicas]
    futures = [
        pool.submit(s.fire, name, EVERY_MINUTE, now)
        for pool, s in zip(pools, schedulers, strict=True)
        for name in names
    ]
    for f in futures:
        f.result(timeout=60)
    for pool in pools:
        pool.shutdown()
    for tid in tids:  # each target audited exactly once for the tick
        [run] = _runs(replicas[0].factory, tid)
        assert run.status == "complete" and run.scheduled_for == now.replace(second=0, microsecond=0)
    assert sorted(ran_by) == sorted(names)
    per_replica = [list(ran_by.values()).count(i) for i in range(3)]
    assert max(per_replica) <= 4 and sum(1 for n in per_replica if n) >= 2, per_replica  # spread, not queued on one
    for r in replicas:
        r.shutdown()


def _drop_connections(url: str) -> int:
    """Every other connection to the database terminated by the server, as a restart, a failover or an idle timeout
    leaves a pool's connections; how many."""
    admin = create_engine(url, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            dropped = conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        admin.dispose()
    return int(dropped or 0)


@pytest.mark.postgres
def test_a_dropped_database_connection_neither_skips_a_tick_nor_loses_a_finished_audit(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's connections die while it waits for the tick, and again while the audit runs: the tick's claim and
    the audit's result each fail their first statement. The tick was skipped until the next fire time (hours, for
    most schedules) and a finished audit was failed with "recording failed"; each is tried once more on a new
    connection."""
    service = _service(postgres_url)  # a 15 s heartbeat: nothing else touches the database meanwhile
    name = f"dropped-{uuid.uuid4().hex[:8]}"
    tid = _add_target(service.factory, name)
    audited = SimpleNamespace(result=result([finding("rule-a")], target=name))

    def audit_then_drop(target: TargetConfig, settings: Settings, **_: object) -> SimpleNamespace:
        assert _drop_connections(postgres_url) >= 1
        return audited

    monkeypatch.setattr("auditor.pipeline.run_audit", audit_then_drop)
    assert _drop_connections(postgres_url) >= 1
    run_id = AuditScheduler(service).fire(name, EVERY_MINUTE, datetime.now(UTC))
    assert run_id is not None
    [run] = _runs(service.factory, tid)
    assert (run.id, run.status, run.error, run.findings_failed) == (run_id, "complete", None, 1)
    service.shutdown()


class Blackhole:
    """A TCP endpoint that accepts and never answers: an AWS API that hangs mid-run."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.conns: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


def _start_serve(env: dict[str, str], config: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    return start_serve(["--config", str(config)], env, log)


def test_a_killed_run_is_marked_failed(tmp_path: Path) -> None:
    hole = Blackhole()
    config = tmp_path / "targets.yaml"
    config.write_text(yaml.safe_dump({"targets": [{"name": "hang", "kubernetes": False, "regions": ["eu-west-1"]}]}))
    env = {
        **os.environ,
        "AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path}/k.db",
        "AUDITOR_SCHEDULER__LEASE_SECONDS": "2",
        "AUDITOR_SCHEDULER__HEARTBEAT_SECONDS": "0.5",
        "AWS_ENDPOINT_URL": hole.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
    }
    created = CliRunner().invoke(token, ["create", "--name", "ops", "--scope", "admin"], env=env)
    auth = {"Authorization": f"Bearer {created.stdout.splitlines()[0]}"}
    log = tmp_path / "serve.log"
    proc, base = _start_serve(env, config, log)
    try:
        run = httpx.post(f"{base}/api/v1/runs", json={"target": "hang"}, headers=auth).json()
        time.sleep(2.5)  # longer than the lease: only the heartbeat keeps it alive
        assert httpx.get(f"{base}/api/v1/runs/{run['id']}", headers=auth).json()["status"] == "running"
        conflict = httpx.post(f"{base}/api/v1/runs", json={"target": "hang"}, headers=auth)
        assert conflict.status_code == 409 and "still going" in conflict.json()["detail"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    time.sleep(2.5)  # the lease runs out
    proc, base = _start_serve(env, config, log)  # the service starting again expires dead runs
    try:
        body = httpx.get(f"{base}/api/v1/runs/{run['id']}", headers=auth).json()
        assert body["status"] == "failed", body
        assert "stopped" in body["error"] and body["findings_failed"] == 0
        assert httpx.get(f"{base}/api/v1/findings", headers=auth).json()["items"] == []
    finally:
        proc.terminate()
        proc.wait(15)
        hole.close()


def test_a_run_going_when_the_service_is_stopped_is_failed_as_interrupted(database_url: str, tmp_path: Path) -> None:
    """SIGTERM (a rollout, a scale-down) while a run hangs on AWS: the run is failed as interrupted before the process
    exits, so its target is free at once. It was left ``running``, holding the target (409) for a lease and then
    failed as if the process had been killed."""
    hole = Blackhole()
    name = f"sigterm-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "targets.yaml"
    config.write_text(yaml.safe_dump({"targets": [{"name": name, "kubernetes": False, "regions": ["eu-west-1"]}]}))
    env = {
        **os.environ,
        "AUDITOR_DATABASE_URL": database_url,
        "AWS_ENDPOINT_URL": hole.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
    }
    created = CliRunner().invoke(token, ["create", "--name", name, "--scope", "admin"], env=env)
    auth = {"Authorization": f"Bearer {created.stdout.splitlines()[0]}"}
    proc, base = _start_serve(env, config, tmp_path / "serve.log")
    try:
        run = httpx.post(f"{base}/api/v1/runs", json={"target": name}, headers=auth).json()
        _wait_for("the run calling AWS", lambda: bool(hole.conns))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        hole.close()
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:
            row = store_runs.get_run(s, run["id"])
        assert row.status == "failed" and row.finished_at is not None, (row.status, row.error)
        assert (row.error or "").startswith("interrupted: the service stopped while this run was going")
    finally:
        engine.dispose()


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f}s"
        time.sleep(0.1)


def test_a_failure_while_recording_fails_the_run_at_once_and_frees_the_target(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database refuses the result mid-transaction (the run's row locked): the run is failed now,
    with the reason, the traceback is logged, and the target can be audited again right away."""
    service = _service(database_url)  # a 120 s lease: only the immediate path can end the run in time
    name = f"record-{uuid.uuid4().hex[:8]}"
    tid = _add_target(service.factory, name)
    audited = SimpleNamespace(result=result([finding("rule-a")], target=name))
    monkeypatch.setattr("auditor.pipeline.run_audit", lambda target, settings, **_: audited)
    real_lb_rows = store_runs._lb_rows

    def refused(run: RunRow, res: AuditResult) -> list[LoadBalancerRow]:
        rows = real_lb_rows(run, res)
        rows[0].arn = None  # type: ignore[assignment]  # NOT NULL: refused by the database itself
        return rows

    monkeypatch.setattr(store_runs, "_lb_rows", refused)
    caplog.set_level(logging.INFO, logger="auditor.service")
    run = service.start(name, trigger="api")
    failed = service.submit(run).result(timeout=60)
    assert failed is not None and failed.status == "failed" and failed.finished_at is not None
    assert (failed.error or "").startswith("recording failed: IntegrityError: "), failed.error
    logged = [r for r in caplog.records if r.name == "auditor.service" and r.exc_info]
    assert [r.getMessage() for r in logged] == [f"run {run.id} of {name} could not be recorded"]
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is IntegrityError
    with service.factory() as s:  # nothing of the refused transaction was kept
        assert s.scalars(select(FindingRow).where(FindingRow.target_id == tid)).all() == []

    monkeypatch.setattr(store_runs, "_lb_rows", real_lb_rows)
    again = service.start(name, trigger="api")  # no Conflict (the API's 409): the target is free
    done = service.submit(again).result(timeout=60)
    assert done is not None and done.status == "complete" and done.load_balancers == 1
    service.shutdown(wait=True)


def _declare_dead(factory: sessionmaker[Session], run_id: int, lease_seconds: float) -> None:
    """What another replica's sweep does to a run whose heartbeat is older than the lease (a long GC pause, a network
    partition): put its heartbeat back past the lease and expire it, until the sweep takes it (a renewal in between
    makes it fresh again)."""
    for _ in range(50):
        with transaction(factory) as s:
            s.execute(
                update(RunRow)
                .where(RunRow.id == run_id)
                .values(heartbeat_at=utcnow() - timedelta(seconds=2 * lease_seconds))
            )
        if run_id in store_runs.expire_stale_runs(factory, lease_seconds):
            return
    raise AssertionError(f"run {run_id} could not be expired")


def test_a_run_that_lost_its_lease_stops_before_its_next_aws_request(
    aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """While the audit's first collector reads AWS, another replica declares the run dead. Once its heartbeat finds
    that out, not one more request reaches AWS (the rate limits are shared with the controllers, and another replica
    may be auditing the target already): the run stays failed as the sweep left it, nothing of it is recorded, its
    shared read is given up rather than kept or marked failed, and the log says so once, without a traceback."""
    url = f"sqlite:///{tmp_path}/lost.db"
    engine = make_engine(url)
    upgrade(engine)
    # one request at a time: none is under way when the loss is known
    service = AuditService(Settings(database_url=url, aws=AwsSettings(max_concurrency=1)), session_factory(engine))
    name = "lost-lease"
    tid = _add_target(service.factory, name)
    caplog.set_level(logging.INFO, logger="auditor")
    run = service.start(name, trigger="schedule")  # scheduled: its reads go through the shared store
    beat = Heartbeat(service.factory, run.id, interval=0.05)
    lease = service.settings.scheduler.lease_seconds

    def declared_dead_meanwhile(number: int, *_: object) -> None:
        if number == 2:  # the audit's first request after STS's identity: its first collector is reading
            _declare_dead(service.factory, run.id, lease)
            assert beat.lost.wait(10), "the heartbeat did not find the run failed"
            seen.append("lost")  # what arrives from here on was sent after the loss was known

    seen = record_requests(monkeypatch, declared_dead_meanwhile)
    row = service.execute(run.id, beat)

    assert seen[1:] == ["elasticloadbalancing", "lost"], seen  # not one request after it
    assert row.status == "failed" and row.error is not None
    assert row.error.startswith(f"the process running it stopped (no heartbeat for {lease:.0f}s)"), row.error
    assert row.coverage is None and row.api_calls is None and row.load_balancers == 0
    with service.factory() as s:
        assert s.scalars(select(LoadBalancerRow).where(LoadBalancerRow.run_id == run.id)).all() == []
        assert s.scalars(select(FindingRow).where(FindingRow.target_id == tid)).all() == []
        assert s.scalars(select(SharedReadRow)).all() == []  # no read kept for others, no claim left to wait for
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "auditor.service"] == [
        ("INFO", f"run {run.id} of {name} started (schedule)"),
        (
            "ERROR",
            f"run {run.id} is no longer running (failed elsewhere after its lease expired, or interrupted as the "
            "service stops); its audit stops before its next AWS or Kubernetes request and nothing of it is recorded",
        ),
        (
            "WARNING",
            f"run {run.id} stopped: it is no longer running (its lease expired and it was failed elsewhere, or the "
            "service is stopping); another replica may audit the target",
        ),
    ]
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    service.shutdown()
    engine.dispose()


def test_an_api_only_replica_fails_a_dead_run_without_any_request(database_url: str) -> None:
    """`auditor serve --api-only` (no scheduler) expires a dead run on its own, not when a request comes."""
    settings = Settings(
        database_url=database_url,
        scheduler=SchedulerSettings(lease_seconds=1, heartbeat_seconds=0.5),  # sweeps every second
    )
    engine = make_engine(database_url)
    upgrade(engine)
    factory = session_factory(engine)
    tid = _add_target(factory, f"api-only-{uuid.uuid4().hex[:8]}")
    dead = store_runs.claim_run(factory, tid, trigger="api", owner="a-killed-replica:1")  # nobody beats for it
    app = create_app(settings, migrate=True, sync_targets=False, run_scheduler=False)
    with TestClient(app):  # the app runs; not one request is made
        _wait_for("the dead run marked failed", lambda: _runs(factory, tid)[0].status != "running")
        assert app.state.scheduler is None
    [row] = _runs(factory, tid)
    assert (row.id, row.status) == (dead.id, "failed") and "stopped" in (row.error or "")
    engine.dispose()


def test_lease_expiry_logs_and_counts_its_failures_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/late.db")  # no schema yet: every sweep fails
    expiry = LeaseExpiry(session_factory(engine), lease_seconds=0.5, interval=0.1)
    caplog.set_level(logging.ERROR, logger="auditor.service")
    expiry.start()
    try:
        _wait_for("two failed sweeps", lambda: expiry.failures >= 2)
        assert (expiry.last_error or "").startswith("OperationalError: no such table"), expiry.last_error
        failures = [r for r in caplog.records if r.getMessage().startswith("expiring dead runs failed")]
        assert failures and all(r.exc_info for r in failures)  # with the traceback

        upgrade(engine)  # the database comes back: the same loop carries on
        factory = session_factory(engine)
        tid = _add_target(factory, "late")
        store_runs.claim_run(factory, tid, trigger="api", owner="gone:1")
        _wait_for("the dead run marked failed", lambda: _runs(factory, tid)[0].status == "failed")
        assert expiry.consecutive_failures == 0 and expiry.last_success is not None
    finally:
        expiry.stop()
        engine.dispose()


def test_a_run_waiting_for_a_worker_keeps_its_lease_and_one_dropped_at_shutdown_is_failed(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One worker: the second run waits in the queue, alive (its heartbeat runs), so a sweep leaves it
    alone; the third, still queued when the service stops, is failed with that reason, not left running."""
    service = _service(database_url, lease_seconds=1, heartbeat_seconds=0.2, max_parallel_runs=1)
    names = [f"queued-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    for name in names:
        _add_target(service.factory, name)
    release = threading.Event()

    def slow_audit(target: TargetConfig, settings: Settings, **_: object) -> SimpleNamespace:
        release.wait(30)
        return SimpleNamespace(result=result([], target=target.name))

    monkeypatch.setattr("auditor.pipeline.run_audit", slow_audit)
    first, second = (service.submit(service.start(n, trigger="api")) for n in names[:2])
    time.sleep(2.5)  # two and a half leases: only a heartbeat keeps the waiting run alive
    assert store_runs.expire_stale_runs(service.factory, lease_seconds=1) == []
    release.set()
    assert [f.result(timeout=30).status for f in (first, second)] == ["complete", "complete"]  # type: ignore[union-attr]

    release.clear()
    busy = service.submit(service.start(names[0], trigger="api"))
    dropped = service.start(names[2], trigger="api")
    service.submit(dropped)
    service.shutdown(wait=False)
    release.set()
    busy.result(timeout=30)
    with service.factory() as s:
        row = store_runs.get_run(s, dropped.id)
    assert (row.status, row.error) == ("failed", "the service stopped before this run started")


def test_a_run_submitted_to_a_stopped_service_is_failed_not_kept_alive(tmp_path: Path) -> None:
    service = _service(f"sqlite:///{tmp_path}/stopped.db", heartbeat_seconds=0.1)
    _add_target(service.factory, "late")
    run = service.start("late", trigger="api")
    service.shutdown()
    with pytest.raises(AuditorError, match="stopping"):
        service.submit(run)
    time.sleep(0.3)  # a heartbeat left behind would keep renewing it
    with service.factory() as s:
        row = store_runs.get_run(s, run.id)
    assert (row.status, row.error) == ("failed", "the service stopped before this run started")
    assert not [t for t in threading.enumerate() if t.name == f"heartbeat-{run.id}"]


def test_a_tick_that_cannot_start_its_run_logs_the_traceback_and_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service = _service(f"sqlite:///{tmp_path}/tick.db")
    _add_target(service.factory, "tick")

    def database_gone(*args: object, **kwargs: object) -> RunRow:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(service, "start", database_gone)
    caplog.set_level(logging.ERROR, logger="auditor.scheduler")
    assert AuditScheduler(service).fire("tick", EVERY_MINUTE) is None
    [logged] = [r for r in caplog.records if r.name == "auditor.scheduler"]
    assert logged.getMessage().startswith("scheduled run of tick at ") and logged.exc_info is not None
    service.shutdown()
