"""Run-and-record: claim a run, call the pipeline with a heartbeat, store the result, write reports, post the webhook,
export to Security Hub.

Used by the scheduler and by the API's "run now"; the audit itself is ``pipeline.run_audit`` —
the one entry point shared with the CLI. A run that fails anywhere — the audit, recording it, this
code — is marked failed at once with the reason, and the traceback goes to the log; the lease expiry
(``LeaseExpiry``, in every process that serves) is only for a process that died. A run whose heartbeat finds it
ended elsewhere (its lease expired during a long pause) stops before its next AWS or Kubernetes request.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from auditor.config import REPORT_EXTENSIONS, AccountConfig, Settings, TargetConfig, load_targets
from auditor.errors import AuditorError, ConfigError, RunCancelled
from auditor.findings import AuditResult
from auditor.inventory.models import Coverage, CoverageStatus
from auditor.output import RunDiff, diff_results, render
from auditor.rules.selection import NO_NARROWING, Narrowing
from auditor.store import runs as store_runs
from auditor.store.db import once_more_if_dropped, transaction
from auditor.store.models import RunRow, utcnow
from auditor.store.prices import StorePriceCache
from auditor.store.queries import cost_trend
from auditor.store.shared_reads import DatabaseReads, sweep_shared_reads
from auditor.store.targets import get_target, sync_targets, to_config

if TYPE_CHECKING:
    from auditor.export.securityhub import ExportResult

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the service stopped while this run was going; nothing of it was recorded"


def reason(exc: BaseException) -> str:
    """An exception as one line for a run's error: its type and the first line of its message (for a
    database error, the driver's message without the SQL); the traceback belongs in the log."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def maintenance_interval(settings: Settings) -> float:
    """Seconds between two sweeps for dead runs: half a lease, so a dead run is failed within 1.5 leases
    of its last heartbeat, but at most 30 s and at least 1 s."""
    return max(1.0, min(settings.scheduler.lease_seconds / 2, 30.0))


def process_owner() -> str:
    """Who runs a run (host:pid), recorded on the run row."""
    return f"{socket.gethostname()}:{os.getpid()}"


