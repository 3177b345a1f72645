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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from auditor import lifecycle
from auditor.errors import Conflict, NotFound, StoreError
from auditor.findings import AuditResult, Finding, Status
from auditor.inventory.models import Coverage
from auditor.lifecycle import Change, Prior, Seen, Standing
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
    claimed_at: datetime | None = None,
) -> RunRow:
    """Insert a ``running`` run for the target and commit it; Conflict when another holds the target
    or (scheduled runs) when this fire time was claimed already.

    ``claimed_at`` (default now) names this claim: a second try of it (``once_more_if_dropped``, after a connection
    that dropped while the first try's COMMIT went through) finds the run the first try made -- the same owner,
    started at that instant -- and returns it, its lease renewed, instead of a Conflict that would leave it to wait
    for its lease. The lease always starts at this try: a first try that hung on a dead connection for longer than
    a lease must not make a run that the next sweep fails at once."""
    now = claimed_at or utcnow()
    with factory() as session:
        run = RunRow(
            target_id=target_id,
            trigger=trigger,
            scheduled_for=scheduled_for,
            status=RUNNING,
            started_at=now,
            heartbeat_at=utcnow(),
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
        if running is not None and running.owner == owner and running.started_at == now:
            log.info("run %d was claimed already by the try whose connection dropped", running.id)
            running.heartbeat_at = utcnow()
            session.commit()
            session.refresh(running)
            return running
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
        started = session.scalar(select(RunRow.started_at).where(RunRow.id == run_id, RunRow.status == RUNNING))
        if started is None:
            return
        # the status again in the UPDATE: a recording that holds the row (record_result) may end the run before it
        # is released, and the run it recorded stays as recorded (AuditService.shutdown fails runs still going)
        session.execute(
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.status == RUNNING)
            .values(status=FAILED, error=message, finished_at=now, duration_seconds=(now - started).total_seconds())
        )
        session.commit()


@dataclass(frozen=True)
class Recorded:
    """What recording a result changed (``auditor.lifecycle`` decides each finding's change)."""

    run_id: int
    status: str
    new: int
    resolved: int
    reopened: int | None  # None: recorded by an earlier try (see ``record_result``), which kept no such count
    not_rechecked: int | None


# What an observation row says, per lifecycle change; the reverse (``_SEEN_OF_OBSERVATION``) reads history back.
ABSENT_FROM_PARTIAL = "ABSENT"  # not reported by a partial run: still open, not re-checked
RESOLVED_BY_ABSENCE = "RESOLVED"  # not reported by a complete run: resolved
_MESSAGE_OF_ABSENCE = {
    Change.NOT_RECHECKED: "not reported by this run (partial, or its rule was not selected): still open, "
    "not re-checked",
    Change.RESOLVED: "no longer reported in a complete run",
}
_SEEN_OF_OBSERVATION = {
    "FAIL": (Seen.FAIL, True),
    "PASS": (Seen.PASS, True),
    "UNKNOWN": (Seen.UNKNOWN, True),
    RESOLVED_BY_ABSENCE: (Seen.ABSENT, True),
    ABSENT_FROM_PARTIAL: (Seen.ABSENT, False),
}


def _standing(row: FindingRow) -> Standing:
    if row.is_open:
        return Standing.OPEN
    return Standing.RESOLVED  # a row exists only for a fingerprint that FAILed once


