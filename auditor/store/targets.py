"""Targets in the database: synced from the config file on start, or managed through the API."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from auditor.config import TargetConfig
from auditor.errors import ConfigError, Conflict, NotFound
from auditor.store.models import TargetRow, utcnow

log = logging.getLogger(__name__)


def to_config(row: TargetRow) -> TargetConfig:
    """The stored definition as the pipeline takes it.

    Raises ConfigError when the definition no longer passes validation (stored by an older auditor whose
    checks were looser, e.g. a region name that is no region): it names the target and how to mend it."""
    try:
        return TargetConfig.model_validate(row.definition)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(
            f"target {row.name!r}: its stored definition is no longer valid ({where + ': ' if where else ''}"
            f"{str(first.get('msg', exc)).removeprefix('Value error, ')}); replace it with PUT "
            f"/api/v1/targets/{row.name} or correct it in the targets file"
        ) from exc


def _apply(row: TargetRow, target: TargetConfig) -> None:
    row.cluster_name = target.cluster_name
    row.schedule = target.schedule
    row.definition = target.model_dump(mode="json")


def sync_targets(session: Session, targets: list[TargetConfig]) -> list[TargetRow]:
    """Make the config file's targets the config-sourced targets of the database.

    New names are added, changed ones updated, and config targets no longer in the file are
    disabled (not deleted: their history stays). Targets created through the API are left alone,
    unless the file now defines the same name, which then takes them over.
    """
    rows = {row.name: row for row in session.scalars(select(TargetRow))}
    in_file = set()
    synced: list[TargetRow] = []
    for target in targets:
        in_file.add(target.name)
        row = rows.get(target.name)
        if row is None:
            row = TargetRow(name=target.name, source="config", enabled=True, definition={})
            session.add(row)
            log.info("target %s added from the config file", target.name)
        row.source = "config"
        row.enabled = True
        _apply(row, target)
        synced.append(row)
    for name, row in rows.items():
        if row.source == "config" and name not in in_file and row.enabled:
            row.enabled = False
            row.updated_at = utcnow()
            log.info("target %s is no longer in the config file: disabled (history kept)", name)
    session.flush()
    return synced


def list_targets(session: Session, *, include_disabled: bool = False) -> list[TargetRow]:
    query = select(TargetRow).order_by(TargetRow.name)
    if not include_disabled:
        query = query.where(TargetRow.enabled.is_(True))
    return list(session.scalars(query))


def get_target(session: Session, name: str) -> TargetRow:
    """The target named ``name`` (or whose cluster is named so); NotFound otherwise."""
    row = session.scalar(select(TargetRow).where(TargetRow.name == name))
    if row is None:
        row = session.scalar(select(TargetRow).where(TargetRow.cluster_name == name).order_by(TargetRow.id).limit(1))
    if row is None:
        raise NotFound(f"no target named {name!r}")
    return row


def target_ids(session: Session, name: str) -> list[int]:
    """Ids of the targets a ``cluster`` filter names (target name or cluster name)."""
    return list(
        session.scalars(select(TargetRow.id).where(or_(TargetRow.name == name, TargetRow.cluster_name == name)))
    )


def create_target(session: Session, target: TargetConfig) -> TargetRow:
    if session.scalar(select(TargetRow.id).where(TargetRow.name == target.name)) is not None:
        raise Conflict(f"a target named {target.name!r} exists already")
    row = TargetRow(name=target.name, source="api", enabled=True, definition={})
    _apply(row, target)
    session.add(row)
    session.flush()
    return row


def update_target(session: Session, name: str, target: TargetConfig) -> TargetRow:
    row = get_target(session, name)
    if target.name != row.name:
        raise Conflict("a target cannot be renamed; create a new one")
    _apply(row, target)
    row.enabled = True
    row.updated_at = utcnow()
    session.flush()
    return row


def delete_target(session: Session, name: str) -> None:
    """Remove a target and its whole history."""
    row = get_target(session, name)
    session.delete(row)
    session.flush()
