"""create_app(): the FastAPI application of `auditor serve` — routes, error mapping, offline docs, lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
import psycopg
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from auditor import __version__
from auditor.api import dashboard
from auditor.api.auth import TokenVerifier
from auditor.api.metrics import make_registry
from auditor.api.routes import consolidation as consolidation_routes
from auditor.api.routes import cost, findings, health, load_balancers, reports, runs, summary, suppressions, targets
from auditor.api.schemas import ErrorOut
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
        app.state.registry = make_registry(factory, service, scheduler)
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
    for module in (health, findings, load_balancers, runs, reports, targets, suppressions, summary, cost):
        app.include_router(module.router)
    app.include_router(consolidation_routes.router)
    dashboard.install(app)  # the web pages at / (not in the OpenAPI document)
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


def _message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def error_body(detail: str | list[dict[str, Any]], message: str | None = None) -> dict[str, Any]:
    """The documented error body (``ErrorOut``) of every error response, validated by that model."""
    if message is None:
        message = detail if isinstance(detail, str) else _message(detail)
    return ErrorOut.model_validate({"detail": detail, "message": message}).model_dump(mode="json")


def _field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's validation errors as ``FieldError``s: location, message and kind only — never the input,
    which may echo a secret sent in the wrong field."""
    return [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in err.get("loc", ())],
            "msg": str(err.get("msg", "")).removeprefix("Value error, "),  # pydantic's prefix to our messages
            "type": str(err.get("type", "value_error")),
        }
        for err in errors
    ]


def _install_error_handlers(app: FastAPI) -> None:
    """Every error is the documented ``ErrorOut`` body: AuditorError subclasses and HTTP errors get their status,
    bad input is 422 naming the field, the database being down 503, anything else a logged 500 without a
    traceback."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(_field_errors(exc.errors())), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (status.HTTP_204_NO_CONTENT, status.HTTP_304_NOT_MODIFIED):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return JSONResponse(error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        reason = exc.orig if isinstance(exc, OperationalError) else exc
        log.error("%s %s: database unavailable: %s", request.method, request.url.path, str(reason).splitlines()[0])
        return JSONResponse(
            error_body("the database is unavailable; retry shortly", "database unavailable"),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(BadCursor)
    async def bad_cursor(_: Request, exc: BadCursor) -> JSONResponse:
        detail = [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}]
        return JSONResponse(error_body(detail), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

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
        return JSONResponse(error_body(str(exc)), status_code=code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's ServerErrorMiddleware calls this for anything unhandled: a plain body, the traceback
        # only in the log.
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("internal error; the server log has the details"), status_code=500)
