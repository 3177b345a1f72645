"""Reads of an account × region kept in the database for the other replicas (``auditor.collect.aws.shared``).

One row per read key. A run claims a key by inserting its row (``reading``, ``holder`` = its run id) or by
taking over a row whose read is too old or whose holder is no longer ``running``; the primary key and a
compare-and-set on (state, claimed_at) make the claim one run's on every backend. A run finding a live claim
waits and looks again; a holder that dies is failed by the lease expiry (``auditor.store.runs``), which frees
its claims for the next run, so no run waits for a dead one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker, undefer

from auditor.collect.kept import BUSY, Kept
from auditor.store.models import RunRow, SharedReadRow, utcnow
from auditor.store.runs import RUNNING

log = logging.getLogger(__name__)

READING, DONE = "reading", "done"


class DatabaseReads:
    """The ``ReadStore`` of ``auditor serve``: its history database, shared by every replica on it."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def take_or_claim(self, key: str, label: str, max_age: float, holder: int) -> Kept | bool | Literal["busy"]:
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
            fresh = row.read_at is not None and row.read_at >= now - timedelta(seconds=max_age)
            if row.state == DONE and fresh and row.read_at is not None and row.payload is not None:
                # another replica's clock may run ahead: never younger than now
                return Kept(row.payload, max(0.0, (now - row.read_at).total_seconds()))
            if row.state == READING and row.holder is not None and _running(session, row.holder):
                return BUSY
            # too old, or its holder's run ended without a read: take it over, unless another run just did
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
                .where(SharedReadRow.key == key, SharedReadRow.state == READING, SharedReadRow.holder == holder)
                .values(
                    state=DONE, holder=None, read_at=now, expires_at=now + timedelta(seconds=max_age), payload=payload
                )
            )
        if not kept.rowcount:  # type: ignore[attr-defined]
            log.info("shared read %s of run %d not kept: its claim was taken over", key[:12], holder)

    def release(self, key: str, holder: int) -> None:
        with self.factory.begin() as session:
            session.execute(
                delete(SharedReadRow).where(
                    SharedReadRow.key == key, SharedReadRow.state == READING, SharedReadRow.holder == holder
                )
            )


def _running(session: Session, run_id: int) -> bool:
    return session.scalar(select(RunRow.status).where(RunRow.id == run_id)) == RUNNING


def sweep_shared_reads(factory: sessionmaker[Session], *, now: datetime | None = None) -> int:
    """Delete the reads past the age they were kept for and the claims of runs that ended without a read;
    the number of rows deleted."""
    ended = select(RunRow.id).where(RunRow.status != RUNNING)
    with factory.begin() as session:
        deleted = session.execute(
            delete(SharedReadRow).where(
                or_(
                    (SharedReadRow.state == DONE) & (SharedReadRow.expires_at < (now or utcnow())),
                    (SharedReadRow.state == READING) & SharedReadRow.holder.in_(ended),
                )
            )
        )
    return int(deleted.rowcount)  # type: ignore[attr-defined]


__all__ = ["DatabaseReads", "sweep_shared_reads"]
