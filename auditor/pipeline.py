"""The one audit entry point: collect -> Inventory -> correlate -> rules -> AuditResult.

Used by the CLI (`auditor audit`, `auditor demo`), the scheduler and the API's "run now". Only
``collect`` does I/O; ``analyze`` is pure and runs equally on a saved snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from auditor.cancel import CancelCheck, never_cancelled
from auditor.collect.aws import collect_aws
from auditor.collect.aws.pricing import PriceCache
from auditor.collect.aws.session import CallCounter
from auditor.collect.aws.shared import SharedInventory, shared_inventory
from auditor.collect.kube import collect_kube
from auditor.config import Settings, TargetConfig
from auditor.correlate import ExposureGraph, correlate
from auditor.correlate.graph import RuleError
from auditor.cost.consolidation import plan_consolidation
from auditor.errors import TargetUnreachable
from auditor.findings import AuditResult
from auditor.inventory.models import AuditTarget, Coverage, CoverageStatus, Inventory
from auditor.progress import ProgressEvent, ProgressFn, no_progress
from auditor.rules.registry import evaluate_all
from auditor.rules.selection import RuleSelection, select
from auditor.views import load_balancer_views, other_gateway_views

log = logging.getLogger(__name__)
_OBJECTS_SHOWN = 3  # objects a crashed rule's coverage message names (each has its UNKNOWN finding)


@dataclass
class AuditOutcome:
    inventory: Inventory
    graph: ExposureGraph
    result: AuditResult


def selection_of(target: TargetConfig) -> RuleSelection:
    """The rules a target's own ``rules`` / ``skip_rules`` select (every rule but the opt-in ones when it names
    none)."""
    return select(target.rules, target.skip_rules)


def collect(
    target: TargetConfig,
    settings: Settings,
    *,
    progress: ProgressFn = no_progress,
    selection: RuleSelection | None = None,
    shared: SharedInventory | None = None,
    price_cache: PriceCache | None = None,
    cancelled: CancelCheck = never_cancelled,
) -> Inventory:
    """Read the cluster and AWS into an Inventory. Collector failures become coverage, not exceptions.

    Only the facets the selected rules need are read (``selection``; default: the target's own, which is
    every rule but the opt-in ones unless its targets-file entry says otherwise). ``shared``: what other audits of
    the same accounts and regions read is taken from there (``auditor.collect.aws.shared``). ``price_cache``: where
    Price List prices read before are kept (the service's database); without one they are read each time.
    ``cancelled``: asked before every AWS and Kubernetes request (``auditor.cancel``); once it says so, the
    collection ends with RunCancelled. Raises TargetUnreachable only when nothing at all could be read (every
    collector failed).
    """
    started = datetime.now(UTC)
    selection = selection if selection is not None else selection_of(target)
    counter = CallCounter()
    coverage: list[Coverage] = []
    kube = None
    if target.kubernetes:  # always wanted when asked for: correlation ties owners through it (rules.selection)
        kube, kube_cov = collect_kube(target, settings, progress=progress, cancelled=cancelled)
        coverage.extend(kube_cov)
    else:
        coverage.append(
            Coverage(
                source="kubernetes",
                collector="kubernetes",
                status=CoverageStatus.SKIPPED,
                message="Kubernetes not audited for this target",
            )
        )
    aws, aws_cov = collect_aws(
        target,
        settings,
        counter=counter,
        progress=progress,
        kube=kube,
        wanted=selection.facets,
        listener_rules=selection.listener_rules,
        shared=shared,
        # what decides what the shared collectors read: the rules and the facets they need (two selections of the same
        # rules may read different facets: `all` reads every one), the usage window of cloudwatch
        share_as=(selection.rule_ids, selection.facets, settings.cost.usage_window_days),
        price_cache=price_cache,
        cancelled=cancelled,
    )
    coverage.extend(aws_cov)

    attempted = [c for c in coverage if c.status != CoverageStatus.SKIPPED]
    if attempted and all(c.status == CoverageStatus.ERROR for c in attempted):
        raise TargetUnreachable(f"target {target.name!r} could not be read at all — " + _reasons(attempted))

    accounts = sorted({c.account for c in coverage if c.account})
    regions = target.regions or [settings.aws.default_region]
    return Inventory(
        collected_at=started,
        target=AuditTarget(
            name=target.name,
            cluster_name=target.cluster_name,
            context=target.context,
            accounts=accounts,
            regions=list(regions),
        ),
        aws=aws,
        kubernetes=kube,
        coverage=coverage,
        api_calls=counter.snapshot(),
    )


def _reasons(failed: list[Coverage]) -> str:
    """One clause per distinct failure, naming the collectors it hit (not the same sentence seven times)."""
    by_message: dict[str, list[str]] = {}
    for cov in failed:
        by_message.setdefault(cov.message or cov.error_code or "failed", []).append(cov.collector)
    return "; ".join(f"{', '.join(sorted(set(names)))}: {msg}" for msg, names in sorted(by_message.items()))


def analyze(
    inventory: Inventory,
    settings: Settings,
    *,
    started_at: datetime | None = None,
    selection: RuleSelection | None = None,
) -> AuditOutcome:
    """Pure: correlate the inventory, run the selected rules (None: every rule), and shape the result."""
    only = selection.rule_ids if selection is not None else None
    graph = correlate(inventory)
    findings = evaluate_all(graph, settings.rules, only=set(only) if only is not None else None)
    findings.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.resource_arn or "", f.discriminator))
    coverage = [*inventory.coverage, *_crashed_rules(graph.rule_errors)]
    complete = not any(c.status.incomplete for c in coverage)
    result = AuditResult(
        target=inventory.target.name,
        cluster_name=graph.cluster_name,
        started_at=started_at or inventory.collected_at,
        finished_at=datetime.now(UTC),
        load_balancers=load_balancer_views(graph, team_key=settings.cost.team_key),
        other_gateways=other_gateway_views(graph),
        findings=findings,
        coverage=coverage,
        api_calls=inventory.api_calls,
        status="complete" if complete else "partial",
        rules=sorted(only) if only is not None else None,
        selection=selection.names if selection is not None else None,
        consolidation=plan_consolidation(graph),
    )
    return AuditOutcome(inventory=inventory, graph=graph, result=result)


def _crashed_rules(errors: list[RuleError]) -> list[Coverage]:
    """Rules that raised, as the run's coverage names them (the tracebacks are in the log): one entry per rule
    and exception type, naming the objects it crashed on (the first few; each has its UNKNOWN finding)."""
    grouped: dict[tuple[str, str], list[RuleError]] = {}
    for error in errors:
        grouped.setdefault((error.rule_id, error.exception), []).append(error)
    return [_crashed_rule(same) for same in grouped.values()]


def _crashed_rule(errors: list[RuleError]) -> Coverage:
    first = errors[0]
    objects = [e.object for e in errors if e.object is not None]
    if not objects:
        where = ""
    elif len(objects) <= _OBJECTS_SHOWN:
        where = f" on {'; '.join(objects)}"
    else:
        shown = "; ".join(objects[:_OBJECTS_SHOWN])
        where = f" on {len(objects)} objects ({shown} and {len(objects) - _OBJECTS_SHOWN} more)"
    return Coverage(
        source="rule",
        collector=first.rule_id,
        status=CoverageStatus.ERROR,
        error_code=first.exception,
        message=f"rule {first.rule_id} crashed{where}: {first.exception}: {first.message}"[:1000],
    )


def run_audit(
    target: TargetConfig,
    settings: Settings,
    *,
    progress: ProgressFn = no_progress,
    snapshot: Inventory | None = None,
    selection: RuleSelection | None = None,
    shared: SharedInventory | None = None,
    price_cache: PriceCache | None = None,
    cancelled: CancelCheck = never_cancelled,
) -> AuditOutcome:
    """Audit one target (or a saved snapshot of it), with the selected rules (default: the target's own);
    ``shared``: regional reads shared with the other audits of a fleet; ``cancelled``: when to stop collecting,
    RunCancelled (see ``collect``)."""
    started = datetime.now(UTC)
    selection = selection if selection is not None else selection_of(target)
    inventory = (
        snapshot
        if snapshot is not None
        else collect(
            target,
            settings,
            progress=progress,
            selection=selection,
            shared=shared,
            price_cache=price_cache,
            cancelled=cancelled,
        )
    )
    progress(ProgressEvent(stage="analyze", message="correlating and running rules"))
    outcome = analyze(inventory, settings, started_at=started, selection=selection)
    failed = len(outcome.result.failed())
    progress(
        ProgressEvent(stage="analyze", message=f"{len(outcome.result.findings)} checks, {failed} failed", status="ok")
    )
    log.info(
        "audit of %s finished: %d load balancers, %d failed checks, %d AWS calls",
        target.name,
        len(outcome.result.load_balancers),
        failed,
        sum(inventory.api_calls.values()),
    )
    return outcome


def snapshot_target(inv: Inventory) -> TargetConfig:
    """The target a saved snapshot was collected for, by the names it recorded (not re-validated as a targets-file
    entry is: the snapshot is what it is)."""
    return TargetConfig.model_construct(
        name=inv.target.name, cluster_name=inv.target.cluster_name, context=inv.target.context
    )


def audit_snapshot(path: Path, settings: Settings) -> AuditResult:
    """Audit a saved snapshot offline (``--snapshot``) with every rule but the opt-in ones."""
    inv = Inventory.load(path)
    return run_audit(snapshot_target(inv), settings, snapshot=inv).result


def audit_targets(targets: Iterable[TargetConfig], settings: Settings) -> list[AuditResult]:
    """Audit targets one after the other, the clusters of one account × region sharing its AWS read."""
    shared = shared_inventory(settings.aws.shared_inventory_seconds, settings.cost.billed_refresh_hours)
    return [run_audit(target, settings, shared=shared).result for target in targets]
