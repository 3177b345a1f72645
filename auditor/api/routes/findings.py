"""Findings: the filtered, paged list and one finding with its history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import QueryParams

from auditor.api.deps import FindingId, Reader, SessionDep
from auditor.api.schemas import (
    FindingDetail,
    FindingOut,
    FindingPage,
    FindingStatus,
    Namespace,
    RuleId,
    TargetName,
    UtcInstant,
    error_responses,
    finding_page_json,
)
from auditor.config import Settings
from auditor.findings import Severity
from auditor.store.queries import (
    FindingFilter,
    RowShaper,
    get_finding,
    list_findings,
    list_findings_pg,
    row_dicts,
)
from auditor.store.queries import FindingPage as StorePage

router = APIRouter(prefix="/api/v1/findings", tags=["findings"], responses=error_responses(401, 422, 503))


class FindingQuery(BaseModel):
    """The list's query parameters, validated as one model by ``_finding_query``."""

    cluster: TargetName | None = Field(default=None, description="target or cluster name")
    namespace: Namespace | None = Field(default=None, description="Kubernetes namespace of the owner")
    rule: RuleId | None = Field(default=None, description="rule id")
    severity: list[Severity] | None = Field(default=None, description="one or more severities")
    status: FindingStatus | None = Field(default="open", description="default: open; 'all' is not a status")
    since: UtcInstant | None = Field(default=None, description="first seen at or after (ISO 8601 with zone)")
    limit: int | None = Field(default=None, ge=1, le=500, description="page size")
    cursor: str | None = Field(default=None, max_length=40, description="next_cursor of the previous page")
    with_total: bool = Field(default=False, description="also count all matches (slower)")

    def filter(self) -> FindingFilter:
        return FindingFilter(
            cluster=self.cluster,
            namespace=self.namespace,
            rule=self.rule,
            severities=tuple(self.severity or ()),
            status=self.status or "open",
            since=self.since,
        )


_LISTS = frozenset({"severity"})  # parameters that may repeat; every other one takes its last value


def query_dict(params: QueryParams) -> dict[str, Any]:
    """The query string as a dict: the repeatable parameters as lists, every other one its last value."""
    raw: dict[str, Any] = {k: v for k, v in params.items() if k not in _LISTS}
    for name in _LISTS:
        values = params.getlist(name)
        if values:
            raw[name] = values
    return raw


def _finding_query(request: Request) -> FindingQuery:
    """The query string as a FindingQuery, or the 422 FastAPI would give (same error list, "query" first in
    each loc). Done here rather than by declaring the parameters: FastAPI's per-parameter extraction cost
    more than the whole database round trip of this endpoint."""
    try:
        return FindingQuery.model_validate(query_dict(request.query_params))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in errors]) from None


def _query_parameters_doc() -> dict[str, Any]:
    """OpenAPI for the parameters ``_finding_query`` reads, as FastAPI would write them."""
    schema = FindingQuery.model_json_schema(ref_template="#/components/schemas/{model}")
    parameters = [
        {"name": name, "in": "query", "required": False, "schema": prop, "description": prop.get("description")}
        for name, prop in schema["properties"].items()
    ]
    return {"parameters": parameters}


async def read_page(
    request: Request,
    flt: FindingFilter,
    size: int,
    cursor: str | None,
    *,
    with_total: bool = False,
    shaper: RowShaper = row_dicts,
) -> StorePage:
    """One page of findings from the store, by the app's fastest path (also the dashboard's list)."""
    pool = request.app.state.read_pool
    if pool is not None:
        # PostgreSQL, the hot path of dashboards: async psycopg on the event loop, no thread hand-off.
        async with pool.connection() as conn:
            return await list_findings_pg(conn, flt, limit=size, cursor=cursor, with_total=with_total, shaper=shaper)
    factory = request.app.state.read_factory

    def read() -> StorePage:
        with factory() as session:
            return list_findings(session, flt, limit=size, cursor=cursor, with_total=with_total, shaper=shaper)

    return await run_in_threadpool(read)


@router.get(
    "",
    response_model=FindingPage,
    summary="List findings, worst first",
    openapi_extra=_query_parameters_doc(),
)
async def findings(request: Request, _: Reader) -> Response:
    query = _finding_query(request)
    flt = query.filter()
    settings: Settings = request.app.state.settings
    limit, cursor, with_total = query.limit, query.cursor, query.with_total
    size = limit or settings.api.page_size
    page = await read_page(request, flt, size, cursor, with_total=with_total, shaper=FindingOut.row_shaper)
    body = finding_page_json(page.items, size, page.next_cursor, page.total)
    return Response(body, media_type="application/json")


@router.get(
    "/{finding_id}",
    response_model=FindingDetail,
    summary="One finding and its history across runs",
    responses=error_responses(404),
)
def finding(session: SessionDep, _: Reader, finding_id: FindingId) -> dict[str, object]:
    row, history = get_finding(session, finding_id)
    data = FindingOut.from_row(row)
    data["evidence"] = row["evidence"]
    data["history"] = history
    return data
