"""The consolidation plan of each target's latest run: moves that cut load balancers, and what they save."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from auditor.api.deps import Reader, SessionDep
from auditor.api.schemas import TargetName, error_responses
from auditor.findings import ConsolidationPlan
from auditor.store.queries import consolidation_plans

router = APIRouter(prefix="/api/v1/consolidation", tags=["cost"], responses=error_responses(401, 404, 422, 503))


class TargetPlanOut(BaseModel):
    target: str
    run_id: int
    plan: ConsolidationPlan | None = Field(description="None: the run was stored before plans were made")


class ConsolidationOut(BaseModel):
    plans: list[TargetPlanOut]
    load_balancers_before: int
    load_balancers_after: int
    monthly_usd_before: float
    monthly_usd_after: float
    monthly_saving_usd: float
    complete: bool = Field(description="False: a plan left load balancers out (inputs not read) or is missing")


@router.get("", response_model=ConsolidationOut, summary="Consolidation plan: load balancers before and after")
def consolidation(
    session: SessionDep,
    _: Reader,
    cluster: Annotated[TargetName | None, Query(description="one target or cluster")] = None,
) -> dict[str, Any]:
    plans = [
        TargetPlanOut(
            target=target,
            run_id=run_id,
            plan=ConsolidationPlan.model_validate(stored) if stored is not None else None,
        )
        for target, run_id, stored in consolidation_plans(session, cluster)
    ]
    made = [p.plan for p in plans if p.plan is not None]
    return {
        "plans": plans,
        "load_balancers_before": sum(p.load_balancers_before for p in made),
        "load_balancers_after": sum(p.load_balancers_after for p in made),
        "monthly_usd_before": round(sum(p.monthly_usd_before for p in made), 2),
        "monthly_usd_after": round(sum(p.monthly_usd_after for p in made), 2),
        "monthly_saving_usd": round(sum(p.monthly_saving_usd for p in made), 2),
        "complete": len(made) == len(plans) and all(p.complete for p in made),
    }
