"""Prometheus metrics read from the database at scrape time, so every process and replica agrees; and this process's
background loops' failures, which only it knows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from auditor.store.models import RunRow, TargetRow
from auditor.store.queries import cost_shares, open_counts_by_severity

if TYPE_CHECKING:
    from auditor.scheduler import AuditScheduler
    from auditor.service import AuditService

log = logging.getLogger(__name__)

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class StoreCollector(Collector):
    """Run durations, runs by status, open findings by severity, AWS calls, collector errors and monthly cost."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    def collect(self) -> Iterator[Metric]:
        # Every family is read before any is yielded: a database that fails midway (or is down, which the
        # first query finds out, not the session) gives `auditor_store_up 0` alone, never a family twice —
        # a repeated family makes the whole exposition invalid for Prometheus
        # (https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-details).
        try:
            with self._factory() as session:
                families = [_store_up(1), *self._collect(session)]
        except Exception:  # a scrape must not fail because one query did
            log.warning("metrics: database query failed", exc_info=True)
            families = [_store_up(0)]
        yield from families

    def _collect(self, session: Session) -> Iterator[Metric]:
        findings = GaugeMetricFamily(
            "auditor_findings_open",
            "Open findings (not suppressed) by cluster, severity and state",
            labels=["cluster", "severity", "state"],
        )
        for cluster, severity, state, count in open_counts_by_severity(session):
            findings.add_metric([cluster, severity, state], count)
        yield findings

        runs = CounterMetricFamily("auditor_runs", "Runs by cluster and final status", labels=["cluster", "status"])
        calls = CounterMetricFamily("auditor_aws_calls", "AWS API calls made by runs", labels=["cluster"])
        errors = CounterMetricFamily(
            "auditor_collector_errors", "Collectors that failed or were partial, summed over runs", labels=["cluster"]
        )
        per_cluster: dict[str, tuple[int, int]] = {}
        for cluster, status, count, aws_calls, coll_errors in session.execute(
            select(
                TargetRow.name,
                RunRow.status,
                func.count(),
                func.coalesce(func.sum(RunRow.aws_calls), 0),
                func.coalesce(func.sum(RunRow.collector_errors), 0),
            )
            .join(TargetRow, TargetRow.id == RunRow.target_id)
            .group_by(TargetRow.name, RunRow.status)
        ).all():
            runs.add_metric([cluster, status], count)
            c, e = per_cluster.get(cluster, (0, 0))
            per_cluster[cluster] = (c + int(aws_calls), e + int(coll_errors))
        for cluster, (c, e) in per_cluster.items():
            calls.add_metric([cluster], c)
            errors.add_metric([cluster], e)
        yield runs
        yield calls
        yield errors

        duration = HistogramMetricFamily(
            "auditor_run_duration_seconds", "Duration of finished runs", labels=["cluster"]
        )
        bucket_cols = [func.sum(case((RunRow.duration_seconds <= b, 1), else_=0)) for b in DURATION_BUCKETS]
        for row in session.execute(
            select(TargetRow.name, func.count(), func.coalesce(func.sum(RunRow.duration_seconds), 0.0), *bucket_cols)
            .join(TargetRow, TargetRow.id == RunRow.target_id)
            .where(RunRow.duration_seconds.is_not(None))
            .group_by(TargetRow.name)
        ).all():
            cluster, count, total, *counts = row
            buckets = [(str(b), int(n or 0)) for b, n in zip(DURATION_BUCKETS, counts, strict=True)]
            buckets.append(("+Inf", int(count)))
            duration.add_metric([cluster], buckets, float(total))
        yield duration

        last = GaugeMetricFamily(
            "auditor_last_run_timestamp_seconds",
            "Start of the latest run by cluster and its status",
            labels=["cluster", "status"],
        )
        latest = select(func.max(RunRow.id)).group_by(RunRow.target_id).scalar_subquery()
        for cluster, status, started in session.execute(
            select(TargetRow.name, RunRow.status, RunRow.started_at)
            .join(TargetRow, TargetRow.id == RunRow.target_id)
            .where(RunRow.id.in_(latest))
        ).all():
            last.add_metric([cluster, status], started.timestamp())
        yield last

        # who pays, as GET /api/v1/cost?group_by=namespace says it: the latest finished run of each target
        cost = GaugeMetricFamily(
            "auditor_monthly_cost_usd",
            "Estimated monthly load balancer cost of each target's latest finished run, by cluster, namespace and team",
            labels=["target", "cluster", "namespace", "team"],
        )
        totals: dict[tuple[str, str, str, str], float] = {}
        for share in cost_shares(session):
            key = (share["target"], share["cluster"], share["namespace"], share["team"])
            totals[key] = totals.get(key, 0.0) + float(share["monthly_usd"])
        for key, usd in sorted(totals.items()):
            cost.add_metric(list(key), round(usd, 2))
        yield cost


def _store_up(value: int) -> Metric:
    up = GaugeMetricFamily("auditor_store_up", "1 when the history database answered the scrape")
    up.add_metric([], value)
    return up


class BackgroundCollector(Collector):
    """Failures of this process's background loops since it started: the lease expiry, the renewal of its shared-read
    claims, the scheduler's maintenance and its ticks (a run not started, other than for a run still going). Each
    failure is logged with its traceback and the loop carries on; counted here, one that keeps failing shows without
    reading the logs."""

    def __init__(self, service: AuditService, scheduler: AuditScheduler | None) -> None:
        self._service = service
        self._scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        failures = CounterMetricFamily(
            "auditor_background_failures",
            "Failures of this process's background loops since it started (each logged with its traceback)",
            labels=["loop"],
        )
        failures.add_metric(["lease_expiry"], self._service.lease_expiry.failures)
        failures.add_metric(["shared_read_claims"], self._service.shared.renew_failures)
        if self._scheduler is not None:
            failures.add_metric(["scheduler_maintenance"], self._scheduler.maintenance_failures)
            failures.add_metric(["scheduled_ticks"], self._scheduler.tick_failures)
        yield failures


def make_registry(
    factory: sessionmaker[Session], service: AuditService | None = None, scheduler: AuditScheduler | None = None
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(factory))
    if service is not None:
        registry.register(BackgroundCollector(service, scheduler))
    return registry
