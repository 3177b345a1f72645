"""Runs: claiming one (lease), heartbeats, expiring dead ones, and recording a result in one transaction.

The guarantees live in the database, so they hold across threads, processes and replicas:
- a partial unique index allows one ``running`` run per target (no overlap);
- a unique (target, scheduled_for) lets exactly one replica claim a scheduled fire time;
- results are written in the same transaction that moves the run out of ``running``, after
  checking (row lock) that nobody declared it dead meanwhile; a process that dies leaves a
  ``running`` row whose heartbeat stops, and ``expire_stale_runs`` marks it failed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from auditor.errors import Conflict, NotFound, StoreError
from auditor.findings import AuditResult, Finding, Status
from auditor.inventory.models import CoverageStatus
from auditor.store.models import FindingRow, LoadBalancerRow, ObservationRow, RunRow, utcnow

log = logging.getLogger(__name__)

RUNNING = "running"
FAILED = "failed"
FINISHED = ("complete", "partial")


def claim_run(
    factory: sessionmaker[Session],
    target_id: int,
    *,
    trigger: str,
    owner: str,
    scheduled_for: datetime | None = None,
) -> RunRow:
    """Insert a ``running`` run for the target and commit it; Conflict when another holds the target
    or (scheduled runs) when this fire time was claimed already."""
    now = utcnow()
    with factory() as session:
        run = RunRow(
            target_id=target_id,
            trigger=trigger,
            scheduled_for=scheduled_for,
            status=RUNNING,
            started_at=now,
            heartbeat_at=now,
            owner=owner,
        )
        session.add(run)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        else:
            session.refresh(run)
            return run
        running = session.scalar(select(RunRow).where(RunRow.target_id == target_id, RunRow.status == RUNNING))
        if running is not None:
            raise Conflict(f"run {running.id} of this target is still going (started {running.started_at:%H:%M:%S}Z)")
        raise Conflict(f"the run scheduled for {scheduled_for} was claimed already")


def heartbeat(factory: sessionmaker[Session], run_id: int) -> bool:
    """Renew the lease; False when the run is no longer ``running`` (declared dead meanwhile)."""
    with factory() as session:
        result = session.execute(
            update(RunRow).where(RunRow.id == run_id, RunRow.status == RUNNING).values(heartbeat_at=utcnow())
        )
        session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def expire_stale_runs(factory: sessionmaker[Session], lease_seconds: float) -> list[int]:
    """Mark failed every ``running`` run whose heartbeat is older than the lease (its process died)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=lease_seconds)
    with factory() as session:
        ids = list(session.scalars(select(RunRow.id).where(RunRow.status == RUNNING, RunRow.heartbeat_at < cutoff)))
        if ids:
            session.execute(
                update(RunRow)
                .where(RunRow.id.in_(ids), RunRow.status == RUNNING, RunRow.heartbeat_at < cutoff)
                .values(
                    status=FAILED,
                    finished_at=now,
                    error=f"the process running it stopped (no heartbeat for {lease_seconds:.0f}s); "
                    "nothing of this run was recorded",
                )
            )
            session.commit()
            log.warning("marked %d run(s) failed after their lease expired: %s", len(ids), ids)
        return ids


def fail_run(factory: sessionmaker[Session], run_id: int, message: str) -> None:
    """Mark a ``running`` run failed with the reason, in a session of its own (a no-op once it has ended)."""
    now = utcnow()
    with factory() as session:
        run = session.get(RunRow, run_id)
        if run is None or run.status != RUNNING:
            return
        run.status = FAILED
        run.error = message
        run.finished_at = now
        run.duration_seconds = (now - run.started_at).total_seconds()
        session.commit()


@dataclass(frozen=True)
class Recorded:
    """What recording a result changed."""

    run_id: int
    status: str
    new: int
    resolved: int
    reopened: int


_STATUS_WEIGHT = {Status.FAIL: 2, Status.UNKNOWN: 1, Status.PASS: 0}
_STATE_OF = {Status.FAIL: "open", Status.UNKNOWN: "unknown"}


