"""Markdown report: headline, what changed since the last run, missing data, findings, load balancers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from auditor.findings import AuditResult, Finding, Status
from auditor.output.common import (
    SEVERITIES,
    Counts,
    OwnerIndex,
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

# Everything that could end a table cell, start markup or inject HTML is shown literally.
_SPECIAL = re.compile(r"([\\`*_~\[\]|])")  # ~: GitHub's strikethrough


def cell(value: object) -> str:
    """Text safe inside a GitHub-flavoured Markdown table cell, rendered literally."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SPECIAL.sub(r"\\\1", text)
    return "<br>".join(line.strip() for line in text.strip().splitlines()) or " "


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(result: AuditResult, *, diff: RunDiff | None = None, include_pass: bool = False) -> str:
    index = OwnerIndex(result.load_balancers)
    findings = visible_findings(result, include_pass=include_pass)
    counts = Counts.of(result)
    out: list[str] = [f"# EKS exposure audit: {cell(result.target)}", ""]
    out += [
        f"**Cluster:** {cell(result.cluster_name or '(none: AWS only)')} · "
        f"**Run:** {timestamp(result.started_at)} · **Status:** {result.status}",
        "",
        f"**{counts.sentence()}**",
        "",
    ]

    if diff is not None:
        out += _changes(diff, index)

    problems = coverage_problems(result)
    if problems:
        out += [
            f"## ⚠️ Data missing: {len(problems)} collector(s) or rule(s) incomplete",
            "",
            "> Every check that rests on this data is listed as *could not be checked* (UNKNOWN), never as passed. "
            "Fix the access problem and run again.",
            "",
        ]
        out += table(
            ("Source", "Collector", "Account", "Region", "Status", "Error code", "Message"),
            (
                (
                    c.source,
                    c.collector,
                    c.account or "",
                    c.region or "",
                    c.status.value,
                    c.error_code or "",
                    c.message or "",
                )
                for c in problems
            ),
        )

    failed = [f for f in findings if f.status == Status.FAIL]
    out += ["## Findings", ""]
    if not failed:
        out += ["No open findings.", ""]
    for severity in SEVERITIES:
        group = [f for f in failed if f.severity == severity]
        if group:
            out += [f"### {severity.value.capitalize()} ({len(group)})", ""]
            out += table(
                ("Rule", "Owner", "Resource", "Message", "Fix"),
                ((f.rule_id, index.owner(f), resource_label(f), f.message, f.remediation) for f in group),
            )

    unknown = [f for f in findings if f.status == Status.UNKNOWN]
    if unknown:
        out += [f"## Could not be checked ({len(unknown)})", ""]
        out += table(
            ("Rule", "Severity", "Owner", "Resource", "Why"),
            ((f.rule_id, f.severity.value, index.owner(f), resource_label(f), f.message) for f in unknown),
        )

    passed = [f for f in findings if f.status == Status.PASS]
    if passed:
        out += [f"## Passed ({len(passed)})", ""]
        out += table(
            ("Rule", "Owner", "Resource", "Result"),
            ((f.rule_id, index.owner(f), resource_label(f), f.message) for f in passed),
        )

    out += _load_balancers(result)
    if result.other_gateways:
        out += ["## Gateways of other implementations (listed, not judged)", ""]
        out += table(
            ("Gateway", "Class", "Controller", "Addresses"),
            (
                (f"{g.namespace}/{g.name}", g.gateway_class, g.controller or "(no such class)", ", ".join(g.addresses))
                for g in result.other_gateways
            ),
        )
    return "\n".join(out).rstrip() + "\n"


def _changes(diff: RunDiff, index: OwnerIndex) -> list[str]:
    if diff.previous_run_at is None:
        return ["## What changed", "", f"First run of this target: {len(diff.new)} open finding(s).", ""]
    out = [
        f"## What changed since {timestamp(diff.previous_run_at)}",
        "",
        f"**{len(diff.new)} new**, **{len(diff.resolved)} resolved**, {diff.still_open} still open."
        + (f" **{len(diff.reopened)} reopened** (resolved before, failing again)." if diff.reopened else "")
        + (
            f" **{len(diff.not_rechecked)} not re-checked**: still open, this run could not check them."
            if diff.not_rechecked
            else ""
        ),
        "",
    ]
    groups = [("New", diff.new), ("Reopened", diff.reopened), ("Resolved", diff.resolved)]
    if diff.not_rechecked:
        groups.append(("Not re-checked, still open", diff.not_rechecked))
    for title, group in groups:
        if title == "Reopened" and not group:
            continue
        out += [f"### {title} ({len(group)})", ""]
        if not group:
            out += ["None.", ""]
            continue
        out += table(("Severity", "Rule", "Owner", "Resource", "Message"), _rows(group, index))
    return out


def _rows(findings: list[Finding], index: OwnerIndex) -> Iterable[tuple[str, ...]]:
    for f in findings:
        yield (f.severity.value, f.rule_id, index.owner(f), resource_label(f), f.message)


def _load_balancers(result: AuditResult) -> list[str]:
    lbs = sorted_load_balancers(result)
    out = [f"## Load balancers ({len(lbs)})", ""]
    if not lbs:
        return [*out, "No load balancers found.", ""]
    counts = lb_severity_counts(result)
    out += table(
        ("Owner", "Load balancer", "Type", "Scheme", "Region", "Monthly cost", "Open findings"),
        (
            (
                owner_label(lb),
                lb.name,
                lb.type,
                lb.scheme,
                lb.region,
                money(lb.monthly_cost_usd),
                severity_counts_phrase(counts[lb.arn]),
            )
            for lb in lbs
        ),
    )
    c = Counts.of(result)
    total = f"Known monthly cost: **{money(c.known_monthly_cost)}**"
    if c.cost_unknown:
        total += f" ({c.cost_unknown} load balancer(s) without a price)"
    if c.monthly_saving:
        total += f"; fixing the failed checks saves **{money(c.monthly_saving)}**/month"
    out += [total, ""]
    payers = who_pays(result)
    if payers:
        out += ["## Who pays", "", "Monthly cost per namespace (a shared ALB split by requests, else by rules).", ""]
        out += table(("Namespace", "Monthly cost"), ((namespace, money(usd)) for namespace, usd in payers))
    return out
