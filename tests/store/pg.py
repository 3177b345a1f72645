"""A throwaway PostgreSQL database per test session (AUDITOR_TEST_POSTGRES_URL), shared by store/API/scheduler tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a uniquely named database on the test server, yield its URL, drop it afterwards.

    Skips when the server is unreachable, except under CI=true where that is a failure.
    """
    base = make_url(os.environ.get("AUDITOR_TEST_POSTGRES_URL", DEFAULT_URL))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"auditor_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {base.render_as_string(hide_password=True)} unreachable under CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {str(exc).splitlines()[0]}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# the two backends a test of the service runs on: SQLite, the default, and PostgreSQL, production's
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def database_url(backend: str, directory: Path) -> Iterator[str]:
    """A new, empty database of ``backend`` (one of BACKENDS): a SQLite file in ``directory``, or a fresh
    PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory}/auditor.db"
        return
    with fresh_postgres_database() as url:
        yield url
