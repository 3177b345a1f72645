"""diff_results: what a reader of "what changed since the last run" is told."""

from __future__ import annotations

import re
from datetime import timedelta

from auditor.findings import AuditResult, Finding, Severity, Status
from auditor.lifecycle import replay
from auditor.output import diff_results, render
from tests.output.sample import ORPHAN_ALB, STARTED, WEB, audit_result, finding

OPEN_A = finding("EXP001", Severity.CRITICAL, Status.FAIL, "a", kube=WEB)
OPEN_B = finding("TLS001", Severity.HIGH, Status.FAIL, "b", discriminator="80")
OPEN_C = finding("ORPH001", Severity.LOW, Status.FAIL, "c", arn=ORPHAN_ALB)


def run(*findings: Finding, status: str = "complete", days_ago: int = 0) -> AuditResult:
    start = STARTED - timedelta(days=days_ago)
    return audit_result(
        findings=list(findings), status=status, started_at=start, finished_at=start + timedelta(seconds=5)
    )


def with_status(f: Finding, status: Status) -> Finding:
    return f.model_copy(update={"status": status})


def fps(findings: list[Finding]) -> list[str]:
    return sorted(f.fingerprint for f in findings)


def test_first_run_reports_every_open_finding_as_new():
    current = run(OPEN_A, OPEN_B, with_status(OPEN_C, Status.PASS))
    diff = diff_results(None, current)
    assert fps(diff.new) == fps([OPEN_A, OPEN_B])
    assert diff.resolved == []
    assert diff.still_open == 0
    assert diff.previous_run_at is None


def test_new_unchanged_and_resolved_by_pass():
    previous = run(OPEN_A, OPEN_B, days_ago=1)
    current = run(OPEN_A, with_status(OPEN_B, Status.PASS), OPEN_C)
    diff = diff_results(previous, current)
    assert fps(diff.new) == fps([OPEN_C])
    assert fps(diff.resolved) == fps([OPEN_B])
    assert diff.still_open == 1
    assert diff.previous_run_at == previous.started_at


def test_absent_from_complete_run_is_resolved():
    diff = diff_results(run(OPEN_A, OPEN_B, days_ago=1), run(OPEN_A))
    assert fps(diff.resolved) == fps([OPEN_B])


def test_absent_from_partial_run_is_not_resolved():
    """The collector that would have produced it may have failed: silence is not a fix."""
    diff = diff_results(run(OPEN_A, OPEN_B, days_ago=1), run(OPEN_A, status="partial"))
    assert diff.resolved == []
    assert diff.new == []
    assert diff.still_open == 1


def test_pass_in_partial_run_is_still_resolved():
    diff = diff_results(run(OPEN_B, days_ago=1), run(with_status(OPEN_B, Status.PASS), status="partial"))
    assert fps(diff.resolved) == fps([OPEN_B])


def test_unknown_now_is_not_rechecked_and_still_open():
    """UNKNOWN neither resolves nor opens: the open finding stays open, listed with why it was not checked."""
    unknown = with_status(OPEN_A, Status.UNKNOWN)
    diff = diff_results(run(OPEN_A, days_ago=1), run(unknown))
    assert diff.resolved == []
    assert diff.new == []
    assert diff.still_open == 0
    assert diff.not_rechecked == [unknown]
    assert diff.open == 1


def test_absent_from_partial_run_is_not_rechecked():
    diff = diff_results(run(OPEN_A, OPEN_B, days_ago=1), run(OPEN_A, status="partial"))
    assert diff.not_rechecked == [OPEN_B]  # as it was last reported
    assert diff.open == 2


def test_unknown_or_pass_first_then_fail_is_new():
    """A finding that was only UNKNOWN or PASS before was never open: FAIL now makes it new."""
    previous = run(with_status(OPEN_A, Status.UNKNOWN), with_status(OPEN_B, Status.PASS), days_ago=1)
    diff = diff_results(previous, run(OPEN_A, OPEN_B))
    assert fps(diff.new) == fps([OPEN_A, OPEN_B])
    assert diff.resolved == [] and diff.not_rechecked == []


def test_unknown_first_is_not_a_finding():
    diff = diff_results(None, run(with_status(OPEN_A, Status.UNKNOWN)))
    assert diff.new == [] and diff.not_rechecked == [] and diff.open == 0


def test_fail_unknown_fail_was_open_all_along():
    """With the history (``before``), the FAIL after an UNKNOWN is the same open finding, not a new one."""
    first, second = run(OPEN_A, days_ago=2), run(with_status(OPEN_A, Status.UNKNOWN), days_ago=1)
    diff = diff_results(second, run(OPEN_A), before=replay([first, second]))
    assert diff.new == [] and diff.reopened == []
    assert diff.still_open == 1


def test_fail_pass_fail_is_reopened():
    first, second = run(OPEN_A, days_ago=2), run(with_status(OPEN_A, Status.PASS), days_ago=1)
    diff = diff_results(second, run(OPEN_A), before=replay([first, second]))
    assert diff.new == [] and diff.reopened == [OPEN_A]


def test_open_finding_missing_since_a_partial_run_resolves_in_a_complete_one():
    first, second = run(OPEN_A, OPEN_B, days_ago=2), run(OPEN_A, status="partial", days_ago=1)
    diff = diff_results(second, run(OPEN_A), before=replay([first, second]))
    assert diff.resolved == [OPEN_B]  # listed as it last failed, two runs ago
    assert diff.still_open == 1


def test_identity_is_the_fingerprint_not_the_message():
    reworded = OPEN_A.model_copy(update={"message": "reworded", "severity": Severity.HIGH})
    diff = diff_results(run(OPEN_A, days_ago=1), run(reworded))
    assert diff.new == [] and diff.resolved == [] and diff.still_open == 1


def test_new_findings_are_listed_worst_first():
    diff = diff_results(run(days_ago=1), run(OPEN_C, OPEN_B, OPEN_A))
    assert [f.rule_id for f in diff.new] == ["EXP001", "TLS001", "ORPH001"]


def test_markdown_and_html_show_reopened_and_not_rechecked():
    first = run(OPEN_A, OPEN_B, days_ago=2)
    second = run(with_status(OPEN_A, Status.PASS), OPEN_B, days_ago=1)
    current = run(OPEN_A, with_status(OPEN_B, Status.UNKNOWN))
    diff = diff_results(second, current, before=replay([first, second]))
    assert (fps(diff.reopened), fps(diff.not_rechecked)) == (fps([OPEN_A]), fps([OPEN_B]))

    md = render(current, "markdown", diff=diff)
    assert (
        "**0 new**, **0 resolved**, 0 still open. **1 reopened** (resolved before, failing again). "
        "**1 not re-checked**: still open, this run could not check them."
    ) in md
    reopened = md[md.index("### Reopened (1)") : md.index("### Resolved (0)")]
    assert "EXP001" in reopened
    assert "TLS001" in md[md.index("### Not re-checked, still open (1)") :]

    html = render(current, "html", diff=diff)
    changes = html[html.index('id="changes"') : html.index('id="findings"')]
    text = " ".join(re.sub(r"<[^>]+>", " ", changes).split())
    assert "1 reopened (resolved before, failing again)" in text
    assert "1 not re-checked : still open, this run could not check them." in text
    assert 'class="nowrap change-reopened">reopened<' in changes
    assert 'class="nowrap change-not-re-checked">not re-checked<' in changes
