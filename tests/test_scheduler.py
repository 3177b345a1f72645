"""Scheduler: no overlap, one run per fire time across replicas sharing PostgreSQL, killed runs end up failed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from auditor.cli_service import token
from auditor.config import SchedulerSettings, Settings, TargetConfig
from auditor.demo.motoserver import MotoServer, free_port
from auditor.scheduler import AuditScheduler, cron_trigger, latest_fire_time
from auditor.service import AuditService
from auditor.store import runs as store_runs
from auditor.store.db import make_engine, session_factory, transaction, upgrade
from auditor.store.models import RunRow
from auditor.store.targets import sync_targets
from tests.store.pg import fresh_postgres_database

EVERY_MINUTE = "* * * * *"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


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


def test_no_overlap_a_run_still_going_is_not_started_again(aws: MotoServer, tmp_path: Path) -> None:
    service = _service(f"sqlite:///{tmp_path}/s.db")
    tid = _add_target(service.factory, "busy")
    going = store_runs.claim_run(service.factory, tid, trigger="api", owner="elsewhere")  # a run still going
    scheduler = AuditScheduler(service)
    scheduler.reload_targets()
    job = scheduler._scheduler.get_job(f"target-{tid}")
    assert job is not None and job.max_instances == 1 and job.coalesce  # and in-process: no second instance
    assert scheduler.fire("busy", EVERY_MINUTE) is None
    assert [r.id for r in _runs(service.factory, tid)] == [going.id]
    store_runs.fail_run(service.factory, going.id, "test over")
    run_id = scheduler.fire("busy", EVERY_MINUTE)
    assert run_id is not None
    assert _runs(service.factory, tid)[-1].status in ("complete", "partial")
    assert scheduler.fire("busy", EVERY_MINUTE) is None  # the same minute's tick again: already served
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
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor.cli_service", "serve", "--port", str(port), "--config", str(config)],
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


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