def _dedupe(findings: list[Finding]) -> dict[str, Finding]:
    """One finding per fingerprint; if a rule said two things, the worse one counts."""
    by_fp: dict[str, Finding] = {}
    for finding in findings:
        fp = finding.fingerprint
        seen = by_fp.get(fp)
        if seen is None or _STATUS_WEIGHT[finding.status] > _STATUS_WEIGHT[seen.status]:
            by_fp[fp] = finding
    return by_fp


def record_result(factory: sessionmaker[Session], run_id: int, result: AuditResult) -> Recorded:
    """Store a finished run: load balancers, finding lifecycle, observations, counts — one transaction.

    Lifecycle: FAIL/UNKNOWN opens (or reopens) a finding; PASS with the same fingerprint resolves
    it; a fingerprint absent from the result resolves only if the run is ``complete`` — in a
    partial run it may be missing because its collector failed, so it stays open.
    """
    with factory() as session:
        run = session.scalar(select(RunRow).where(RunRow.id == run_id).with_for_update(of=RunRow))
        if run is None:
            raise NotFound(f"no run {run_id}")
        if run.status != RUNNING:
            raise StoreError(
                f"run {run_id} is {run.status} (its lease expired while it ran); its results are discarded"
            )
        seen_at = result.started_at
        counts = {"new": 0, "resolved": 0, "reopened": 0}
        existing = {
            row.fingerprint: row
            for row in session.scalars(select(FindingRow).where(FindingRow.target_id == run.target_id))
        }
        present = _dedupe(result.findings)
        observations: list[tuple[FindingRow, str, Finding | None]] = []
        for fp, finding in present.items():
            row = existing.get(fp)
            if finding.status == Status.PASS:
                if row is not None and row.is_open:
                    _resolve(row, seen_at, run_id)
                    counts["resolved"] += 1
                    observations.append((row, "PASS", finding))
                continue
            if row is None:
                row = FindingRow(target_id=run.target_id, fingerprint=fp, first_seen=seen_at, reopened=0)
                session.add(row)
                counts["new"] += 1
            elif not row.is_open:
                row.reopened += 1
                row.resolved_at = None
                counts["reopened"] += 1
                counts["new"] += 1
            _apply(row, finding, seen_at, run_id)
            observations.append((row, finding.status.value, finding))
        if result.status == "complete":
            for fp, row in existing.items():
                if row.is_open and fp not in present:
                    _resolve(row, seen_at, run_id)
                    counts["resolved"] += 1
                    observations.append((row, "RESOLVED", None))
        session.flush()
        session.add_all(
            ObservationRow(
                finding_id=row.id,
                run_id=run_id,
                observed_at=seen_at,
                status=status,
                severity=row.severity,
                message=finding.message if finding is not None else "no longer reported in a complete run",
            )
            for row, status, finding in observations
        )
        session.add_all(_lb_rows(run, result))
        _finish(run, result, counts)
        session.commit()
        return Recorded(run_id, run.status, counts["new"], counts["resolved"], counts["reopened"])


def _apply(row: FindingRow, finding: Finding, seen_at: datetime, run_id: int) -> None:
    kube = finding.kubernetes
    row.rule_id = finding.rule_id
    row.title = finding.title
    row.severity = finding.severity.value
    row.severity_rank = finding.severity.rank
    row.state = _STATE_OF[finding.status]
    row.is_open = True
    row.message = finding.message
    row.resource_arn = finding.resource_arn
    row.resource_name = finding.resource_name
    row.account = finding.account
    row.region = finding.region
    row.kube_kind = kube.kind if kube else None
    row.namespace = kube.namespace if kube else None
    row.kube_name = kube.name if kube else None
    row.remediation = finding.remediation
    row.monthly_cost_usd = finding.monthly_cost_usd
    row.evidence = finding.evidence
    row.last_seen = seen_at
    row.last_run_id = run_id


def _resolve(row: FindingRow, at: datetime, run_id: int) -> None:
    row.state = "resolved"
    row.is_open = False
    row.resolved_at = at
    row.last_run_id = run_id


