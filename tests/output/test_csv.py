"""CSV: one row per finding that survives quoting, and never runs as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
import re

from auditor.findings import Severity, Status
from auditor.output import diff_results, render
from auditor.output.csv_report import COLUMNS
from tests.output.sample import API_NLB, HOSTILE_ANNOTATION, HOSTILE_MESSAGE, WEB, audit_result, finding, findings


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_round_trips_through_dictreader():
    multi_line = finding("EXP002", Severity.HIGH, Status.FAIL, 'line one, "quoted"\nline two', kube=WEB)
    result = audit_result(findings=[*findings(), multi_line])
    got = rows(render(result, "csv"))
    assert list(got[0]) == list(COLUMNS)
    assert list(COLUMNS[:13]) == [
        "rule_id", "severity", "status", "target", "cluster", "namespace", "kind", "name",
        "resource_arn", "region", "message", "remediation", "fingerprint",
    ]  # fmt: skip
    expected = {f.fingerprint: f for f in result.findings if f.status != Status.PASS}
    assert {r["fingerprint"] for r in got} == set(expected)
    for row in got:
        f = expected[row["fingerprint"]]
        assert (row["rule_id"], row["severity"], row["status"]) == (f.rule_id, f.severity.value, f.status.value)
        assert row["message"] == f.message
        assert row["remediation"] == f.remediation
        assert row["resource_arn"] == (f.resource_arn or "")
        assert row["target"] == "prod" and row["cluster"] == "prod" and row["region"] == "eu-west-1"
    by_rule = {r["rule_id"]: r for r in got}
    assert by_rule["EXP002"]["message"] == 'line one, "quoted"\nline two'
    assert by_rule["TLS002"]["message"] == HOSTILE_MESSAGE
    assert by_rule["TLS002"]["remediation"] == HOSTILE_ANNOTATION
    assert (by_rule["EXP001"]["namespace"], by_rule["EXP001"]["kind"], by_rule["EXP001"]["name"]) == (
        "shop",
        "Ingress",
        "web",
    )
    # no Kubernetes reference on the finding: the owner of its load balancer fills the columns
    assert (by_rule["TLS001"]["kind"], by_rule["TLS001"]["name"]) == ("Ingress", "web")
    assert by_rule["INFO001"]["resource_arn"] == API_NLB


def test_rows_follow_report_order_and_pass_is_optional():
    got = rows(render(audit_result(), "csv"))
    assert [r["rule_id"] for r in got] == ["EXP001", "TLS001", "WAF001", "TLS002", "ORPH001", "INFO001"]
    assert "TLS003" in {r["rule_id"] for r in rows(render(audit_result(), "csv", include_pass=True))}


def test_formulas_are_neutralized():
    evil = finding("EXP003", Severity.HIGH, Status.FAIL, '=HYPERLINK("http://evil","click")', kube=WEB)
    got = {r["rule_id"]: r for r in rows(render(audit_result(findings=[evil]), "csv"))}
    assert got["EXP003"]["message"] == '\'=HYPERLINK("http://evil","click")'


def test_formulas_inside_a_value_are_neutralized_for_other_separators():
    """Excel opening the file with ";" as its list separator starts a cell after each ";" (and line break)."""
    text = "ports a;=cmd|' /C calc'!A0 b;-2+3\n@SUM(A1) c; =1 d,=2"
    evil = finding("EXP003", Severity.HIGH, Status.FAIL, text, kube=WEB)
    got = {r["rule_id"]: r for r in rows(render(audit_result(findings=[evil]), "csv"))}
    assert got["EXP003"]["message"] == "ports a;'=cmd|' /C calc'!A0 b;'-2+3\n'@SUM(A1) c; =1 d,=2"
    for line in render(audit_result(findings=[evil]), "csv").splitlines():
        for cell in re.split(r"[;\n]", line):
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_change_column_with_diff():
    previous = audit_result(findings=findings()[1:])
    current = audit_result()
    got = {r["rule_id"]: r["change"] for r in rows(render(current, "csv", diff=diff_results(previous, current)))}
    assert got["EXP001"] == "new"
    assert got["TLS001"] == "unchanged"
    assert got["WAF001"] == ""
    assert {r["change"] for r in rows(render(current, "csv"))} == {""}
