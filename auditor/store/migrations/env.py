"""Alembic environment: runs migrations on the connection handed over by auditor.store.db.upgrade."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from auditor.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("auditor migrations run through `auditor db upgrade`, which passes the engine")
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; use `auditor db upgrade`")
run_migrations_online()
