"""Load balancers of each target's latest run, with their Kubernetes owner, cost and open findings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from auditor.api.deps import Reader, SessionDep, SettingsDep
from auditor.api.schemas import LoadBalancerPage, Namespace, TargetName, error_responses
from auditor.store.queries import LoadBalancerFilter, list_load_balancers

router = APIRouter(prefix="/api/v1/load-balancers", tags=["load balancers"], responses=error_responses(401, 422, 503))


@router.get("", response_model=LoadBalancerPage, summary="Load balancers seen in the latest run of each target")
def load_balancers(
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
    cluster: Annotated[TargetName | None, Query()] = None,
    type: Annotated[Literal["application", "network", "gateway", "classic"] | None, Query()] = None,
    namespace: Annotated[Namespace | None, Query(description="owner's namespace")] = None,
    orphan: Annotated[bool | None, Query(description="true: only orphans; false: only owned")] = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    size = limit or settings.api.page_size
    items, total = list_load_balancers(
        session,
        LoadBalancerFilter(cluster=cluster, type=type, namespace=namespace, orphan=orphan),
        limit=size,
        offset=offset,
    )
    for item in items:
        item["findings"] = [{**f, "status": "suppressed" if f["suppressed"] else f["state"]} for f in item["findings"]]
    return {"items": items, "total": total, "limit": size, "offset": offset}
