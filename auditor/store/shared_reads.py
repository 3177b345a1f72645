"""Reads of an account × region kept in the database for the other replicas (``auditor.collect.aws.shared``).

One row per read key. A run claims a key by inserting its row (``reading``, ``holder`` = its run id) or by
taking over a row whose read is too old, whose last read failed long enough ago, or whose claim is dead; the
primary key and a compare-and-set on (state, claimed_at) make the claim one run's on every backend. A claim is
live while its reader renews it (``claimed_at``, every ``RENEW_SECONDS``) and its run is ``running``: a run
finding a live claim waits and looks again, and one that is not renewed for ``CLAIM_SECONDS`` (its process
died, or it lost the database between reading and keeping) is taken over, so no run waits for a dead reader.
An incomplete read leaves the row ``failed`` for ``CLAIM_SECONDS``: the runs that waited for it read for
themselves at once rather than claim it one after the other.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker, undefer

from auditor.collect.kept import ALONE, BUSY, CLAIM_SECONDS, Kept
from auditor.store.models import RunRow, SharedReadRow, utcnow
from auditor.store.runs import RUNNING

log = logging.getLogger(__name__)

READING, DONE, FAILED = "reading", "done", "failed"
_CLAIM = timedelta(seconds=CLAIM_SECONDS)


class DatabaseReads:
    """The ``ReadStore`` of ``auditor serve``: its history database, shared by every replica on it."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def take_or_claim(self, key: str, label: str, max_age: float, holder: int) -> Kept | Literal[True, "busy", "alone"]:
        now = utcnow()
        with self.factory() as session:
            row = session.scalar(select(SharedReadRow).where(SharedReadRow.key == key).options(undefer("*")))
            if row is None:
                session.add(SharedReadRow(key=key, label=label, state=READING, holder=holder, claimed_at=now))
                try:
                    session.commit()
                except IntegrityError:  # another run claimed it first
                    return BUSY
                return True
            if row.state == DONE and row.read_at is not None and row.payload is not None:
                age = (now - row.read_at).total_seconds()
                if age <= max_age:  # another replica's clock may run ahead: never younger than now
                    return Kept(row.payload, max(0.0, age))
            if row.state == FAILED and row.read_at is not None and row.read_at >= now - _CLAIM:
                return ALONE
            live = row.state == READING and row.claimed_at >= now - _CLAIM
            if live and row.holder is not None and _running(session, row.holder):
                return BUSY
            # too old, failed a while ago, or its reader is dead: take it over, unless another run just did
            taken = session.execute(
                update(SharedReadRow)
                .where(
                    SharedReadRow.key == key,
                    SharedReadRow.state == row.state,
                    SharedReadRow.claimed_at == row.claimed_at,
                )
                .values(state=READING, holder=holder, claimed_at=now, label=label)
            )
            session.commit()
            return True if taken.rowcount == 1 else BUSY  # type: ignore[attr-defined]

    def put(self, key: str, holder: int, payload: bytes, max_age: float) -> None:
        now = utcnow()
        with self.factory.begin() as session:
            kept = session.execute(
                update(SharedReadRow)
                .where(_held_by(key, holder))
                .values(
                    state=DONE, holder=None, read_at=now, expires_at=now + timedelta(seconds=max_age), payload=payload
                )
            )
        if not kept.rowcount:  # type: ignore[attr-defined]
            log.info("shared read %s of run %d not kept: its claim was taken over", key[:12], holder)

    def release(self, key: str, holder: int, *, failed: bool) -> None:
        mine = _held_by(key, holder)
        with self.factory.begin() as session:
            if failed:
                session.execute(
                    update(SharedReadRow).where(mine).values(state=FAILED, holder=None, read_at=utcnow(), payload=None)
                )
            else:
                session.execute(delete(SharedReadRow).where(mine))

    def renew(self, claims: Collection[tuple[str, int]]) -> None:
        now = utcnow()
        with self.factory.begin() as session:
            for key, holder in claims:
                session.execute(update(SharedReadRow).where(_held_by(key, holder)).values(claimed_at=now))


def _held_by(key: str, holder: int) -> ColumnElement[bool]:
    """The row of ``key`` while ``holder``'s claim on it stands (not taken over, not ended)."""
    return and_(SharedReadRow.key == key, SharedReadRow.state == READING, SharedReadRow.holder == holder)


def _running(session: Session, run_id: int) -> bool:
    return session.scalar(select(RunRow.status).where(RunRow.id == run_id)) == RUNNING


def sweep_shared_reads(factory: sessionmaker[Session], *, now: datetime | None = None) -> int:
    """Delete the reads past the age they were kept for, failed reads past ``CLAIM_SECONDS``, and claims that are
    dead (not renewed, or of a run that ended or is gone); the number of rows deleted."""
    now = now or utcnow()
    running = select(RunRow.id).where(RunRow.status == RUNNING)
    with factory.begin() as session:
        deleted = session.execute(
            delete(SharedReadRow).where(
                or_(
                    (SharedReadRow.state == DONE) & (SharedReadRow.expires_at < now),
                    (SharedReadRow.state == FAILED) & (SharedReadRow.read_at < now - _CLAIM),
                    (SharedReadRow.state == READING)
                    & ((SharedReadRow.claimed_at < now - _CLAIM) | ~SharedReadRow.holder.in_(running)),
                )
            )
        )
    return int(deleted.rowcount)  # type: ignore[attr-defined]


__all__ = ["DatabaseReads", "sweep_shared_reads"]
