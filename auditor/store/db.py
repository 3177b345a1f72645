"""Database engine, sessions and Alembic migrations (SQLite file by default, PostgreSQL by URL)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from auditor.errors import ConfigError, StoreError
from auditor.store.models import storable_json

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it names the lock every replica takes while migrating a PostgreSQL database.
_MIGRATION_LOCK_KEY = 0x4155444954  # "AUDIT"


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def _sqlite_file(database: str, query: dict[str, Any]) -> Path | None:
    """The file a SQLite URL names; None for an in-memory database. A URI (uri=true) names its file after "file:"
    (https://www.sqlite.org/uri.html), and mode=memory means memory only there (on a plain file name the driver
    ignores it); a plain URL's database is the file name."""
    if not database or database == ":memory:":
        return None
    if "uri" not in query:
        return Path(database)
    path = urlsplit(database).path if database.startswith("file:") else database
    return None if query.get("mode") == "memory" or not path or path == ":memory:" else Path(unquote(path))


def make_engine(url: str, *, pool_size: int = 10, create: bool = True) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys, PostgreSQL a pool.

    A SQLite file and its directory are made on first use; with ``create=False`` (a command that only reads, such as
    ``db current``) a file that does not exist is a StoreError instead, and nothing is made."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"AUDITOR_DATABASE_URL is not a database URL: {exc}") from exc
    kwargs: dict[str, Any] = {"json_serializer": storable_json}  # JSON(B) columns: no NUL (see models)
    if parsed.get_backend_name() == "sqlite":
        file = _sqlite_file(parsed.database or "", dict(parsed.query))
        if file is not None and not create and not file.exists():
            # sqlite3 would create it on connecting: a read would leave an empty database behind, and say "empty"
            raise StoreError(f"database {redact(url)} does not exist; `auditor db upgrade` creates it")
        if file is not None and "uri" not in parsed.query:  # a URI is sqlite's to open: no directory made for it
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, a read-only or virtual file system, a name too long
                raise StoreError(
                    f"cannot create the directory of database {redact(url)}: {exc.strerror or exc}"
                ) from exc
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif parsed.get_backend_name() == "postgresql":
        # No pre-ping: it costs a round trip per request. A connection broken by a database restart
        # fails one request (503, see the API's handlers) and the pool then drops its connections.
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"cannot use database {redact(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the API read while a run commits; one writer at a time is SQLite's limit (single process).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def async_read_pool(engine: Engine, *, max_size: int = 2) -> AsyncConnectionPool[AsyncConnection[Any]] | None:
    """A pool of async psycopg connections for the API's hot reads on PostgreSQL (None on SQLite),
    with the engine's connection arguments: autocommit (no BEGIN/ROLLBACK round trips) and
    TimeZone UTC (datetimes come back as UTC, as ``UtcDateTime`` gives them). Not yet open."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return None
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    conninfo = str(cargs[0]) if cargs else ""

    async def configure(conn: AsyncConnection[Any]) -> None:
        await conn.execute("SET TIME ZONE 'UTC'")

    return AsyncConnectionPool(
        conninfo,
        kwargs={**cparams, "autocommit": True},
        min_size=1,
        max_size=max_size,
        configure=configure,
        timeout=10.0,  # waiting for a connection; the API answers 503 after it
        max_lifetime=1800.0,
        open=False,
        name="auditor-read",
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads that need no transaction: autocommit saves the BEGIN and ROLLBACK round trips."""
    if engine.dialect.name == "sqlite":
        return session_factory(engine)
    return sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error; database errors become StoreError."""
    session = factory()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise StoreError(f"database error: {_one_line(exc)}") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


T = TypeVar("T")


def once_more_if_dropped(operation: Callable[[], T], what: str) -> T:
    """``operation()`` (units of work in sessions of their own), and once more when its connection turned out dead.

    A pooled connection the server or the network dropped while it sat idle (a restart, a failover, an idle timeout,
    ``pg_terminate_backend``) fails its next statement, and the pool then replaces every connection it holds
    (``connection_invalidated``; no pre-ping: see ``make_engine``). Without one more try that first statement cost
    what was under way: a scheduled tick, or a finished audit. SQLAlchemy's recipe for it:
    https://docs.sqlalchemy.org/en/20/core/pooling.html#dealing-with-disconnects. Only a dropped connection is tried
    again, so nothing is written twice: a transaction cut off before its COMMIT was rolled back by the server; one cut
    off during it may have committed, which the second try finds and returns (``claim_run``: the run this claim made;
    ``record_result``: the run recorded from this very result).
    """
    try:
        return operation()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("%s: the database connection was lost (%s); trying once more on a new one", what, _one_line(exc))
    return operation()


def _one_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic configured from the package (no alembic.ini needed), optionally bound to an engine."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StoreError(f"database {redact(str(engine.url))} is unreachable: {_one_line(exc)}") from exc
    except DatabaseError as exc:  # it answers, but is no database of ours (SQLite: "file is not a database")
        raise StoreError(f"cannot read database {redact(str(engine.url))}: {_one_line(exc)}") from exc


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the schema to ``revision``; safe when several replicas start at once (PostgreSQL lock)."""
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                conn.commit()
            if sqlite:
                # Batch migrations copy a table and drop the old one; with foreign keys on, that DROP
                # deletes its rows first and ON DELETE CASCADE empties every referencing table. Off
                # while migrating, checked before commit (https://www.sqlite.org/lang_altertable.html
                # #otheralter, https://alembic.sqlalchemy.org/en/latest/batch.html "Dealing with
                # Referencing Foreign Keys"). The pragma is ignored inside a transaction: it goes first.
                # No cascade fires meanwhile: a migration that deletes rows deletes their dependents.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                cfg = alembic_config(engine)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        conn.rollback()
                        raise StoreError(f"migration left {len(broken)} broken foreign key(s), first: {broken[0]}")
                conn.commit()
            finally:
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                    conn.commit()
                if sqlite:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")  # the pooled connection goes back as it came
    except DatabaseError as exc:  # unreachable (OperationalError), or no database (SQLite: "file is not a database")
        raise StoreError(f"cannot migrate database {redact(str(engine.url))}: {_one_line(exc)}") from exc
    now = current_revision(engine)
    log.info("database %s at revision %s", redact(str(engine.url)), now)
    return now or ""


def check_ready(engine: Engine) -> str | None:
    """None when the database answers and is at the head revision, else what is wrong."""
    try:
        current = current_revision(engine)
    except StoreError as exc:
        return str(exc)
    head = head_revision()
    if current != head:
        return f"database schema at {current or 'nothing'}, needs {head}: run `auditor db upgrade`"
    return None
