"""Store fixtures: every store test runs against a migrated SQLite file and a migrated real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from auditor.store.db import make_engine, session_factory, upgrade
from auditor.store.models import Base
from tests.store.pg import fresh_postgres_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no schema yet, to migrate step by step (not the shared, migrated one)."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path}/old.db")
        yield eng
        eng.dispose()
        return
    with fresh_postgres_database() as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path}/store.db")
        upgrade(eng)
    else:
        eng = make_engine(request.getfixturevalue("postgres_url"))
        upgrade(eng)
        with eng.begin() as conn:  # the database is shared by the session: start each test empty
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
