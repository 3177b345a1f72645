"""Findings: the filtered, paged list and one finding with its history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime

from auditor.api.deps import Reader, SessionDep, SettingsDep
from auditor.api.schemas import FindingDetail, FindingOut, FindingPage, FindingStatus, finding_page_json
from auditor.findings import Severity
from auditor.store.queries import FindingFilter, get_finding, list_findings, list_findings_pg
from auditor.store.queries import FindingPage as StorePage

router = APIRouter(prefix="/api/v1/findings", tags=["findings"])


@router.get("", response_model=FindingPage, summary="List findings, worst first")
async def findings(
    request: Request,
    settings: SettingsDep,
    _: Reader,
    cluster: Annotated[str | None, Query(min_length=1, description="target or cluster name")] = None,
    namespace: Annotated[str | None, Query(min_length=1, description="Kubernetes namespace of the owner")] = None,
    rule: Annotated[str | None, Query(min_length=1, description="rule id")] = None,
    severity: Annotated[list[Severity] | None, Query(description="one or more severities")] = None,
    status: Annotated[FindingStatus | None, Query(description="default: open; 'all' is not a status")] = "open",
    since: Annotated[AwareDatetime | None, Query(description="first seen at or after (ISO 8601 with zone)")] = None,
    limit: Annotated[int | None, Query(ge=1, le=500, description="page size")] = None,
    cursor: Annotated[str | None, Query(max_length=40, description="next_cursor of the previous page")] = None,
    with_total: Annotated[bool, Query(description="also count all matches (slower)")] = False,
) -> Response:
    flt = FindingFilter(
        cluster=cluster,
        namespace=namespace,
        rule=rule,
        severities=tuple(severity or ()),
        status=status or "open",
        since=since,
    )
    size = limit or settings.api.page_size
    pool = request.app.state.read_pool
    if pool is not None:
        # PostgreSQL, the hot path of dashboards: async psycopg on the event loop, no thread hand-off.
        async with pool.connection() as conn:
            page = await list_findings_pg(conn, flt, limit=size, cursor=cursor, with_total=with_total)
    else:
        factory = request.app.state.read_factory

        def read() -> StorePage:
            with factory() as session:
                return list_findings(session, flt, limit=size, cursor=cursor, with_total=with_total)

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
