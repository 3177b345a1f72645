"""diff_results: what a reader of "what changed since the last run" is told."""

from __future__ import annotations

from datetime import timedelta

from auditor.findings import AuditResult, Finding, Severity, Status
from auditor.output import diff_results
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
    assert diff.unchanged == 0
    assert diff.previous_run_at is None


def test_new_unchanged_and_resolved_by_pass():
    previous = run(OPEN_A, OPEN_B, days_ago=1)
    current = run(OPEN_A, with_status(OPEN_B, Status.PASS), OPEN_C)
    diff = diff_results(previous, current)
    assert fps(diff.new) == fps([OPEN_C])
    assert fps(diff.resolved) == fps([OPEN_B])
    assert diff.unchanged == 1
    assert diff.previous_run_at == previous.started_at


def test_absent_from_complete_run_is_resolved():
    diff = diff_results(run(OPEN_A, OPEN_B, days_ago=1), run(OPEN_A))
    assert fps(diff.resolved) == fps([OPEN_B])


def test_absent_from_partial_run_is_not_resolved():
    """The collector that would have produced it may have failed: silence is not a fix."""
    diff = diff_results(run(OPEN_A, OPEN_B, days_ago=1), run(OPEN_A, status="partial"))
    assert diff.resolved == []
    assert diff.new == []
    assert diff.unchanged == 1


def test_pass_in_partial_run_is_still_resolved():
    diff = diff_results(run(OPEN_B, days_ago=1), run(with_status(OPEN_B, Status.PASS), status="partial"))
    assert fps(diff.resolved) == fps([OPEN_B])


def test_unknown_now_is_neither_resolved_nor_open():
    diff = diff_results(run(OPEN_A, days_ago=1), run(with_status(OPEN_A, Status.UNKNOWN)))
    assert diff.resolved == []
    assert diff.new == []
    assert diff.unchanged == 0


def test_only_fail_counts_as_open_before():
    """A finding that was UNKNOWN or PASS last time and FAILs now is new."""
    previous = run(with_status(OPEN_A, Status.UNKNOWN), with_status(OPEN_B, Status.PASS), days_ago=1)
    diff = diff_results(previous, run(OPEN_A, OPEN_B))
    assert fps(diff.new) == fps([OPEN_A, OPEN_B])
    assert diff.resolved == []


def test_identity_is_the_fingerprint_not_the_message():
    reworded = OPEN_A.model_copy(update={"message": "reworded", "severity": Severity.HIGH})
    diff = diff_results(run(OPEN_A, days_ago=1), run(reworded))
    assert diff.new == [] and diff.resolved == [] and diff.unchanged == 1


def test_new_findings_are_listed_worst_first():
    diff = diff_results(run(days_ago=1), run(OPEN_C, OPEN_B, OPEN_A))
    assert [f.rule_id for f in diff.new] == ["EXP001", "TLS001", "ORPH001"]
