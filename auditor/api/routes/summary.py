"""Summary per cluster: open findings by severity, load balancers by type, orphans and their cost."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from auditor.api.deps import Reader, SessionDep
from auditor.api.routes.runs import run_out
from auditor.api.schemas import SummaryOut, TargetName, error_responses
from auditor.store.queries import summary as store_summary

router = APIRouter(prefix="/api/v1/summary", tags=["summary"], responses=error_responses(401, 422, 503))


@router.get(
    "",
    response_model=SummaryOut,
    summary="Per cluster: open findings by severity, load balancers by type, orphans and cost",
    responses=error_responses(404),
)
def summary(session: SessionDep, _: Reader, cluster: Annotated[TargetName | None, Query()] = None) -> dict[str, Any]:
    out = []
    for entry in store_summary(session, cluster):
        data = {k: v for k, v in asdict(entry).items() if k != "last_run"}
        data["last_run"] = run_out(entry.last_run) if entry.last_run is not None else None
        out.append(data)
    return {"clusters": out}
