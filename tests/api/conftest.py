"""API fixtures: the real app over SQLite and over PostgreSQL, with read and admin tokens and two runs of history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from auditor.api.app import create_app
from auditor.config import Settings, TargetConfig
from auditor.findings import Severity, Status
from auditor.store import runs as store_runs
from auditor.store.db import make_engine, session_factory, transaction, upgrade
from auditor.store.models import Base
from auditor.store.targets import sync_targets
from auditor.store.tokens import create_token
from tests.store.pg import fresh_postgres_database
from tests.store.results import ARN2, finding, lb, result


@dataclass
class Api:
    client: TestClient
    read: dict[str, str]
    admin: dict[str, str]
    settings: Settings


def seed(url: str) -> None:
    """Two targets; 'prod' has two runs: rule-b resolved, rule-c new, rule-a still open, rule-u open but not
    re-checked (FAIL, then UNKNOWN)."""
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        rows = sync_targets(
            s,
            [
                TargetConfig(name="prod", cluster_name="prod-eks", regions=["eu-west-1"], schedule="0 * * * *"),
                TargetConfig(name="stage", regions=["eu-west-1"]),
            ],
        )
        prod, stage = rows[0].id, rows[1].id
    a = finding("rule-a", severity=Severity.HIGH, saving=22.0)
    b = finding("rule-b", severity=Severity.CRITICAL, arn=ARN2, namespace="pay", name="api")
    c = finding("rule-c", severity=Severity.MEDIUM, saving=18.0)  # the same load balancer as rule-a
    u_fail = finding("rule-u", severity=Severity.LOW, namespace="ops", name="tools")
    u = finding("rule-u", status=Status.UNKNOWN, severity=Severity.LOW, namespace="ops", name="tools")
    for tid, res in (
        (
            prod,
            result(
                [a, b, u_fail], n=0, load_balancers=[lb(), lb(ARN2, orphan="owner-gone", type_="network", cost=18.0)]
            ),
        ),
        (
            prod,
            result([a, c, u], n=1, load_balancers=[lb(), lb(ARN2, orphan="owner-gone", type_="network", cost=18.0)]),
        ),
        (stage, result([finding("rule-a", severity=Severity.INFO, namespace="stage")], n=0, target="stage")),
    ):
        run = store_runs.claim_run(factory, tid, trigger="cli", owner="seed")
        store_runs.record_result(factory, run.id, res)
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


def _empty_postgres(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:  # the database is shared by the session: start each test empty
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every API test runs on both backends: SQLite (sync reads in a thread) and PostgreSQL (the async
    psycopg read path of the findings list)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/api.db"
    url: str = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    url = database_url
    seed(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        _, read = create_token(s, "reader", "read")
        _, admin = create_token(s, "boss", "admin")
    engine.dispose()
    settings = Settings(database_url=url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Api(
            client=client,
            read={"Authorization": f"Bearer {read}"},
            admin={"Authorization": f"Bearer {admin}"},
            settings=settings,
        )
