"""What the load balancers of each target's latest run cost a month, per owner, namespace, cluster or team."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from auditor.api.deps import Reader, SessionDep
from auditor.api.schemas import TargetName, error_responses
from auditor.cost.allocate import cost_by
from auditor.findings import CostShareView
from auditor.store.queries import cost_shares

router = APIRouter(prefix="/api/v1/cost", tags=["cost"], responses=error_responses(401, 404, 422, 503))


class CostOut(BaseModel):
    group_by: str
    monthly_usd: dict[str, float] = Field(description="group -> monthly USD; the groups sum to the total")
    total_monthly_usd: float
    split_methods: dict[str, int] = Field(
        description="how many shares were split by requests (per-target-group RequestCount), by rules, "
        "or belong to a sole owner / nobody"
    )


@router.get("", response_model=CostOut, summary="Monthly load balancer cost per owner, namespace, cluster or team")
def cost(
    session: SessionDep,
    _: Reader,
    group_by: Annotated[Literal["owner", "namespace", "cluster", "team"], Query()] = "namespace",
    cluster: Annotated[TargetName | None, Query(description="one target or cluster")] = None,
) -> dict[str, Any]:
    shares = [
        CostShareView.model_validate({k: v for k, v in s.items() if k != "target"})
        for s in cost_shares(session, cluster)
    ]
    groups = cost_by(shares, group_by)
    methods: dict[str, int] = {}
    for s in shares:
        methods[s.method] = methods.get(s.method, 0) + 1
    return {
        "group_by": group_by,
        "monthly_usd": groups,
        "total_monthly_usd": round(sum(groups.values()), 2),
        "split_methods": dict(sorted(methods.items())),
    }
