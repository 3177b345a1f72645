"""Terminal output: a rich rendering (to a string) of load balancers, findings and missing data."""

from __future__ import annotations

from io import StringIO
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditor.findings import AuditResult, Finding, Severity, Status
from auditor.inventory.models import CoverageStatus
from auditor.output.common import (
    SEVERITIES,
    Counts,
    OwnerIndex,
    coverage_detail,
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
)
from auditor.terminal import printable

if TYPE_CHECKING:
    from auditor.output import RunDiff


def _text(value: str, style: str = "") -> Text:
    """A cell or a line of data (not markup, not control sequences)."""
    return Text(printable(value), style=style)


SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def render_table(
    result: AuditResult,
    *,
    diff: RunDiff | None = None,
    include_pass: bool = False,
    color: bool = False,
    width: int = 120,
) -> str:
    out = StringIO()
    console = Console(
        file=out,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        markup=False,  # messages come from cluster data: never interpret "[...]" in them
        emoji=False,
    )
    index = OwnerIndex(result.load_balancers)
    findings = visible_findings(result, include_pass=include_pass)

    console.print(_header(result))
    problems = _coverage_panel(result)
    if problems is not None:
        console.print(problems)
    console.print(_load_balancer_table(result))
    if diff is not None:
        console.print(_changes(diff, index))

    failed = [f for f in findings if f.status == Status.FAIL]
    for severity in SEVERITIES:
        group = [f for f in failed if f.severity == severity]
        if group:
            title = Text(f" {severity.value.upper()} ({len(group)}) ", style=SEVERITY_STYLE[severity])
            console.print(_findings_table(title, group, index))
    unknown = [f for f in findings if f.status == Status.UNKNOWN]
    if unknown:
        console.print(_unknown_table(unknown, index))
    passed = [f for f in findings if f.status == Status.PASS]
    if passed:
        console.print(_passed_table(passed, index))
    if not failed and not unknown:
        console.print(Text("No open findings.", style="green"))
    console.print(Text(Counts.of(result).sentence(), style="bold"))
    return out.getvalue()


def _header(result: AuditResult) -> Panel:
    lines = Text()
    lines.append("Target: ", style="bold")
    lines.append(printable(result.target))
    lines.append("   Cluster: ", style="bold")
    lines.append(printable(result.cluster_name or "(none: AWS only)"))
    lines.append("\nRun: ", style="bold")
    lines.append(f"{timestamp(result.started_at)}, took {_duration(result)}")
    lines.append("   Status: ", style="bold")
    lines.append(result.status, style="green" if result.status == "complete" else "bold red")
    return Panel(lines, title="EKS exposure audit", title_align="left", box=box.ROUNDED, expand=True)


def _duration(result: AuditResult) -> str:
    seconds = max(0, round((result.finished_at - result.started_at).total_seconds()))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _coverage_panel(result: AuditResult) -> Panel | None:
    problems = coverage_problems(result)
    if not problems:
        return None
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("collector", no_wrap=True)
    table.add_column("problem", ratio=1)
    for cov in problems:
        style = "dim" if cov.status == CoverageStatus.SKIPPED else "bold red"
        table.add_row(_text(f"✗ {coverage_label(cov)}", style), _text(coverage_detail(cov)))
    note = Text("Findings that need this data are UNKNOWN or missing; fix access and run again.", style="italic")
    return Panel(
        Group(table, note),
        title=f"DATA MISSING: {len(problems)} collector(s) or rule(s) incomplete",
        title_align="left",
        border_style="red",
        box=box.HEAVY,
        expand=True,
    )


def _load_balancer_table(result: AuditResult) -> RenderableType:
    lbs = sorted_load_balancers(result)
    if not lbs:
        return Text("No load balancers found.")
    counts = lb_severity_counts(result)
    table = Table(title=f"Load balancers ({len(lbs)})", title_justify="left", box=box.SIMPLE_HEAD, expand=True)
    table.add_column("Owner", ratio=3, overflow="fold")
    table.add_column("Load balancer", ratio=3, overflow="fold")
    table.add_column("Type / scheme", no_wrap=True)
    table.add_column("Cost/month", justify="right", no_wrap=True)
    table.add_column("Findings", ratio=2, overflow="fold")
    for lb in lbs:
        kind = _text(lb.type)
        kind.append("\n" + printable(lb.scheme), style="bold" if lb.scheme == "internet-facing" else "")
        table.add_row(
            _text(owner_label(lb), "red" if lb.orphan else ""),
            _text(lb.name),
            kind,
            Text(money(lb.monthly_cost_usd)),
            Text(severity_counts_phrase(counts[lb.arn])),
        )
    return table


def _owner_cell(finding: Finding, index: OwnerIndex) -> Text:
    cell = _text(index.owner(finding))
    cell.append("\n" + printable(resource_label(finding)), style="dim")
    return cell


def _findings_table(title: Text, findings: list[Finding], index: OwnerIndex) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_lines=True, expand=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Owner / resource", ratio=2, overflow="fold")
    table.add_column("Problem", ratio=3, overflow="fold")
    table.add_column("Fix", ratio=3, overflow="fold")
    for f in findings:
        table.add_row(_text(f.rule_id, "bold"), _owner_cell(f, index), _text(f.message), _text(f.remediation))
    return table


def _unknown_table(findings: list[Finding], index: OwnerIndex) -> Table:
    table = Table(
        title=Text(f" COULD NOT BE CHECKED ({len(findings)}) ", style="bold magenta"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        expand=True,
    )
    table.add_column("Rule", no_wrap=True)
    table.add_column("Owner / resource", ratio=2, overflow="fold")
    table.add_column("Why", ratio=4, overflow="fold")
    for f in findings:
        table.add_row(_text(f.rule_id), _owner_cell(f, index), _text(f"could not be checked: {f.message}"))
    return table


def _passed_table(findings: list[Finding], index: OwnerIndex) -> Table:
    table = Table(title=f"Passed ({len(findings)})", title_justify="left", box=box.SIMPLE_HEAD, expand=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Owner / resource", ratio=2, overflow="fold")
    table.add_column("Result", ratio=4, overflow="fold")
    for f in findings:
        table.add_row(_text(f.rule_id), _owner_cell(f, index), _text(f.message, "green"))
    return table


def _changes(diff: RunDiff, index: OwnerIndex) -> RenderableType:
    if diff.previous_run_at is None:
        return Text(f"First run of this target: {len(diff.new)} open finding(s), nothing to compare with.")
    table = Table(
        title=f"Since the last run ({timestamp(diff.previous_run_at)}): {len(diff.new)} new, "
        f"{len(diff.resolved)} resolved, {diff.still_open} still open"
        + (f", {len(diff.reopened)} reopened" if diff.reopened else "")
        + (f", {len(diff.not_rechecked)} not re-checked (still open)" if diff.not_rechecked else ""),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        expand=True,
    )
    table.add_column("Change", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Owner / resource", ratio=2, overflow="fold")
    table.add_column("Message", ratio=3, overflow="fold")
    for label, style, group in (
        ("new", "bold red", diff.new),
        ("reopened", "bold red", diff.reopened),
        ("resolved", "green", diff.resolved),
        ("not re-checked", "magenta", diff.not_rechecked),
    ):
        for f in group:
            table.add_row(
                Text(label, style=style),
                Text(f.severity.value, style=SEVERITY_STYLE[f.severity]),
                _text(f.rule_id),
                _owner_cell(f, index),
                _text(f.message),
            )
    return table
