"""Replicas of `auditor serve` on one database share the reads of an account × region (issue #11, fleets): the
demo's three clusters (one account, one region) audited by different replicas read it once, through the
database, with the verdicts of reading it fresh — on SQLite (one process) and on PostgreSQL (replicas at once)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.collect.aws.shared import SHAREABLE
from auditor.config import Settings, load_targets
from auditor.demo.environment import DemoEnvironment
from auditor.findings import AuditResult
from auditor.scheduler import AuditScheduler
from auditor.service import AuditService
from auditor.store.db import make_engine, session_factory, transaction, upgrade
from auditor.store.models import RunRow
from auditor.store.runs import run_result
from auditor.store.targets import sync_targets
from tests.store.pg import BACKENDS
from tests.store.pg import database_url as new_database

pytestmark = pytest.mark.slow

CLUSTERS = ("demo", "staging", "sandbox")
_REGIONAL = ("elasticloadbalancing:", "wafv2:", "ec2:", "acm:", "monitoring:", "ce:")


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoEnvironment]:
    with DemoEnvironment() as env:
        yield env


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with new_database(request.param, tmp_path) as url:
        yield url


def _replicas(url: str, demo: DemoEnvironment, n: int) -> list[AuditService]:
    """``n`` services on one database, each with its own engine and memory, as separate processes have."""
    assert demo.config_file is not None
    engines = [make_engine(url) for _ in range(n)]
    upgrade(engines[0])
    services = [AuditService(Settings(database_url=url), session_factory(e)) for e in engines]
    with transaction(services[0].factory) as s:
        sync_targets(s, load_targets(demo.config_file))
    return services


def _result(service: AuditService, run: RunRow) -> AuditResult:
    with service.factory() as s:
        return run_result(s, run)


def _shared_calls(result: AuditResult) -> int:
    return sum(n for op, n in result.api_calls.items() if op.startswith(_REGIONAL))


def _verdicts(result: AuditResult) -> list[tuple[str, str, str, str]]:
    return sorted(
        (f.rule_id, f.resource_arn or f.resource_name or "", f.status.value, f.message) for f in result.findings
    )


def test_a_replica_takes_what_another_replica_read(demo: DemoEnvironment, database_url: str) -> None:
    first, second, fresh = _replicas(database_url, demo, 3)
    reader = first.run_now("demo", trigger="schedule")
    taker = second.run_now("staging", trigger="schedule")
    alone = fresh.run_now("staging", trigger="api")  # asked for now: reads everything itself
    assert [r.status for r in (reader, taker, alone)] == ["complete"] * 3
    read, took, own = _result(first, reader), _result(second, taker), _result(fresh, alone)
    assert _shared_calls(read) > 0 and _shared_calls(own) > 0
    assert _shared_calls(took) == 0  # every shared collector came from the database
    assert {c.collector for c in took.coverage if c.source == "aws" and c.calls == 0} >= SHAREABLE
    assert _verdicts(took) == _verdicts(own)
    assert {(c.collector, c.region): c.status for c in took.coverage} == {
        (c.collector, c.region): c.status for c in own.coverage
    }


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # replicas at once: SQLite serves one process
def test_replicas_firing_one_tick_read_the_account_region_once(demo: DemoEnvironment, database_url: str) -> None:
    assert database_url.startswith("postgresql")
    replicas = _replicas(database_url, demo, 3)
    reference = _shared_calls(_result(replicas[0], replicas[0].run_now("demo", trigger="api")))
    schedulers = [AuditScheduler(service) for service in replicas]
    tick = datetime.now(UTC).replace(second=30, microsecond=0)
    started: list[tuple[int, int | None]] = []
    lock = threading.Lock()

    def fire(index: int, cluster: str) -> None:  # what APScheduler does in each replica at the tick
        run_id = schedulers[index].fire(cluster, "* * * * *", now=tick)
        with lock:
            started.append((index, run_id))

    # each replica wins one target (which replica wins is a race the scheduler tests cover): the three run at once
    threads = [threading.Thread(target=fire, args=(i, c)) for i, c in enumerate(CLUSTERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    ran = [(i, run_id) for i, run_id in started if run_id is not None]
    assert sorted(i for i, _ in ran) == [0, 1, 2]
    results = []
    for index, run_id in ran:
        with replicas[index].factory() as s:
            row = s.get(RunRow, run_id)
            assert row is not None and row.status == "complete"
            results.append(run_result(s, row))
    assert sum(_shared_calls(r) for r in results) == reference  # the account-region read once for all three