def record_result(factory: sessionmaker[Session], run_id: int, result: AuditResult) -> Recorded:
    """Store a finished run: load balancers, finding lifecycle, observations, counts — one transaction.

    ``auditor.lifecycle.decisions`` decides each fingerprint's change; a finding row exists from its first
    FAIL on. An observation is recorded for every change but "nothing to report", which is what
    ``findings_before`` relies on to read where a finding stood before any run.
    """
    with factory() as session:
        run = session.scalar(select(RunRow).where(RunRow.id == run_id).with_for_update(of=RunRow))
        if run is None:
            raise NotFound(f"no run {run_id}")
        if run.status != RUNNING:
            if _recorded_from(run, result):
                # an earlier try's COMMIT went through and its connection dropped before the acknowledgement
                # (``once_more_if_dropped`` tried again): the run is recorded, from this very result
                log.info("run %d was recorded already by the try whose connection dropped", run_id)
                return Recorded(
                    run_id,
                    run.status,
                    new=run.findings_new,
                    resolved=run.findings_resolved,
                    reopened=None,
                    not_rechecked=None,
                )
            raise StoreError(
                f"run {run_id} is {run.status} (its lease expired, or its service stopped, while it ran); "
                "its results are discarded"
            )
        seen_at = result.started_at
        counts = dict.fromkeys(Change, 0)
        existing = {
            row.fingerprint: row
            for row in session.scalars(select(FindingRow).where(FindingRow.target_id == run.target_id))
        }
        before = {fp: _standing(row) for fp, row in existing.items()}
        observations: list[tuple[FindingRow, str, str]] = []
        rule_of = {fp: row.rule_id for fp, row in existing.items()}
        for d in lifecycle.decisions(before, result, rule_of):
            change, finding = d.change, d.finding
            counts[change] += 1
            if change == Change.NOTHING:
                continue
            row = existing.get(d.fingerprint)
            if row is None:  # NEW: the first FAIL of this fingerprint
                row = FindingRow(target_id=run.target_id, fingerprint=d.fingerprint, first_seen=seen_at, reopened=0)
                session.add(row)
            if change == Change.REOPENED:
                row.reopened += 1
                row.resolved_at = None
            if change == Change.RESOLVED:
                _resolve(row, seen_at, run_id)
            elif change == Change.NOT_RECHECKED:
                # still open as last seen failing; its state says this run could not confirm it
                row.state = "unknown"
                row.last_run_id = run_id
            else:  # NEW, REOPENED, STILL_OPEN: a FAIL
                assert finding is not None
                _apply(row, finding, seen_at, run_id)
            if finding is not None:
                observations.append((row, finding.status.value, finding.message))
            else:
                status = RESOLVED_BY_ABSENCE if change == Change.RESOLVED else ABSENT_FROM_PARTIAL
                observations.append((row, status, _MESSAGE_OF_ABSENCE[change]))
        session.flush()
        session.add_all(
            ObservationRow(
                finding_id=row.id,
                run_id=run_id,
                observed_at=seen_at,
                status=status,
                severity=row.severity,
                message=message,
            )
            for row, status, message in observations
        )
        session.add_all(_lb_rows(run, result))
        _finish(run, result, counts)
        session.commit()
        return Recorded(
            run_id,
            run.status,
            new=counts[Change.NEW],
            resolved=counts[Change.RESOLVED],
            reopened=counts[Change.REOPENED],
            not_rechecked=counts[Change.NOT_RECHECKED],
        )


def _apply(row: FindingRow, finding: Finding, seen_at: datetime, run_id: int) -> None:
    kube = finding.kubernetes
    row.rule_id = finding.rule_id
    row.title = finding.title
    row.severity = finding.severity.value
    row.severity_rank = finding.severity.rank
    row.state = "open"
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
    row.monthly_saving_usd = finding.monthly_saving_usd
    row.evidence = finding.evidence
    row.last_seen = seen_at
    row.last_run_id = run_id


def _resolve(row: FindingRow, at: datetime, run_id: int) -> None:
    row.state = "resolved"
    row.is_open = False
    row.resolved_at = at
    row.last_run_id = run_id


def _recorded_from(run: RunRow, result: AuditResult) -> bool:
    """Whether the run's stored result is this one: the same audit of the same target, started and finished at the
    same instants (a run is executed once; a second audit of it would have other times)."""
    stored = run.result if isinstance(run.result, dict) else None
    if stored is None or run.status not in FINISHED:
        return False
    mine = result.model_dump(mode="json", include={"target", "started_at", "finished_at"})
    return all(stored.get(key) == value for key, value in mine.items())


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


