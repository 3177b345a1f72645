"""What the load balancers of each target's latest run cost a month, per owner, namespace, cluster or team."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from auditor.api.deps import Reader, SessionDep
from auditor.api.schemas import TargetName, error_responses
from auditor.cost.allocate import cost_summary
from auditor.findings import CostShareView
from auditor.store.queries import cost_shares, cost_trend, partial_targets

router = APIRouter(prefix="/api/v1/cost", tags=["cost"], responses=error_responses(401, 404, 422, 503))


class CostOut(BaseModel):
    group_by: str
    monthly_usd: dict[str, float] = Field(description="group -> monthly USD; the groups sum to the total")
    total_monthly_usd: float
    split_methods: dict[str, int] = Field(
        description="how many shares were split by requests (per-target-group RequestCount), by rules, "
        "or belong to a sole owner / nobody"
    )
    complete: bool = Field(
        description="every latest run counted is complete; false: some were partial, so the total counts only "
        "the load balancers they read"
    )
    partial_targets: list[str] = Field(description="the targets whose latest finished run is partial")


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
    partial = partial_targets(session, cluster)
    return {**cost_summary(shares, group_by), "complete": not partial, "partial_targets": partial}


class CostPointOut(BaseModel):
    run_id: int
    target: str
    started_at: datetime
    monthly_usd: dict[str, float] = Field(description="group -> monthly USD of that run's load balancers")
    total_monthly_usd: float


class CostTrendOut(BaseModel):
    group_by: str
    points: list[CostPointOut] = Field(description="finished runs, oldest first")


@router.get(
    "/trend",
    response_model=CostTrendOut,
    summary="Monthly load balancer cost per cluster, namespace or team across the latest finished runs",
)
def trend(
    session: SessionDep,
    _: Reader,
    group_by: Annotated[Literal["cluster", "namespace", "team"], Query()] = "cluster",
    cluster: Annotated[TargetName | None, Query(description="one target or cluster")] = None,
    runs: Annotated[int, Query(ge=1, le=500, description="how many of the latest finished runs")] = 30,
) -> dict[str, Any]:
    points = cost_trend(session, cluster, group_by, runs=runs)
    return {
        "group_by": group_by,
        "points": [
            {
                "run_id": p.run_id,
                "target": p.target,
                "started_at": p.started_at,
                "monthly_usd": p.monthly_usd,
                "total_monthly_usd": p.total,
            }
            for p in points
        ],
    }
