"""Suppressions: accepting findings (by rule, resource, namespace or fingerprint) with a reason and an expiry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from auditor.errors import ConfigError, NotFound
from auditor.store.models import SuppressionRow, utcnow


def create_suppression(
    session: Session,
    *,
    reason: str,
    target_id: int | None = None,
    rule_id: str | None = None,
    resource_arn: str | None = None,
    namespace: str | None = None,
    fingerprint: str | None = None,
    expires_at: datetime | None = None,
    created_by: str = "",
) -> SuppressionRow:
    """Accept every open finding that all the given matchers match, until ``expires_at`` (None: forever)."""
    if not any((rule_id, resource_arn, namespace, fingerprint)):
        raise ConfigError("a suppression needs at least one of rule_id, resource_arn, namespace, fingerprint")
    if not reason.strip():
        raise ConfigError("a suppression needs a reason")
    if expires_at is not None and expires_at <= utcnow():
        raise ConfigError("expires_at is in the past")
    row = SuppressionRow(
        target_id=target_id,
        rule_id=rule_id,
        resource_arn=resource_arn,
        namespace=namespace,
        fingerprint=fingerprint,
        reason=reason.strip(),
        expires_at=expires_at,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def list_suppressions(session: Session, *, include_expired: bool = False) -> list[SuppressionRow]:
    query = select(SuppressionRow).order_by(SuppressionRow.id)
    if not include_expired:
        query = query.where(or_(SuppressionRow.expires_at.is_(None), SuppressionRow.expires_at > utcnow()))
    return list(session.scalars(query))


def delete_suppression(session: Session, suppression_id: int) -> None:
    row = session.get(SuppressionRow, suppression_id)
    if row is None:
        raise NotFound(f"no suppression {suppression_id}")
    session.delete(row)
    session.flush()
