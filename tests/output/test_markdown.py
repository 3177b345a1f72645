"""Markdown report: headline, what changed, missing data, findings tables that survive hostile text."""

from __future__ import annotations

import re
from datetime import timedelta

from markdown_it import MarkdownIt  # a dependency of rich: CommonMark with GFM tables and strikethrough

from auditor.findings import AuditResult, Status
from auditor.output import diff_results, render
from auditor.output.markdown import cell
from tests.output.sample import HOSTILE_ANNOTATION, STARTED, audit_result, findings

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def previous_and_current() -> tuple[AuditResult, AuditResult]:
    fixed = findings()[0].model_copy(update={"rule_id": "OLD001", "message": "An old problem, now fixed."})
    previous = audit_result(
        findings=[*findings()[1:], fixed],
        started_at=STARTED - timedelta(days=1),
        finished_at=STARTED - timedelta(days=1, seconds=-30),
        status="complete",
    )
    current = audit_result(status="complete")
    return previous, current


def section(md: str, heading: str) -> str:
    start = md.index(heading)
    nxt = md.find("\n## ", start + 1)
    return md[start : nxt if nxt != -1 else None]


def test_diff_section_lists_new_and_resolved():
    previous, current = previous_and_current()
    md = render(current, "markdown", diff=diff_results(previous, current))
    changes = section(md, "## What changed since 2024-04-30 12:00 UTC")
    assert "**1 new**, **1 resolved**, 4 still open." in changes
    new = changes[changes.index("### New (1)") : changes.index("### Resolved (1)")]
    assert "EXP001" in new and "Admin paths of Ingress shop/web are reachable from 0.0.0.0/0." in new
    resolved = changes[changes.index("### Resolved (1)") :]
    assert "OLD001" in resolved and "An old problem, now fixed." in resolved


def test_first_run_says_so():
    md = render(audit_result(), "markdown", diff=diff_results(None, audit_result()))
    assert "First run of this target: 5 open finding(s)." in md


def test_no_diff_section_without_diff():
    assert "What changed" not in render(audit_result(), "markdown")


def test_coverage_problems_are_listed():
    md = render(audit_result(), "markdown")
    missing = section(md, "## ⚠️ Data missing: 1 collector(s) or rule(s) incomplete")
    assert "| aws | wafv2 | 123456789012 | eu-west-1 | error | AccessDeniedException |" in missing


def test_every_table_row_has_its_columns_despite_pipes_in_data():
    md = render(audit_result(), "markdown", include_pass=True)
    rows = [line for line in md.splitlines() if line.startswith("|")]
    assert rows
    table_widths = {}
    for line in md.split("\n\n"):
        lines = [row for row in line.splitlines() if row.startswith("|")]
        if lines:
            widths = {len(UNESCAPED_PIPE.findall(row)) for row in lines}
            assert len(widths) == 1, lines
            table_widths[lines[0]] = widths.pop()
    hostile = next(line for line in rows if "TLS002" in line)
    assert "\\|" in hostile  # the pipe in the message is escaped
    assert "<script>" not in md
    assert "&lt;script&gt;" in hostile


def test_findings_tables_by_severity_with_fix():
    md = render(audit_result(), "markdown")
    findings_part = section(md, "## Findings")
    order = [findings_part.index(f"### {name} (1)") for name in ("Critical", "High", "Medium", "Low", "Info")]
    assert order == sorted(order)
    assert "| Rule | Owner | Resource | Message | Fix |" in findings_part
    row = next(line for line in findings_part.splitlines() if line.startswith("| EXP001"))
    assert "Ingress shop/web" in row and "alb.ingress.kubernetes.io/inbound-cidrs: 10.0.0.0/8" in row
    assert "could not be checked" not in findings_part.lower()
    assert "WAF001" in section(md, "## Could not be checked (1)")
    # the annotation with quotes and backslashes is shown literally (backslash escaped for Markdown)
    assert HOSTILE_ANNOTATION.replace("\\", "\\\\") in md


def test_load_balancers_with_cost():
    md = render(audit_result(), "markdown")
    lbs = section(md, "## Load balancers (3)")
    row = next(line for line in lbs.splitlines() if "k8s-shop-web-1a2b3c4d5e" in line)
    assert "$22.51" in row and "Ingress shop/web" in row and "1 critical, 1 high, 1 medium" in row
    assert "Known monthly cost: **$40.91** (1 load balancer(s) without a price)" in lbs


def test_pass_only_when_asked():
    assert "## Passed" not in render(audit_result(), "markdown")
    assert "## Passed (1)" in render(audit_result(), "markdown", include_pass=True)
    assert all(f.status != Status.PASS or f.rule_id == "TLS003" for f in findings())


def test_cluster_text_renders_as_written_in_a_gfm_table():
    """Rendered as GitHub renders a table (markdown-it with GFM tables and strikethrough): no link, image, HTML,
    emphasis, code or strikethrough comes out of an annotation value."""
    hostile = "[x](javascript:alert(1)) ![](http://tracker/p.png) <img src=x> *em* `c` ~~struck~~ ~one~ a\\|b"
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(f"| a |\n| --- |\n| {cell(hostile)} |\n")
    assert not re.search(r"<(a|img|em|strong|code|s|del)\b", html), html
    assert "~~struck~~ ~one~" in html
