"""Suppressions: accept findings with a reason and an expiry (admin creates and deletes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from auditor.api.deps import Admin, Reader, SessionDep, SuppressionId
from auditor.api.schemas import SuppressionIn, SuppressionOut, error_responses
from auditor.store import suppressions as store_suppressions
from auditor.store.models import SuppressionRow, TargetRow
from auditor.store.targets import get_target

router = APIRouter(prefix="/api/v1/suppressions", tags=["suppressions"], responses=error_responses(401, 422, 503))


def suppression_out(session: Any, row: SuppressionRow) -> dict[str, Any]:
    data = SuppressionOut.model_validate(row).model_dump()
    if row.target_id is not None:
        target = session.get(TargetRow, row.target_id)
        data["cluster"] = target.name if target else None
    return data


@router.get("", response_model=list[SuppressionOut], summary="Active suppressions (include_expired: all)")
def suppressions(
    session: SessionDep,
    _: Reader,
    include_expired: Annotated[bool, Query()] = False,
) -> list[dict[str, Any]]:
    return [
        suppression_out(session, r)
        for r in store_suppressions.list_suppressions(session, include_expired=include_expired)
    ]


@router.post(
    "",
    response_model=SuppressionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Accept findings (admin)",
    responses=error_responses(400, 403, 404),
)
def create(body: SuppressionIn, session: SessionDep, principal: Admin) -> dict[str, Any]:
    row = add_suppression(session, body, principal.name)
    session.commit()
    return suppression_out(session, row)


def add_suppression(session: Session, body: SuppressionIn, created_by: str) -> SuppressionRow:
    """Store a suppression as sent (API or dashboard); the caller commits."""
    target_id = get_target(session, body.cluster).id if body.cluster else None
    return store_suppressions.create_suppression(
        session,
        reason=body.reason,
        target_id=target_id,
        rule_id=body.rule_id,
        resource_arn=body.resource_arn,
        namespace=body.namespace,
        fingerprint=body.fingerprint,
        expires_at=body.expires_at,
        created_by=created_by,
    )


@router.delete(
    "/{suppression_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a suppression (admin)",
    responses=error_responses(403, 404),
)
def delete(suppression_id: SuppressionId, session: SessionDep, _: Admin) -> None:
    store_suppressions.delete_suppression(session, suppression_id)
    session.commit()
