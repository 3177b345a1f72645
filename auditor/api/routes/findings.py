"""Findings: the filtered, paged list and one finding with its history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field

from auditor.api.deps import Reader, SessionDep
from auditor.api.schemas import FindingDetail, FindingOut, FindingPage, FindingStatus, finding_page_json
from auditor.config import Settings
from auditor.findings import Severity
from auditor.store.queries import FindingFilter, get_finding, list_findings, list_findings_pg
from auditor.store.queries import FindingPage as StorePage

router = APIRouter(prefix="/api/v1/findings", tags=["findings"])


class FindingQuery(BaseModel):
    """The list's query parameters, validated as one model (one pydantic call per request, not one per field)."""

    cluster: str | None = Field(default=None, min_length=1, description="target or cluster name")
    namespace: str | None = Field(default=None, min_length=1, description="Kubernetes namespace of the owner")
    rule: str | None = Field(default=None, min_length=1, description="rule id")
    severity: list[Severity] | None = Field(default=None, description="one or more severities")
    status: FindingStatus | None = Field(default="open", description="default: open; 'all' is not a status")
    since: AwareDatetime | None = Field(default=None, description="first seen at or after (ISO 8601 with zone)")
    limit: int | None = Field(default=None, ge=1, le=500, description="page size")
    cursor: str | None = Field(default=None, max_length=40, description="next_cursor of the previous page")
    with_total: bool = Field(default=False, description="also count all matches (slower)")


@router.get("", response_model=FindingPage, summary="List findings, worst first")
async def findings(request: Request, _: Reader, query: Annotated[FindingQuery, Query()]) -> Response:
    flt = FindingFilter(
        cluster=query.cluster,
        namespace=query.namespace,
        rule=query.rule,
        severities=tuple(query.severity or ()),
        status=query.status or "open",
        since=query.since,
    )
    settings: Settings = request.app.state.settings
    limit, cursor, with_total = query.limit, query.cursor, query.with_total
    size = limit or settings.api.page_size
    pool = request.app.state.read_pool
    if pool is not None:
        # PostgreSQL, the hot path of dashboards: async psycopg on the event loop, no thread hand-off.
        async with pool.connection() as conn:
            page = await list_findings_pg(
                conn, flt, limit=size, cursor=cursor, with_total=with_total, shaper=FindingOut.row_shaper
            )
    else:
        factory = request.app.state.read_factory

        def read() -> StorePage:
            with factory() as session:
                return list_findings(
                    session, flt, limit=size, cursor=cursor, with_total=with_total, shaper=FindingOut.row_shaper
                )

        page = await run_in_threadpool(read)
    body = finding_page_json(page.items, size, page.next_cursor, page.total)
    return Response(body, media_type="application/json")


@router.get("/{finding_id}", response_model=FindingDetail, summary="One finding and its history across runs")
def finding(session: SessionDep, _: Reader, finding_id: Annotated[int, Path(ge=1)]) -> dict[str, object]:
    row, history = get_finding(session, finding_id)
    data = FindingOut.from_row(row)
    data["evidence"] = row["evidence"]
    data["history"] = history
    return data