def _finish(run: RunRow, result: AuditResult, counts: dict[Change, int]) -> None:
    now = utcnow()
    run.status = result.status
    run.finished_at = now
    run.duration_seconds = (now - run.started_at).total_seconds()
    run.findings_failed = sum(1 for f in result.findings if f.status == Status.FAIL)
    run.findings_unknown = sum(1 for f in result.findings if f.status == Status.UNKNOWN)
    run.findings_passed = sum(1 for f in result.findings if f.status == Status.PASS)
    run.findings_new = counts[Change.NEW]
    run.findings_resolved = counts[Change.RESOLVED]
    run.load_balancers = len(result.load_balancers)
    run.aws_calls = sum(result.api_calls.values())
    run.collector_errors = sum(1 for c in result.coverage if c.status.incomplete)
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


def findings_before(session: Session, run: RunRow, loaded: Mapping[int, AuditResult] | None = None) -> dict[str, Prior]:
    """Where each of the target's findings stood just before ``run``: the base of its "what changed".

    A finding's latest observation by an earlier run says it (every change but "nothing to report" is
    observed, see ``record_result``): replayed through ``auditor.lifecycle`` from "open" — an observation
    other than FAIL is only ever made of an open finding. An open finding comes with the Finding its
    latest FAIL reported, read from that run's stored result (``loaded`` holds results already read).
    """
    obs, row = ObservationRow, FindingRow

    def latest(column: Any, *where: Any) -> Any:
        # per finding, newest first on the (finding_id, run_id) unique index: no scan of the whole history
        return (
            select(column)
            .where(obs.finding_id == row.id, obs.run_id < run.id, *where)
            .order_by(obs.run_id.desc())
            .limit(1)
            .correlate(row)
            .scalar_subquery()
        )

    stood: dict[str, Standing] = {}
    failed_in: dict[int, list[str]] = {}
    for fp, status, fail_run_id in session.execute(
        select(row.fingerprint, latest(obs.status), latest(obs.run_id, obs.status == "FAIL")).where(
            row.target_id == run.target_id
        )
    ):
        if status is None:
            continue  # first observed by this run or a later one
        seen, complete = _SEEN_OF_OBSERVATION[status]
        stood[fp] = lifecycle.decide(Standing.OPEN, seen, complete=complete).standing(Standing.OPEN)
        if stood[fp] == Standing.OPEN and fail_run_id is not None:
            failed_in.setdefault(fail_run_id, []).append(fp)
    failing: dict[str, Finding] = {}
    for run_id, fps in failed_in.items():
        result = (loaded or {}).get(run_id) or run_result(session, get_run(session, run_id))
        reported = lifecycle.observed(result.findings)
        failing.update((fp, reported[fp]) for fp in fps if fp in reported)
    return {fp: Prior(standing, failing.get(fp)) for fp, standing in stood.items()}


def first_seen(session: Session, target_id: int) -> dict[str, datetime]:
    """fingerprint -> when the target's finding first failed (what exports give as the finding's creation)."""
    query = select(FindingRow.fingerprint, FindingRow.first_seen).where(FindingRow.target_id == target_id)
    return {fp: seen for fp, seen in session.execute(query)}


def record_export(factory: sessionmaker[Session], run_id: int, coverage: list[Coverage]) -> None:
    """Add where a finished run's findings were sent to its coverage (source ``export``), replacing what an earlier
    export of the run by the same exporter recorded; the run's status and counts are the audit's and stay."""
    collectors = {c.collector for c in coverage}
    with factory() as session:
        run = session.scalar(select(RunRow).where(RunRow.id == run_id).with_for_update(of=RunRow))
        if run is None:
            raise NotFound(f"no run {run_id}")
        kept = [c for c in run.coverage or [] if not (c.get("source") == "export" and c.get("collector") in collectors)]
        run.coverage = kept + [c.model_dump(mode="json") for c in coverage]
        session.commit()


def latest_finished_ids(session: Session, target_ids: list[int] | None = None) -> dict[int, int]:
    """target id -> id of its latest finished run."""
    query = select(RunRow.target_id, func.max(RunRow.id)).where(RunRow.status.in_(FINISHED)).group_by(RunRow.target_id)
    if target_ids is not None:
        query = query.where(RunRow.target_id.in_(target_ids))
    return {int(t): int(r) for t, r in session.execute(query).all()}


def running_run(session: Session, target_id: int) -> RunRow | None:
    return session.scalar(select(RunRow).where(RunRow.target_id == target_id, RunRow.status == RUNNING))
