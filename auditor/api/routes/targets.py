"""Targets: list (read); create, replace, delete (admin). Config-file targets are re-synced on start."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from auditor.api.deps import Admin, Reader, SessionDep
from auditor.api.routes.runs import run_out
from auditor.api.schemas import TargetIn, TargetName, TargetOut, error_responses
from auditor.errors import ConfigError
from auditor.store import runs as store_runs
from auditor.store import targets as store_targets
from auditor.store.models import TargetRow

router = APIRouter(prefix="/api/v1/targets", tags=["targets"], responses=error_responses(401, 503))

NameInPath = Annotated[TargetName, Path(description="the target's name")]


def target_out(session: Any, row: TargetRow) -> dict[str, Any]:
    last = store_runs.list_runs(session, target_ids=[row.id], limit=1)
    try:
        definition, problem = store_targets.to_config(row), None
    except ConfigError as exc:  # stored by an older, looser auditor: listed with the reason, never a 500
        definition, problem = None, str(exc)
    return {
        "name": row.name,
        "cluster_name": row.cluster_name,
        "schedule": row.schedule,
        "source": row.source,
        "enabled": row.enabled,
        "definition": definition,
        "definition_error": problem,
        "last_run": run_out(last[0]) if last else None,
    }


@router.get("", response_model=list[TargetOut], summary="Targets and their last run")
def targets(session: SessionDep, _: Reader) -> list[dict[str, Any]]:
    return [target_out(session, row) for row in store_targets.list_targets(session, include_disabled=True)]


@router.get(
    "/{name}", response_model=TargetOut, summary="One target and its last run", responses=error_responses(404, 422)
)
def target(session: SessionDep, _: Reader, name: NameInPath) -> dict[str, Any]:
    return target_out(session, store_targets.get_target(session, name))


@router.post(
    "",
    response_model=TargetOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a target (admin)",
    responses=error_responses(400, 403, 409, 422),
)
def create(body: TargetIn, session: SessionDep, _: Admin) -> dict[str, Any]:
    row = store_targets.create_target(session, body.as_config())
    session.commit()
    return target_out(session, row)


@router.put(
    "/{name}",
    response_model=TargetOut,
    summary="Replace a target's definition (admin)",
    responses=error_responses(400, 403, 404, 409, 422),
)
def replace(name: NameInPath, body: TargetIn, session: SessionDep, _: Admin) -> dict[str, Any]:
    row = store_targets.update_target(session, name, body.as_config())
    session.commit()
    return target_out(session, row)


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a target and its history (admin)",
    responses=error_responses(403, 404, 422),
)
def delete(name: NameInPath, session: SessionDep, _: Admin) -> None:
    store_targets.delete_target(session, name)
    session.commit()