class AuditService:
    """Runs audits of stored targets and records them; thread-safe, one instance per process."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.factory = factory
        self._pool = ThreadPoolExecutor(
            max_workers=settings.scheduler.max_parallel_runs, thread_name_prefix="audit-run"
        )
        from auditor.collect.aws.shared import shared_inventory  # brings the collectors: not at this module's import

        # regional AWS reads shared by the scheduled runs (the clusters of one account × region), through the
        # database with the other replicas
        self.shared = shared_inventory(
            settings.aws.shared_inventory_seconds, settings.cost.billed_refresh_hours, DatabaseReads(factory)
        )
        self.lease_expiry = LeaseExpiry(factory, settings.scheduler.lease_seconds, maintenance_interval(settings))
        self._going: set[int] = set()  # runs executing in this process (what shutdown interrupts)
        self._going_lock = threading.Lock()

    # ------------------------------------------------------------------ targets

    def sync_config_targets(self) -> int:
        """Load the config file's targets into the database (no-op without a config file)."""
        if self.settings.config_file is None:
            return 0
        targets = load_targets(self.settings.config_file)
        with transaction(self.factory) as session:
            sync_targets(session, targets)
        log.info("synced %d target(s) from %s", len(targets), self.settings.config_file)
        return len(targets)

    # ------------------------------------------------------------------ runs

    def start(self, target_name: str, *, trigger: str, scheduled_for: datetime | None = None) -> RunRow:
        """Claim a run of the target (Conflict when one is going or the fire time is taken)."""

        claimed_at = utcnow()  # the same for a second try: it recognises the run a dropped COMMIT made

        def claim() -> RunRow:
            store_runs.expire_stale_runs(self.factory, self.settings.scheduler.lease_seconds)
            with self.factory() as session:
                target_id = get_target(session, target_name).id
            return store_runs.claim_run(
                self.factory,
                target_id,
                trigger=trigger,
                owner=process_owner(),
                scheduled_for=scheduled_for,
                claimed_at=claimed_at,
            )

        run = once_more_if_dropped(claim, f"starting a run of {target_name}")
        log.info("run %d of %s started (%s)", run.id, target_name, trigger)
        return run

    def submit(self, run: RunRow, narrowing: Narrowing = NO_NARROWING) -> Future[RunRow | None]:
        """Execute a claimed run in the background pool (``narrowing``: the rules this run alone selects).
        Its lease is renewed from now on, while it waits for a worker too (a queued run is not a dead one).
        Nobody reads the Future, so nothing may stay in it: ``execute`` ends every failure itself,
        ``_execute_in_background`` logs what is left, and a run the pool drops at shutdown is failed with
        that reason."""
        beat = Heartbeat(self.factory, run.id, self.settings.scheduler.heartbeat_seconds)
        try:
            future = self._pool.submit(self._execute_in_background, run.id, beat, narrowing)
        except RuntimeError as exc:  # the pool is shut down: this process is stopping
            beat.stop()
            self._fail(run.id, "the service stopped before this run started")
            raise AuditorError("the service is stopping; start the run again on a running replica") from exc
        future.add_done_callback(functools.partial(self._never_started, run.id, beat))
        return future

    def _execute_in_background(self, run_id: int, beat: Heartbeat, narrowing: Narrowing) -> RunRow | None:
        try:
            return self.execute(run_id, beat, narrowing)
        except Exception:  # execute could not even read the run back (database gone): say so, not the Future
            log.exception("run %d: background execution failed", run_id)
            return None

    def _never_started(self, run_id: int, beat: Heartbeat, future: Future[RunRow | None]) -> None:
        if future.cancelled():  # dropped from the queue by shutdown(cancel_futures=True)
            beat.stop()
            log.warning("run %d was waiting for a worker when the service stopped", run_id)
            self._fail(run_id, "the service stopped before this run started")

    def run_now(self, target_name: str, *, trigger: str, scheduled_for: datetime | None = None) -> RunRow:
        """Claim and execute in this thread; returns the finished (or failed) run."""
        return self.execute(self.start(target_name, trigger=trigger, scheduled_for=scheduled_for).id)

    def execute(self, run_id: int, beat: Heartbeat | None = None, narrowing: Narrowing = NO_NARROWING) -> RunRow:
        """Audit the run's target (narrowed by ``narrowing``) with the pipeline, renewing the lease, then
        record everything at once.

        Whatever fails, the run ends now: failed with the reason (the traceback in the log), never left
        ``running`` for its lease to expire while new runs of the target get a 409. A run whose lease is lost while
        it audits (``Heartbeat.lost``: failed elsewhere) stops before its next AWS or Kubernetes request and records
        nothing.
        """
        beat = beat or Heartbeat(self.factory, run_id, self.settings.scheduler.heartbeat_seconds)
        with self._going_lock:
            self._going.add(run_id)
        try:
            self._execute(run_id, beat, narrowing)
        except Exception as exc:
            log.exception("run %d failed unexpectedly", run_id)
            self._fail(run_id, f"internal error: {reason(exc)}")
        finally:
            beat.stop()
            with self._going_lock:
                self._going.discard(run_id)
        return self._reload(run_id)

    def _execute(self, run_id: int, beat: Heartbeat, narrowing: Narrowing) -> None:
        from auditor.pipeline import run_audit  # the pipeline pulls in every collector: import when used

        with self.factory() as session:
            run = store_runs.get_run(session, run_id)
            trigger = run.trigger
            try:
                target = narrowing.apply(to_config(run.target))
            except ConfigError as exc:  # stored by an older auditor and no longer valid: the reason, no traceback
                beat.stop()
                log.warning("run %d failed: %s", run_id, exc)
                self._fail(run_id, str(exc))
                return
        try:
            # scheduled runs of one cycle share regional reads; a run asked for now reads everything fresh
            shared = self.shared.for_run(run_id) if trigger == "schedule" else None
            prices = StorePriceCache(self.factory, timedelta(hours=self.settings.cost.price_refresh_hours))
            outcome = run_audit(target, self.settings, shared=shared, price_cache=prices, cancelled=beat.lost.is_set)
        except RunCancelled:
            self._lost_lease(run_id)
            return
        except AuditorError as exc:
            log.warning("run %d of %s failed: %s", run_id, target.name, exc)
            self._fail(run_id, str(exc))
            return
        except Exception as exc:
            log.exception("run %d of %s failed unexpectedly", run_id, target.name)
            self._fail(run_id, f"internal error: {reason(exc)}")
            return
        finally:
            beat.stop()  # before recording: it locks the run's row, which a heartbeat would wait on
        if beat.lost.is_set():  # lost after the audit's last request: recording would only be refused
            self._lost_lease(run_id)
            return
        try:
            recorded = once_more_if_dropped(
                lambda: store_runs.record_result(self.factory, run_id, outcome.result), f"recording run {run_id}"
            )
        except Exception as exc:
            # record_result's session is closed by now, which rolled its failed transaction back (and
            # released the run's row lock): fail_run starts clean in a session of its own.
            log.exception("run %d of %s could not be recorded", run_id, target.name)
            self._fail(run_id, f"recording failed: {reason(exc)}")
            return
        log.info(
            "run %d of %s %s: %d new, %d resolved",
            run_id,
            target.name,
            recorded.status,
            recorded.new,
            recorded.resolved,
        )
        try:
            self._publish(run_id, outcome.result, scheduled=trigger == "schedule")
        except Exception as exc:  # the run is recorded; a report that could not be made does not undo it
            log.exception("reports of run %d of %s failed", run_id, target.name)
            self._undelivered(run_id, "reports", type(exc).__name__, f"reports not made: {reason(exc)}")
        if self.settings.export.securityhub:
            self._export(run_id, target)

    def _lost_lease(self, run_id: int) -> None:
        """A run that lost its lease ends here: nothing recorded, and nothing to fail either -- it was failed
        elsewhere, which is how its heartbeat knew (``fail_run`` would leave it as it is)."""
        log.warning(
            "run %d stopped: it is no longer running (its lease expired and it was failed elsewhere, or the service "
            "is stopping); another replica may audit the target",
            run_id,
        )

    def _fail(self, run_id: int, message: str) -> None:
        """Mark the run failed; when even that fails (database gone), log it: its lease expiry remains."""
        try:
            once_more_if_dropped(lambda: store_runs.fail_run(self.factory, run_id, message), f"failing run {run_id}")
        except Exception:
            log.exception("run %d could not be marked failed (%s); it fails when its lease expires", run_id, message)

    def _reload(self, run_id: int) -> RunRow:
        with self.factory() as session:
            return store_runs.get_run(session, run_id)

    # ------------------------------------------------------------------ reports

    def diff_for(self, session: Session, run: RunRow) -> tuple[AuditResult, RunDiff]:
        """The run's result and what changed since the target's previous finished run (``run_diff``)."""
        return run_diff(session, run)

    def _publish(self, run_id: int, result: AuditResult, *, scheduled: bool) -> None:
        """Reports to the report directory and the webhook; failures are logged and recorded in the run's coverage
        (``_undelivered``), the run stays recorded."""
        reports = self.settings.reports
        if reports.report_dir is None and not (scheduled and reports.webhook_url):
            return
        with self.factory() as session:
            run = store_runs.get_run(session, run_id)
            _, diff = self.diff_for(session, run)
            target_name = run.target.name
        if reports.report_dir is not None:
            try:
                write_reports(reports.report_dir / target_name, run_id, result, diff, reports.formats)
            except (OSError, AuditorError) as exc:
                log.error("reports of run %d not written to %s: %s", run_id, reports.report_dir, exc)
                self._undelivered(run_id, "reports", type(exc).__name__, f"not written to {reports.report_dir}: {exc}")
        if scheduled and reports.webhook_url:
            from auditor.notify import post_webhook

            try:
                post_webhook(reports.webhook_url, result, diff, timeout=reports.webhook_timeout)
                log.info("run %d posted to the webhook", run_id)
            except AuditorError as exc:  # the message names scheme and host only, never the secret path
                log.error("webhook after run %d failed: %s", run_id, exc)
                self._undelivered(run_id, "webhook", type(exc).__name__, str(exc))

    def _export(self, run_id: int, target: TargetConfig) -> None:
        """Send the recorded run's findings to Security Hub; whatever fails is logged and, where the database
        still answers, recorded in the run's coverage — the run stays as recorded."""
        try:
            result = export_run(self.settings, self.factory, run_id, accounts=target.accounts)
        except Exception as exc:
            log.exception("Security Hub export of run %d of %s failed", run_id, target.name)
            self._undelivered(run_id, "securityhub", type(exc).__name__, f"export failed: {reason(exc)}")
            return
        if result.complete:
            log.info("run %d of %s: %s", run_id, target.name, result.summary())
        else:
            log.error("run %d of %s: Security Hub export incomplete: %s", run_id, target.name, result.summary())

    def _undelivered(self, run_id: int, collector: str, error_code: str, message: str) -> None:
        """Record in the recorded run's coverage (source ``export``: the API's and the dashboard's run) that what
        ``collector`` names — the report directory, the webhook, Security Hub — did not get its findings; when even
        that fails (database gone), the log has both."""
        failure = Coverage(
            source="export", collector=collector, status=CoverageStatus.ERROR, error_code=error_code, message=message
        )
        try:
            store_runs.record_export(self.factory, run_id, [failure])
        except Exception:
            log.exception("run %d: the failure of %s could not be recorded either (%s)", run_id, collector, message)

    # ------------------------------------------------------------------ maintenance

    def start_maintenance(self) -> None:
        """Expire dead runs now and from then on in the background (every process that serves does)."""
        self.lease_expiry.start()

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop: the runs waiting for a worker are failed (``_never_started``); with ``wait`` the pool's runs finish
        first; a run still going is then failed as interrupted. The process exits under it (uvicorn re-raises SIGTERM
        after its shutdown): left ``running``, it held its target (a 409 for every new run of it) and its shared reads
        until its lease expired, and then read as if the process had died."""
        self.lease_expiry.stop()
        self._pool.shutdown(wait=wait, cancel_futures=True)
        with self._going_lock:
            interrupted = sorted(self._going)
        for run_id in interrupted:
            log.warning("run %d interrupted: the service is stopping", run_id)
            self._fail(run_id, INTERRUPTED)


class Heartbeat:
    """Renews one run's lease every ``interval`` seconds in a thread of its own, until ``stop()``; ``lost`` is set
    when a renewal finds the run no longer running (failed elsewhere: its lease expired, or the service stopping)."""

    def __init__(self, factory: sessionmaker[Session], run_id: int, interval: float) -> None:
        self.factory = factory
        self.run_id = run_id
        self.interval = interval
        self.lost = threading.Event()  # the run's audit asks it before each request (``auditor.cancel``)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not store_runs.heartbeat(self.factory, self.run_id):
                    self.lost.set()
                    log.error(
                        "run %d is no longer running (failed elsewhere after its lease expired, or interrupted as the "
                        "service stops); its audit stops before its next AWS or Kubernetes request and nothing of it "
                        "is recorded",
                        self.run_id,
                    )
                    return
            except Exception:
                log.warning("heartbeat of run %d failed; retrying", self.run_id, exc_info=True)

    def stop(self) -> None:
        """Stop renewing (idempotent); a renewal under way finishes first."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class LeaseExpiry:
    """Marks failed the runs whose process died (heartbeat older than the lease), every ``interval`` seconds.

    Runs in every process that serves — API-only replicas too — so a killed run is failed without
    waiting for a request or a scheduler. A sweep that fails is logged with its traceback and counted
    (``failures``, ``consecutive_failures``, ``last_error``); the next sweep tries again.
    """

    def __init__(self, factory: sessionmaker[Session], lease_seconds: float, interval: float) -> None:
        self.factory = factory
        self.lease_seconds = lease_seconds
        self.interval = interval
        self.sweeps = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.last_success: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> list[int]:
        """One pass: the ids of the runs marked failed ([] when the sweep itself failed)."""
        self.sweeps += 1
        try:
            expired = store_runs.expire_stale_runs(self.factory, self.lease_seconds)
        except Exception as exc:
            self.failures += 1
            self.consecutive_failures += 1
            self.last_error = reason(exc)
            log.exception(
                "expiring dead runs failed (%d time(s) in a row); next try in %.0fs",
                self.consecutive_failures,
                self.interval,
            )
            return []
        self.consecutive_failures = 0
        self.last_success = utcnow()
        try:  # the reads kept for the replicas past use, and dead claims (they are a cache: only logged)
            sweep_shared_reads(self.factory)
        except Exception:
            log.warning("sweeping the shared reads failed; the next sweep tries again", exc_info=True)
        return expired

    def start(self) -> None:
        """A first sweep now (dead runs are failed before anything is served), then one per interval."""
        if self._thread is not None:
            return
        self.sweep()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lease-expiry", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sweep()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def run_diff(session: Session, run: RunRow) -> tuple[AuditResult, RunDiff]:
    """A finished run's result and what changed since the target's previous finished run (the finding
    lifecycle as the store recorded it: ``store_runs.findings_before`` is where findings stood)."""
    current = store_runs.run_result(session, run)
    previous_run = store_runs.previous_finished(session, run)
    previous = store_runs.run_result(session, previous_run) if previous_run is not None else None
    loaded = {previous_run.id: previous} if previous_run is not None and previous is not None else {}
    before = store_runs.findings_before(session, run, loaded)
    trend = cost_trend(session, run.target.name, "namespace", up_to_run=run.id)
    return current, dataclasses.replace(diff_results(previous, current, before=before), cost_trend=trend)


