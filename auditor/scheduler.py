"""The audit scheduler: one cron job per target, no overlap, exactly one replica per fire time.

APScheduler fires the jobs (``coalesce``: missed fire times collapse into one; ``max_instances=1``:
a run still going in this process is not started again). What makes it safe across processes
and replicas is the database (see ``auditor.store.runs``): the run row for a (target, fire time)
can be inserted once, and a target can have one ``running`` run. SQLite is for a single process;
several replicas need PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from auditor.config import cron_trigger  # the one schedule parser: targets files and the API use it too
from auditor.errors import AuditorError, ConfigError, Conflict
from auditor.service import AuditService, maintenance_interval
from auditor.store.models import utcnow
from auditor.store.targets import list_targets

log = logging.getLogger(__name__)

_MAINTENANCE_JOB = "maintenance"


def latest_fire_time(trigger: BaseTrigger, now: datetime, grace: timedelta) -> datetime | None:
    """The last fire time at or before ``now`` within ``grace``: the identity of the run being started.

    Every replica computes the same value from the same cron, which is what lets the database
    tell them apart from a duplicate.
    """
    fire: datetime | None = trigger.get_next_fire_time(None, now - grace)
    if fire is None or fire > now:
        return None
    while True:
        nxt: datetime | None = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if nxt is None or nxt > now:
            return fire.astimezone(now.tzinfo)
        fire = nxt


class AuditScheduler:
    """Schedules every enabled target with a cron schedule; picks up target changes from the database."""

    def __init__(self, service: AuditService) -> None:
        self.service = service
        cfg = service.settings.scheduler
        self._grace = timedelta(seconds=cfg.misfire_grace_seconds)
        self._tz = cfg.timezone
        self._jobs: dict[int, str] = {}  # target id -> schedule of its job
        self.maintenance_failures = 0
        self.tick_failures = 0  # ticks that could not start their run, or not read it back (not a Conflict)
        self._scheduler = BackgroundScheduler(
            timezone=ZoneInfo(cfg.timezone),
            executors={"default": ThreadPoolExecutor(max_workers=cfg.max_parallel_runs + 1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": cfg.misfire_grace_seconds},
        )

    def start(self) -> None:
        """Expire dead runs (the service's ``LeaseExpiry``), schedule the targets, keep both up to date."""
        self.service.start_maintenance()
        self.maintain()
        self._scheduler.add_job(
            self.maintain,
            IntervalTrigger(seconds=maintenance_interval(self.service.settings)),
            id=_MAINTENANCE_JOB,
            name="reload targets",
        )
        self._scheduler.start()
        log.info("scheduler started with %d scheduled target(s)", len(self._jobs))

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def maintain(self) -> None:
        """Align the jobs with the targets in the database; a failure is logged with its traceback and
        counted (``maintenance_failures``), and the next interval tries again."""
        try:
            self.reload_targets()
        except Exception:
            self.maintenance_failures += 1
            log.exception(
                "scheduler maintenance failed (%d time(s)); the jobs stay as they were", self.maintenance_failures
            )

    def reload_targets(self) -> None:
        with self.service.factory() as session:
            wanted = {t.id: (t.name, t.schedule) for t in list_targets(session) if t.schedule}
        for target_id in list(self._jobs):
            if target_id not in wanted or self._jobs[target_id] != wanted[target_id][1]:
                if self._scheduler.get_job(f"target-{target_id}") is not None:
                    self._scheduler.remove_job(f"target-{target_id}")
                del self._jobs[target_id]
        for target_id, (name, schedule) in wanted.items():
            if target_id in self._jobs or schedule is None:
                continue
            try:
                trigger = cron_trigger(schedule, self._tz)
            except ConfigError as exc:
                log.error("target %s not scheduled: %s", name, exc)
                continue
            self._scheduler.add_job(
                self.fire,
                trigger,
                args=[name, schedule],
                id=f"target-{target_id}",
                name=f"audit {name}",
                coalesce=True,  # missed fire times collapse into one run
                max_instances=1,  # a run still going in this process is not started again
                misfire_grace_time=int(self._grace.total_seconds()),
            )
            self._jobs[target_id] = schedule
            log.info("target %s scheduled: %s (%s)", name, schedule, self._tz)

    def fire(self, target_name: str, schedule: str, now: datetime | None = None) -> int | None:
        """One cron tick: claim the fire time (once across replicas) and run it; the run id or None."""
        now = now or utcnow()
        fire_time = latest_fire_time(cron_trigger(schedule, self._tz), now, self._grace)
        if fire_time is None:
            log.info("no fire time of %s within the grace period; skipped", target_name)
            return None
        try:
            run = self.service.start(target_name, trigger="schedule", scheduled_for=fire_time)
        except Conflict as exc:
            log.info("scheduled run of %s at %s skipped: %s", target_name, fire_time.isoformat(), exc)
            return None
        except AuditorError as exc:
            self.tick_failures += 1
            log.error("scheduled run of %s at %s not started: %s", target_name, fire_time.isoformat(), exc)
            return None
        except Exception:  # e.g. the database went away: logged here with its traceback, the next tick retries
            self.tick_failures += 1
            log.exception("scheduled run of %s at %s not started", target_name, fire_time.isoformat())
            return None
        try:
            self.service.execute(run.id)  # ends every failure of the run itself (see AuditService.execute)
        except Exception:  # reading the run back after it ended: the run is recorded (or its lease fails it)
            self.tick_failures += 1
            log.exception("scheduled run %d of %s: reading it back after it ended failed", run.id, target_name)
        return run.id


__all__ = ["AuditScheduler", "cron_trigger", "latest_fire_time"]
