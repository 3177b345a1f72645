"""Renders an audit result as table, JSON, SARIF, Markdown, HTML, CSV, OCSF or ASFF, and diffs two runs.

Used by the CLI (``auditor audit --output ...``) and by the service's reports. Every format
lists findings in one order (severity desc, rule, resource), shows coverage problems (data
that could not be collected) prominently, and hides PASS findings unless ``include_pass``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from auditor.errors import ConfigError
from auditor.findings import AuditResult, Finding
from auditor.lifecycle import Change, Prior, decisions, replay, rules_of
from auditor.output.common import sorted_findings

if TYPE_CHECKING:
    from auditor.cost.allocate import CostPoint

FORMATS = ("table", "json", "sarif", "markdown", "html", "csv", "ocsf", "asff")


@dataclass(frozen=True)
class RunDiff:
    """What changed between the previous run of a target and this one, as ``auditor.lifecycle`` decides it.

    Every finding open after this run is in exactly one of new, reopened, not_rechecked or still_open.
    """

    new: list[Finding]  # FAIL now, never open before
    reopened: list[Finding]  # FAIL now, resolved before
    resolved: list[Finding]  # open before, PASS now or absent from this complete run (as last seen failing)
    not_rechecked: list[Finding]  # open before, UNKNOWN now or absent from this partial run: still open
    still_open: int  # open before and FAIL again
    previous_run_at: datetime | None
    # the monthly cost of the target's runs up to this one, per namespace (from the store; empty without one)
    cost_trend: list[CostPoint] = field(default_factory=list)

    @property
    def open(self) -> int:
        """Findings open after this run."""
        return len(self.new) + len(self.reopened) + len(self.not_rechecked) + self.still_open


def diff_results(
    previous: AuditResult | None, current: AuditResult, *, before: Mapping[str, Prior] | None = None
) -> RunDiff:
    """What ``current`` changed, by ``Finding.fingerprint``, decided by ``auditor.lifecycle``.

    ``before``: where each fingerprint stood before ``current`` — from the store
    (``auditor.store.runs.findings_before``) or ``lifecycle.replay`` of the target's earlier results.
    Without it, ``previous`` is taken as the whole history: right when it was the target's first run;
    otherwise a finding open before ``previous`` but UNKNOWN or absent in it would count as new.
    """
    priors = before if before is not None else replay([previous] if previous is not None else [])
    groups: dict[Change, list[Finding]] = {change: [] for change in Change}
    still_open = 0
    for d in decisions({fp: p.standing for fp, p in priors.items()}, current, rules_of(priors)):
        prior = priors.get(d.fingerprint)
        last_failing = prior.finding if prior is not None else None
        if d.change == Change.STILL_OPEN:
            still_open += 1
            continue
        # resolved: what was fixed, as it was reported; otherwise what this run said (an UNKNOWN says why)
        shown = (last_failing or d.finding) if d.change == Change.RESOLVED else (d.finding or last_failing)
        if shown is not None:
            groups[d.change].append(shown)
    return RunDiff(
        new=sorted_findings(groups[Change.NEW]),
        reopened=sorted_findings(groups[Change.REOPENED]),
        resolved=sorted_findings(groups[Change.RESOLVED]),
        not_rechecked=sorted_findings(groups[Change.NOT_RECHECKED]),
        still_open=still_open,
        previous_run_at=previous.started_at if previous is not None else None,
    )


def render(
    result: AuditResult,
    fmt: str,
    *,
    diff: RunDiff | None = None,
    include_pass: bool = False,
    color: bool = False,
    width: int = 120,
) -> str:
    """The audit result in one of FORMATS; ``color`` and ``width`` only affect "table"."""
    if fmt == "table":
        from auditor.output.table import render_table

        return render_table(result, diff=diff, include_pass=include_pass, color=color, width=width)
    if fmt == "json":
        from auditor.output.json_report import render_json

        return render_json(result, diff=diff, include_pass=include_pass)
    if fmt == "sarif":
        from auditor.output.sarif import render_sarif

        return render_sarif(result, include_pass=include_pass)
    if fmt == "markdown":
        from auditor.output.markdown import render_markdown

        return render_markdown(result, diff=diff, include_pass=include_pass)
    if fmt == "html":
        from auditor.output.html_report import render_html

        return render_html(result, diff=diff, include_pass=include_pass)
    if fmt == "csv":
        from auditor.output.csv_report import render_csv

        return render_csv(result, diff=diff, include_pass=include_pass)
    if fmt == "ocsf":
        from auditor.output.ocsf import render_ocsf

        return render_ocsf(result, include_pass=include_pass)
    if fmt == "asff":
        from auditor.output.asff import render_asff

        return render_asff(result, include_pass=include_pass)
    raise ConfigError(f"unknown output format {fmt!r}; one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "RunDiff", "diff_results", "render"]
