"""create_app(): the FastAPI application of `auditor serve` — routes, error mapping, offline docs, lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
import psycopg
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import OperationalError

from auditor import __version__
from auditor.api.auth import TokenVerifier
from auditor.api.metrics import make_registry
from auditor.api.routes import findings, health, load_balancers, reports, runs, summary, suppressions, targets
from auditor.config import Settings, get_settings
from auditor.errors import AuditorError, ConfigError, Conflict, NotFound, StoreError
from auditor.scheduler import AuditScheduler
from auditor.service import AuditService
from auditor.store.db import (
    async_read_pool,
    check_ready,
    make_engine,
    read_session_factory,
    redact,
    session_factory,
    upgrade,
)
from auditor.store.queries import BadCursor

log = logging.getLogger(__name__)

# Swagger UI and ReDoc assets shipped by the fastapi-offline wheel: the docs page needs no CDN.
_DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"

DESCRIPTION = """Findings, load balancers, runs and reports of the EKS exposure auditor.

Every route except `/healthz`, `/readyz` and these docs needs `Authorization: Bearer <token>`
(`auditor token create --name NAME --scope read|admin`). `admin` may trigger runs and manage
suppressions and targets.
"""


def create_app(
    settings: Settings | None = None,
    *,
    migrate: bool = True,
    sync_targets: bool = True,
    run_scheduler: bool = False,
    freeze_gc: bool = False,
) -> FastAPI:
    """The API. ``migrate``: upgrade the schema on start; ``sync_targets``: load the config file's
    targets; ``run_scheduler``: also run the cron scheduler in this process; ``freeze_gc``: this
    process is the server (see ``_freeze_startup_objects``)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        if migrate:
            upgrade(engine)
        else:
            problem = check_ready(engine)
            if problem:
                log.warning("database not ready: %s", problem)
        factory = session_factory(engine)
        service = AuditService(settings, factory)
        if sync_targets:
            service.sync_config_targets()
        scheduler = AuditScheduler(service) if run_scheduler else None
        app.state.engine = engine
        app.state.factory = factory
        app.state.read_factory = read_session_factory(engine)
        app.state.read_pool = read_pool = async_read_pool(engine, max_size=settings.api.read_pool_size)
        if read_pool is not None:
            await read_pool.open(wait=False)  # connects in the background: a database that is down is a 503
        app.state.service = service
        app.state.verifier = TokenVerifier(factory, settings.api.token_cache_seconds)
        app.state.registry = make_registry(factory)
        app.state.scheduler = scheduler
        service.start_maintenance()  # every replica, API-only too, fails runs whose process died
        if scheduler is not None:
            scheduler.start()
        if freeze_gc:
            _freeze_startup_objects()
        log.info("API ready on database %s", redact(settings.database_url))
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()
            service.shutdown()
            if read_pool is not None:
                await read_pool.close()
            engine.dispose()

    app = FastAPI(
        title="EKS exposure auditor",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.scheduler = None
    app.state.read_pool = None
    _install_docs(app)
    _install_error_handlers(app)
    for module in (health, findings, load_balancers, runs, reports, targets, suppressions, summary):
        app.include_router(module.router)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers (``--workers N``): settings from the environment, no migration,
    no target sync and no scheduler — the parent process does those once."""
    return create_app(migrate=False, sync_targets=False, run_scheduler=False, freeze_gc=True)


def _freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, FastAPI's routes, pydantic schemas, SQLAlchemy
    metadata: ~130k objects) out of the cyclic garbage collector's reach. A full collection otherwise
    walks them all, a pause of 100 ms or more every few thousand requests: the p99 of the API."""
    gc.collect()
    gc.freeze()


def _install_docs(app: FastAPI) -> None:
    app.mount("/docs-assets", StaticFiles(directory=_DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            redoc_js_url="/docs-assets/redoc.standalone.js",
            redoc_favicon_url="/docs-assets/favicon.png",
            with_google_fonts=False,
        )


def _message(errors: list[Any]) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    """AuditorError subclasses -> HTTP statuses; bad input is 422 with a message, never a 500."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        for err in errors:
            err.pop("input", None)  # may echo a secret sent in the wrong field
            err.pop("ctx", None)
        return JSONResponse(
            {"detail": jsonable_encoder(errors), "message": _message(errors)},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        reason = exc.orig if isinstance(exc, OperationalError) else exc
        log.error("%s %s: database unavailable: %s", request.method, request.url.path, str(reason).splitlines()[0])
        return JSONResponse(
            {"detail": "the database is unavailable; retry shortly", "message": "database unavailable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(BadCursor)
    async def bad_cursor(_: Request, exc: BadCursor) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "message": str(exc)}, status_code=422)

    @app.exception_handler(AuditorError)
    async def auditor_error(request: Request, exc: AuditorError) -> JSONResponse:
        code = 500
        if isinstance(exc, NotFound):
            code = 404
        elif isinstance(exc, Conflict):
            code = 409
        elif isinstance(exc, ConfigError):
            code = 422
        elif isinstance(exc, StoreError):
            code = 503
        if code >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc), "message": str(exc)}, status_code=code)
