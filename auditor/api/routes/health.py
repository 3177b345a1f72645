"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from auditor.api.deps import bearer, require_read
from auditor.api.schemas import Readiness, error_responses
from auditor.store.db import check_ready

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    summary="The database answers and its schema is current",
    responses={503: {"model": Readiness, "description": "not ready, and why"}},
)
async def readyz(request: Request, response: Response) -> dict[str, str]:
    problem = await run_in_threadpool(check_ready, request.app.state.engine)
    if problem is not None:
        response.status_code = 503
        return {"status": "not ready", "reason": problem}
    scheduler = request.app.state.scheduler
    if scheduler is not None and not scheduler.running:
        response.status_code = 503
        return {"status": "not ready", "reason": "the scheduler is not running"}
    return {"status": "ready"}


@router.get(
    "/metrics",
    summary="Prometheus metrics (read token unless api.metrics_public)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **error_responses(401, 503)},
)
async def metrics(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Response:
    if not request.app.state.settings.api.metrics_public:
        await require_read(request, credentials)
    body = await run_in_threadpool(generate_latest, request.app.state.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
