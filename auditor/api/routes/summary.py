"""Summary per cluster: open findings by severity, load balancers by type, orphans and their cost."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from auditor.api.deps import Reader, SessionDep
from auditor.api.routes.runs import run_out
from auditor.api.schemas import SummaryOut
from auditor.store.queries import summary as store_summary

router = APIRouter(prefix="/api/v1/summary", tags=["summary"])


@router.get("", response_model=SummaryOut)
def summary(
    session: SessionDep, _: Reader, cluster: Annotated[str | None, Query(min_length=1)] = None
) -> dict[str, Any]:
    out = []
    for entry in store_summary(session, cluster):
        data = {k: v for k, v in asdict(entry).items() if k != "last_run"}
        data["last_run"] = run_out(entry.last_run) if entry.last_run is not None else None
        out.append(data)
    return {"clusters": out}
