"""The latest report of a target, in any format (the same as /runs/{id}/report of its last finished run)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from auditor.api.deps import Reader, ServiceDep, SessionDep
from auditor.api.routes.runs import MEDIA_TYPES, ReportFormat, report_response
from auditor.api.schemas import TargetName, error_responses
from auditor.errors import NotFound
from auditor.store import runs as store_runs
from auditor.store.targets import get_target

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], responses=error_responses(401, 404, 422, 503))


@router.get(
    "/latest",
    summary="The report of a target's latest finished run (as /runs/{id}/report)",
    response_class=Response,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
)
def latest(
    session: SessionDep,
    service: ServiceDep,
    _: Reader,
    cluster: Annotated[TargetName, Query()],
    format: Annotated[ReportFormat, Query()] = "html",
) -> Response:
    target = get_target(session, cluster)
    run_id = store_runs.latest_finished_ids(session, [target.id]).get(target.id)
    if run_id is None:
        raise NotFound(f"target {target.name!r} has no finished run yet")
    return report_response(session, service, store_runs.get_run(session, run_id), format)
