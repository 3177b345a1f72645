"""Renders an audit result as table, JSON, SARIF, Markdown, HTML or CSV, and diffs two runs.

Used by the CLI (``auditor audit --output ...``) and by the service's reports. Every format
lists findings in one order (severity desc, rule, resource), shows coverage problems (data
that could not be collected) prominently, and hides PASS findings unless ``include_pass``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auditor.errors import ConfigError
from auditor.findings import AuditResult, Finding, Status
from auditor.output.common import sorted_findings

FORMATS = ("table", "json", "sarif", "markdown", "html", "csv")


@dataclass(frozen=True)
class RunDiff:
    """What changed between the previous run of a target and this one (open = FAIL)."""

    new: list[Finding]
    resolved: list[Finding]
    unchanged: int
    previous_run_at: datetime | None


def diff_results(previous: AuditResult | None, current: AuditResult) -> RunDiff:
    """Compare two runs by ``Finding.fingerprint``; only FAIL findings count as open.

    - new: FAIL now, not FAIL before (every open finding when there is no previous run).
    - resolved: FAIL before and now PASS, or now absent while the current run is complete.
      Absent from a *partial* run is not resolved: its collector may have failed. A finding that
      is UNKNOWN now is neither resolved nor unchanged: nobody could check it.
    - unchanged: FAIL in both.
    """
    now_open = {f.fingerprint: f for f in current.findings if f.status == Status.FAIL}
    if previous is None:
        return RunDiff(new=sorted_findings(list(now_open.values())), resolved=[], unchanged=0, previous_run_at=None)

    was_open = {f.fingerprint: f for f in previous.findings if f.status == Status.FAIL}
    now_status = {f.fingerprint: f.status for f in current.findings}
    new = [f for fp, f in now_open.items() if fp not in was_open]
    resolved: list[Finding] = []
    for fp, finding in was_open.items():
        if fp in now_open:
            continue
        status = now_status.get(fp)
        if status == Status.PASS or (status is None and current.status == "complete"):
            resolved.append(finding)
    unchanged = sum(1 for fp in now_open if fp in was_open)
    return RunDiff(
        new=sorted_findings(new),
        resolved=sorted_findings(resolved),
        unchanged=unchanged,
        previous_run_at=previous.started_at,
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
    raise ConfigError(f"unknown output format {fmt!r}; one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "RunDiff", "diff_results", "render"]