def export_run(
    settings: Settings,
    factory: sessionmaker[Session],
    run_id: int,
    *,
    accounts: list[AccountConfig] | None = None,
    include_pass: bool = False,
) -> ExportResult:
    """Send a finished run's findings to Security Hub — its FAIL findings active, the ones it resolved archived —
    and record the outcome in the run's coverage. ``accounts``: whose credentials send (default: the stored
    target's). Used by the service after each run and by ``auditor export securityhub --run``."""
    from auditor.export.securityhub import export_findings  # boto3 clients: only when exporting

    with factory() as session:
        run = store_runs.get_run(session, run_id)
        result, diff = run_diff(session, run)
        first_seen = store_runs.first_seen(session, run.target_id)
        if accounts is None:
            accounts = to_config(run.target).accounts
    outcome = export_findings(
        result, settings, accounts=accounts, resolved=diff.resolved, include_pass=include_pass, first_seen=first_seen
    )
    store_runs.record_export(factory, run_id, outcome.coverage)
    return outcome


def write_reports(
    directory: Path, run_id: int, result: AuditResult, diff: RunDiff | None, formats: list[str]
) -> list[Path]:
    """``run-<id>.<ext>`` per format plus ``latest.<ext>``, written atomically (rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        ext = REPORT_EXTENSIONS.get(fmt)
        if ext is None:
            raise AuditorError(f"unknown report format {fmt!r}; one of {', '.join(REPORT_EXTENSIONS)}")
        text = render(result, fmt, diff=diff)
        for name in (f"run-{run_id}.{ext}", f"latest.{ext}"):
            path = directory / name
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            written.append(path)
    return written