def _lb_rows(run: RunRow, result: AuditResult) -> list[LoadBalancerRow]:
    rows: dict[str, LoadBalancerRow] = {}
    for lb in result.load_balancers:
        rows[lb.arn] = LoadBalancerRow(
            run_id=run.id,
            target_id=run.target_id,
            arn=lb.arn,
            name=lb.name,
            type=lb.type,
            scheme=lb.scheme,
            dns_name=lb.dns_name,
            account=lb.account,
            region=lb.region,
            owner_kind=lb.owner.kind if lb.owner else None,
            owner_namespace=lb.owner.namespace if lb.owner else None,
            owner_name=lb.owner.name if lb.owner else None,
            controller=lb.controller,
            orphan=lb.orphan,
            monthly_cost_usd=lb.monthly_cost_usd,
            cost_basis=lb.cost_basis,
            view=lb.model_dump(mode="json"),
        )
    return list(rows.values())


def _finish(run: RunRow, result: AuditResult, counts: dict[str, int]) -> None:
    now = utcnow()
    run.status = result.status
    run.finished_at = now
    run.duration_seconds = (now - run.started_at).total_seconds()
    run.findings_failed = sum(1 for f in result.findings if f.status == Status.FAIL)
    run.findings_unknown = sum(1 for f in result.findings if f.status == Status.UNKNOWN)
    run.findings_passed = sum(1 for f in result.findings if f.status == Status.PASS)
    run.findings_new = counts["new"]
    run.findings_resolved = counts["resolved"]
    run.load_balancers = len(result.load_balancers)
    run.aws_calls = sum(result.api_calls.values())
    run.collector_errors = sum(1 for c in result.coverage if c.status in (CoverageStatus.ERROR, CoverageStatus.PARTIAL))
    run.coverage = [c.model_dump(mode="json") for c in result.coverage]
    run.api_calls = dict(result.api_calls)
    run.result = result.as_json()
    run.error = None


# --------------------------------------------------------------------------- reading


def get_run(session: Session, run_id: int) -> RunRow:
    run = session.get(RunRow, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def list_runs(
    session: Session,
    *,
    target_ids: list[int] | None = None,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[RunRow]:
    """Newest first; page with ``before_id`` (the last id of the previous page)."""
    query = select(RunRow).order_by(RunRow.id.desc()).limit(limit)
    if target_ids is not None:
        query = query.where(RunRow.target_id.in_(target_ids))
    if status is not None:
        query = query.where(RunRow.status == status)
    if before_id is not None:
        query = query.where(RunRow.id < before_id)
    return list(session.scalars(query))


def run_result(session: Session, run: RunRow) -> AuditResult:
    """The stored AuditResult of a finished run (for reports)."""
    data: dict[str, Any] | None = session.scalar(select(RunRow.result).where(RunRow.id == run.id))
    if data is None:
        raise NotFound(f"run {run.id} is {run.status}: it has no result" + (f" ({run.error})" if run.error else ""))
    return AuditResult.model_validate(data)


def previous_finished(session: Session, run: RunRow) -> RunRow | None:
    """The finished run of the same target just before ``run`` (the base of 'what changed')."""
    return session.scalar(
        select(RunRow)
        .where(RunRow.target_id == run.target_id, RunRow.id < run.id, RunRow.status.in_(FINISHED))
        .order_by(RunRow.id.desc())
        .limit(1)
    )


def latest_finished_ids(session: Session, target_ids: list[int] | None = None) -> dict[int, int]:
    """target id -> id of its latest finished run."""
    query = select(RunRow.target_id, func.max(RunRow.id)).where(RunRow.status.in_(FINISHED)).group_by(RunRow.target_id)
    if target_ids is not None:
        query = query.where(RunRow.target_id.in_(target_ids))
    return {int(t): int(r) for t, r in session.execute(query).all()}


def running_run(session: Session, target_id: int) -> RunRow | None:
    return session.scalar(select(RunRow).where(RunRow.target_id == target_id, RunRow.status == RUNNING))
