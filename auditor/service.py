"""Run-and-record: claim a run, call the pipeline with a heartbeat, store the result, write reports, post the webhook.

Used by the scheduler and by the API's "run now"; the audit itself is ``pipeline.run_audit`` —
the one entry point shared with the CLI.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from auditor.config import Settings, load_targets
from auditor.errors import AuditorError
from auditor.findings import AuditResult
from auditor.output import RunDiff, diff_results, render
from auditor.store import runs as store_runs
from auditor.store.db import transaction
from auditor.store.models import RunRow
from auditor.store.targets import get_target, sync_targets, to_config

log = logging.getLogger(__name__)

REPORT_EXTENSIONS = {"markdown": "md", "html": "html", "json": "json", "csv": "csv", "sarif": "sarif"}


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
        store_runs.expire_stale_runs(self.factory, self.settings.scheduler.lease_seconds)
        with self.factory() as session:
            target_id = get_target(session, target_name).id
        run = store_runs.claim_run(
            self.factory, target_id, trigger=trigger, owner=process_owner(), scheduled_for=scheduled_for
        )
        log.info("run %d of %s started (%s)", run.id, target_name, trigger)
        return run

    def submit(self, run: RunRow) -> Future[RunRow]:
        """Execute a claimed run in the background pool."""
        return self._pool.submit(self.execute, run.id)

    def run_now(self, target_name: str, *, trigger: str, scheduled_for: datetime | None = None) -> RunRow:
        """Claim and execute in this thread; returns the finished (or failed) run."""
        return self.execute(self.start(target_name, trigger=trigger, scheduled_for=scheduled_for).id)

    def execute(self, run_id: int) -> RunRow:
        """Audit the run's target with the pipeline, renewing the lease, then record everything at once."""
        from auditor.pipeline import run_audit  # the pipeline pulls in every collector: import when used

        with self.factory() as session:
            run = store_runs.get_run(session, run_id)
            target = to_config(run.target)
            trigger = run.trigger
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(run_id, stop), name=f"heartbeat-{run_id}", daemon=True)
        beat.start()
        try:
            outcome = run_audit(target, self.settings)
        except AuditorError as exc:
            log.warning("run %d of %s failed: %s", run_id, target.name, exc)
            store_runs.fail_run(self.factory, run_id, str(exc))
            return self._reload(run_id)
        except Exception as exc:
            log.exception("run %d of %s failed unexpectedly", run_id, target.name)
            store_runs.fail_run(self.factory, run_id, f"internal error: {type(exc).__name__}: {exc}")
            return self._reload(run_id)
        finally:
            stop.set()
            beat.join(timeout=5)
        try:
            recorded = store_runs.record_result(self.factory, run_id, outcome.result)
        except AuditorError as exc:
            log.error("run %d of %s could not be recorded: %s", run_id, target.name, exc)
            store_runs.fail_run(self.factory, run_id, f"could not record the result: {exc}")
            return self._reload(run_id)
        log.info(
            "run %d of %s %s: %d new, %d resolved",
            run_id,
            target.name,
            recorded.status,
            recorded.new,
            recorded.resolved,
        )
        self._publish(run_id, outcome.result, scheduled=trigger == "schedule")
        return self._reload(run_id)

    def _heartbeat(self, run_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.settings.scheduler.heartbeat_seconds):
            try:
                if not store_runs.heartbeat(self.factory, run_id):
                    log.error("run %d lost its lease (declared dead elsewhere); its results will be discarded", run_id)
                    return
            except Exception:
                log.warning("heartbeat of run %d failed; retrying", run_id, exc_info=True)

    def _reload(self, run_id: int) -> RunRow:
        with self.factory() as session:
            return store_runs.get_run(session, run_id)

    # ------------------------------------------------------------------ reports

    def diff_for(self, session: Session, run: RunRow) -> tuple[AuditResult, RunDiff]:
        """The run's result and what changed since the target's previous finished run."""
        current = store_runs.run_result(session, run)
        previous_run = store_runs.previous_finished(session, run)
        previous = store_runs.run_result(session, previous_run) if previous_run is not None else None
        return current, diff_results(previous, current)

    def _publish(self, run_id: int, result: AuditResult, *, scheduled: bool) -> None:
        """Reports to the report directory and the webhook; failures are logged, the run stays recorded."""
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
        if scheduled and reports.webhook_url:
            from auditor.notify import post_webhook

            try:
                post_webhook(reports.webhook_url, result, diff, timeout=reports.webhook_timeout)
                log.info("run %d posted to the webhook", run_id)
            except AuditorError as exc:  # the message names scheme and host only, never the secret path
                log.error("webhook after run %d failed: %s", run_id, exc)

    def shutdown(self, *, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


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
