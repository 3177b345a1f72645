"""JSON output: ``AuditResult.as_json()`` in a deterministic order, plus ``summary`` (and ``changes``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from auditor.findings import AuditResult
from auditor.output.common import (
    Counts,
    sorted_coverage,
    sorted_findings,
    sorted_load_balancers,
    visible_findings,
)

if TYPE_CHECKING:
    from auditor.output import RunDiff


def result_document(result: AuditResult, *, diff: RunDiff | None = None, include_pass: bool = False) -> dict[str, Any]:
    """The JSON document as a dict: every key of ``AuditResult.as_json()`` keeps its meaning;
    ``findings`` omits PASS unless ``include_pass`` (``summary`` says so and counts them all)."""
    ordered = result.model_copy(
        update={
            "load_balancers": sorted_load_balancers(result),
            "findings": visible_findings(result, include_pass=include_pass),
            "coverage": sorted_coverage(result.coverage),
        }
    )
    doc = ordered.as_json()
    counts = Counts.of(result)
    doc["summary"] = {
        "findings_total": len(result.findings),
        "findings_listed": len(doc["findings"]),
        "pass_included": include_pass,
        "by_status": counts.by_status,
        "failed_by_severity": counts.failed_by_severity,
        "load_balancers": counts.load_balancers,
        "known_monthly_cost_usd": counts.known_monthly_cost,
        "load_balancers_without_cost": counts.cost_unknown,
        "monthly_saving_usd": counts.monthly_saving,
        "coverage_problems": counts.coverage_problems,
    }
    if diff is not None:
        doc["changes"] = {
            "previous_run_at": diff.previous_run_at.isoformat() if diff.previous_run_at else None,
            "new": [f.as_json() for f in sorted_findings(diff.new)],
            "reopened": [f.as_json() for f in sorted_findings(diff.reopened)],
            "resolved": [f.as_json() for f in sorted_findings(diff.resolved)],
            "not_rechecked": [f.as_json() for f in sorted_findings(diff.not_rechecked)],
            "still_open": diff.still_open,
            "open": diff.open,
        }
    return doc


def render_json(result: AuditResult, *, diff: RunDiff | None = None, include_pass: bool = False) -> str:
    return (
        json.dumps(result_document(result, diff=diff, include_pass=include_pass), indent=2, ensure_ascii=False) + "\n"
    )
