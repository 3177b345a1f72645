"""Runs: list with coverage, trigger one (admin), poll it, and its reports in every format."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from auditor.api.deps import Admin, Reader, RunId, ServiceDep, SessionDep, SettingsDep
from auditor.api.schemas import RunCreate, RunDetail, RunPage, TargetName, error_responses
from auditor.output import render
from auditor.rules.selection import Narrowing
from auditor.store import runs as store_runs
from auditor.store.models import RunRow
from auditor.store.queries import ROW_ID_MAX
from auditor.store.targets import get_target, target_ids, to_config

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], responses=error_responses(401, 422, 503))

ReportFormat = Literal["markdown", "html", "json", "csv", "sarif"]
MEDIA_TYPES = {
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "sarif": "application/sarif+json",
}
# A report quotes cluster text: served with no script, no plugin, no framing, and never sniffed as another type (its
# stylesheet is inline, its charts inline SVG).
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
}


def report_response(session: SessionDep, service: ServiceDep, run_row: RunRow, format: ReportFormat) -> Response:
    """A stored run's report in ``format``: what changed since the previous run, then findings by severity."""
    result, diff = service.diff_for(session, run_row)
    return Response(render(result, format, diff=diff), media_type=MEDIA_TYPES[format], headers=REPORT_HEADERS)


def run_out(run: RunRow, *, detail: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: getattr(run, name)
        for name in [
            "id",
            "trigger",
            "scheduled_for",
            "status",
            "started_at",
            "finished_at",
            "duration_seconds",
            "error",
            "findings_failed",
            "findings_unknown",
            "findings_passed",
            "findings_new",
            "findings_resolved",
            "load_balancers",
            "aws_calls",
            "collector_errors",
            "coverage",
        ]
    }
    data["cluster"] = run.target.name
    data["links"] = {"self": f"/api/v1/runs/{run.id}"}
    if run.status in store_runs.FINISHED:
        data["links"]["report"] = f"/api/v1/runs/{run.id}/report?format=html"
    if detail:
        data["api_calls"] = run.api_calls
    else:
        data["coverage"] = None
    return data


@router.get("", response_model=RunPage, summary="Runs, newest first")
def runs(
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
    cluster: Annotated[TargetName | None, Query()] = None,
    status: Annotated[Literal["running", "complete", "partial", "failed"] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX, description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    size = limit or settings.api.page_size
    ids = target_ids(session, cluster) if cluster is not None else None
    rows = store_runs.list_runs(session, target_ids=ids, status=status, before_id=cursor, limit=size + 1)
    next_cursor = str(rows[size - 1].id) if len(rows) > size else None
    return {"items": [run_out(r) for r in rows[:size]], "limit": size, "next_cursor": next_cursor}


@router.post(
    "",
    response_model=RunDetail,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a run of a target now (admin); poll its link until it is not 'running'",
    responses=error_responses(400, 403, 404, 409),
)
def trigger(
    body: RunCreate, session: SessionDep, service: ServiceDep, principal: Admin, response: Response
) -> dict[str, Any]:
    target = get_target(session, body.target)
    narrowing = Narrowing(body.rules, body.skip_rules)
    if body.rules or body.skip_rules:  # an unknown rule or an empty selection: 422 before a run is claimed
        narrowing.apply(to_config(target))
    run = service.start(target.name, trigger="api")
    service.submit(run, narrowing)
    response.headers["Location"] = f"/api/v1/runs/{run.id}"
    return run_out(run, detail=True)


@router.get("/{run_id}", response_model=RunDetail, summary="One run with its coverage", responses=error_responses(404))
def run(session: SessionDep, _: Reader, run_id: RunId) -> dict[str, Any]:
    return run_out(store_runs.get_run(session, run_id), detail=True)


@router.get(
    "/{run_id}/report",
    summary="The run's report: what changed since the previous run, then findings by severity",
    response_class=Response,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}, **error_responses(404)},
)
def report(
    session: SessionDep,
    service: ServiceDep,
    _: Reader,
    run_id: RunId,
    format: Annotated[ReportFormat, Query()] = "html",
) -> Response:
    return report_response(session, service, store_runs.get_run(session, run_id), format)
