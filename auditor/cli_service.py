"""CLI commands of the service: `serve`, `db upgrade|current`, `token create|list|revoke` (added to `auditor`)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from auditor.config import Settings, get_settings, load_targets
from auditor.errors import AuditorError
from auditor.logs import configure_logging
from auditor.store import tokens as store_tokens
from auditor.store.db import current_revision, head_revision, make_engine, redact, session_factory, transaction, upgrade
from auditor.terminal import printable

log = logging.getLogger(__name__)


def _settings(ctx: click.Context) -> Settings:
    """The settings the main `auditor` group put in ctx.obj; standalone, read them and set up logging."""
    root = ctx.find_root()
    if isinstance(root.obj, Settings):
        return root.obj
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    root.obj = settings
    return settings


# ------------------------------------------------------------------ serve


@click.command()
@click.option("--host", help="Address to listen on (default: AUDITOR_API__HOST or 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: AUDITOR_API__PORT or 8080).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Targets file (YAML; default: AUDITOR_CONFIG_FILE).",
)
@click.option("--api-only", is_flag=True, help="Serve the API without the scheduler.")
@click.option("--scheduler-only", is_flag=True, help="Run the scheduler without the API.")
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=1,
    show_default=True,
    help="API worker processes (settings from the environment); the scheduler stays in this process.",
)
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log every HTTP request.")
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    config_file: Path | None,
    api_only: bool,
    scheduler_only: bool,
    workers: int,
    access_log: bool,
) -> None:
    """Run the audit service: REST API and scheduler (migrates the database first)."""
    settings = _settings(ctx)
    if api_only and scheduler_only:
        raise click.UsageError("--api-only and --scheduler-only exclude each other")
    if config_file is not None:
        settings = settings.model_copy(update={"config_file": config_file})
    host = host or settings.api.host
    port = port or settings.api.port
    if scheduler_only:
        _run_scheduler_only(settings)
        return

    import uvicorn

    from auditor.api.app import create_app

    if workers == 1:
        _preflight(settings)
        app = create_app(settings, migrate=True, sync_targets=True, run_scheduler=not api_only, freeze_gc=True)
        log.info("serving on http://%s:%d (scheduler %s)", host, port, "off" if api_only else "on")
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=access_log, server_header=False)
        return
    # Several API processes: migrate, sync and schedule once here; workers only serve.
    scheduler, service, engine = _start_background(settings, run_scheduler=not api_only)
    try:
        log.info("serving on http://%s:%d with %d workers", host, port, workers)
        uvicorn.run(
            "auditor.api.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=access_log,
            server_header=False,
        )
    finally:
        if scheduler is not None:
            scheduler.shutdown()
        service.shutdown()
        engine.dispose()


def _preflight(settings: Settings) -> None:
    """What the API's start-up (its lifespan) would fail on, done before uvicorn starts: migrating the database and
    reading the targets file. An error here is one line and its exit code (4, 2); in the lifespan uvicorn logs it as
    a traceback and exits 3. The lifespan does both again: migrating is idempotent, the file is read once more."""
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    if settings.config_file is not None:
        load_targets(settings.config_file)


def _start_background(settings: Settings, *, run_scheduler: bool) -> tuple[Any, Any, Any]:
    from auditor.scheduler import AuditScheduler
    from auditor.service import AuditService

    engine = make_engine(settings.database_url)
    upgrade(engine)
    service = AuditService(settings, session_factory(engine))
    service.sync_config_targets()
    service.start_maintenance()  # with or without the scheduler: runs of dead processes are failed here
    scheduler = AuditScheduler(service) if run_scheduler else None
    if scheduler is not None:
        scheduler.start()
    return scheduler, service, engine


def _run_scheduler_only(settings: Settings) -> None:
    scheduler, service, engine = _start_background(settings, run_scheduler=True)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping the scheduler", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("scheduler running (no API); stop with SIGTERM or Ctrl-C")
    try:
        stop.wait()
    finally:
        scheduler.shutdown()
        service.shutdown()
        engine.dispose()


# ------------------------------------------------------------------ db


@click.group()
def db() -> None:
    """The history database (AUDITOR_DATABASE_URL)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to migrate to.")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or migrate the schema (the service also does this when it starts)."""
    settings = _settings(ctx)
    engine = make_engine(settings.database_url)
    try:
        now = upgrade(engine, revision)
    finally:
        engine.dispose()
    click.echo(f"database {redact(settings.database_url)} at revision {now}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the schema revision of the database and the one this version needs (it creates no database)."""
    settings = _settings(ctx)
    engine = make_engine(settings.database_url, create=False)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    click.echo(f"database {redact(settings.database_url)}: {current or 'empty'} (this auditor needs {head_revision()})")


# ------------------------------------------------------------------ token


@click.group()
def token() -> None:
    """API access tokens (stored hashed; shown once)."""


def _factory(settings: Settings) -> Any:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine, session_factory(engine)


@token.command("create")
@click.option("--name", required=True, help="Who or what uses it, e.g. grafana, alice.")
@click.option("--scope", type=click.Choice(store_tokens.SCOPES), default="read", show_default=True)
@click.pass_context
def token_create(ctx: click.Context, name: str, scope: str) -> None:
    """Create a token and print it once (only its hash is stored)."""
    settings = _settings(ctx)
    engine, factory = _factory(settings)
    try:
        with transaction(factory) as session:
            row, secret = store_tokens.create_token(session, name, scope)
            token_id = row.id
    finally:
        engine.dispose()
    click.echo(secret)
    click.echo(f"token {name!r} (id {token_id}, scope {scope}) created; it is shown only this once", err=True)


@token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """List tokens (name, scope, prefix, last use) — never the tokens themselves."""
    settings = _settings(ctx)
    engine, factory = _factory(settings)
    try:
        with factory() as session:
            rows = store_tokens.list_tokens(session)
    finally:
        engine.dispose()
    click.echo(f"{'ID':>4}  {'NAME':<24} {'SCOPE':<6} {'PREFIX':<12} {'LAST USED':<20} STATE")
    for row in rows:
        used = row.last_used_at.strftime("%Y-%m-%d %H:%M") if row.last_used_at else "never"
        state = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.id:>4}  {row.name:<24} {row.scope:<6} {row.prefix + '…':<12} {used:<20} {state}")


@token.command("revoke")
@click.argument("name")
@click.pass_context
def token_revoke(ctx: click.Context, name: str) -> None:
    """Revoke a token by name or id (running services stop accepting it within AUDITOR_API__TOKEN_CACHE_SECONDS)."""
    settings = _settings(ctx)
    engine, factory = _factory(settings)
    try:
        with transaction(factory) as session:
            row = store_tokens.revoke_token(session, name)
            click.echo(f"token {row.name!r} revoked")
    finally:
        engine.dispose()


# ------------------------------------------------------------------ standalone


@click.group()
def service_cli() -> None:
    """The service commands on their own (`python -m auditor.cli_service`), as `auditor` has them."""


service_cli.add_command(serve)
service_cli.add_command(db)
service_cli.add_command(token)


def main() -> None:
    try:
        service_cli.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except AuditorError as exc:
        click.echo(f"error: {printable(str(exc), one_line=True)}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
