"""HTML report: one self-contained page (inline CSS, no scripts, no external assets), jinja2-autoescaped."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

import auditor
from auditor.findings import AuditResult, Finding, Status
from auditor.inventory.models import CoverageStatus
from auditor.output.charts import cost_trend_chart
from auditor.output.common import (
    SEVERITIES,
    Counts,
    OwnerIndex,
    coverage_label,
    coverage_problems,
    lb_severity_counts,
    money,
    owner_label,
    resource_label,
    severity_counts_phrase,
    sorted_load_balancers,
    timestamp,
    visible_findings,
    who_pays,
)

if TYPE_CHECKING:
    from auditor.output import RunDiff


@cache
def _environment() -> Environment:
    # autoescape=True for every template: all text comes from cluster and AWS data.
    return Environment(
        loader=PackageLoader("auditor.output", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(result: AuditResult, *, diff: RunDiff | None = None, include_pass: bool = False) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(report=report_context(result, diff=diff, include_pass=include_pass))


def _row(finding: Finding, index: OwnerIndex) -> dict[str, Any]:
    return {
        "rule": finding.rule_id,
        "title": finding.title,
        "severity": finding.severity.value,
        "owner": index.owner(finding),
        "resource": resource_label(finding),
        "arn": finding.resource_arn or "",
        "message": finding.message,
        "fix": finding.remediation,
        "fingerprint": finding.fingerprint,
    }


def report_context(result: AuditResult, *, diff: RunDiff | None = None, include_pass: bool = False) -> dict[str, Any]:
    """Plain data for the template: every string is raw text, escaping is the template's job."""
    index = OwnerIndex(result.load_balancers)
    findings = visible_findings(result, include_pass=include_pass)
    counts = Counts.of(result)
    failed = [f for f in findings if f.status == Status.FAIL]
    lb_counts = lb_severity_counts(result)
    changes: dict[str, Any] | None = None
    if diff is not None:
        changes = {
            "first_run": diff.previous_run_at is None,
            "previous": timestamp(diff.previous_run_at),
            "new": [_row(f, index) for f in diff.new],
            "reopened": [_row(f, index) for f in diff.reopened],
            "resolved": [_row(f, index) for f in diff.resolved],
            "not_rechecked": [_row(f, index) for f in diff.not_rechecked],
            "still_open": diff.still_open,
        }
    trend = cost_trend_chart(diff.cost_trend) if diff is not None else None
    return {
        "target": result.target,
        "cluster": result.cluster_name or "(none: AWS only)",
        "started": timestamp(result.started_at),
        "duration_s": max(0, round((result.finished_at - result.started_at).total_seconds())),
        "status": result.status,
        "sentence": counts.sentence(),
        "severity_counts": [(s.value, counts.failed_by_severity[s.value]) for s in SEVERITIES],
        "unknown_count": counts.by_status[Status.UNKNOWN.value],
        "pass_count": counts.by_status[Status.PASS.value],
        "problems": [
            {
                "label": coverage_label(c),
                "status": c.status.value,
                "skipped": c.status == CoverageStatus.SKIPPED,
                "code": c.error_code or "",
                "message": c.message or "",
            }
            for c in coverage_problems(result)
        ],
        "changes": changes,
        "cost_trend": trend,
        "who_pays": [(namespace, money(usd)) for namespace, usd in who_pays(result)],
        "other_gateways": [g.model_dump() for g in result.other_gateways],
        "severities": [
            {"name": s.value, "findings": [_row(f, index) for f in failed if f.severity == s]}
            for s in SEVERITIES
            if any(f.severity == s for f in failed)
        ],
        "unknown": [_row(f, index) for f in findings if f.status == Status.UNKNOWN],
        "passed": [_row(f, index) for f in findings if f.status == Status.PASS],
        "load_balancers": [
            {
                "owner": owner_label(lb),
                "orphan": bool(lb.orphan),
                "name": lb.name,
                "arn": lb.arn,
                "dns": lb.dns_name,
                "type": lb.type,
                "scheme": lb.scheme,
                "region": lb.region,
                "cost": money(lb.monthly_cost_usd),
                "cost_basis": lb.cost_basis or "",
                "findings": severity_counts_phrase(lb_counts[lb.arn]),
            }
            for lb in sorted_load_balancers(result)
        ],
        "known_cost": money(counts.known_monthly_cost),
        "cost_unknown": counts.cost_unknown,
        "saving": money(counts.monthly_saving) if counts.monthly_saving else "",
        "version": auditor.__version__,
    }
