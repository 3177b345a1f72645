"""The Alembic migrations build exactly the schema the ORM models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from auditor.store.db import check_ready, head_revision, upgrade
from auditor.store.models import Base


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], "models changed without a migration: add one under auditor/store/migrations/versions"
    assert check_ready(engine) is None
    assert upgrade(engine) == head_revision()  # upgrading again is a no-op
