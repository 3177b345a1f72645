"""JSON output: AuditResult.as_json() ordered, PASS excluded by default, with a summary."""

from __future__ import annotations

import json
import random

from auditor.findings import AuditResult
from auditor.output import diff_results, render
from tests.output.sample import API_NLB, WEB_ALB, audit_result, findings


def test_json_has_the_documented_shape():
    doc = json.loads(render(audit_result(), "json"))
    assert {"target", "cluster_name", "started_at", "load_balancers", "findings", "coverage", "summary"} <= set(doc)
    web = next(lb for lb in doc["load_balancers"] if lb["arn"] == WEB_ALB)
    assert {"arn", "name", "type", "scheme", "dns_name", "region", "owner", "listeners"} <= set(web)
    assert web["owner"] == {"kind": "Ingress", "namespace": "shop", "name": "web"}
    assert [lst["port"] for lst in web["listeners"]] == [80, 443]
    for f in doc["findings"]:
        keys = {"rule_id", "severity", "status", "resource_arn", "kubernetes", "evidence", "remediation", "fingerprint"}
        assert keys <= set(f)
    wafv2 = next(c for c in doc["coverage"] if c["collector"] == "wafv2")
    assert wafv2["status"] == "error"
    assert wafv2["error_code"] == "AccessDeniedException"


def test_pass_findings_are_dropped_by_default_and_counted_in_summary():
    result = audit_result()
    doc = json.loads(render(result, "json"))
    assert {f["status"] for f in doc["findings"]} == {"FAIL", "UNKNOWN"}
    assert doc["summary"]["pass_included"] is False
    assert doc["summary"]["by_status"] == {"FAIL": 5, "PASS": 1, "UNKNOWN": 1}
    assert doc["summary"]["failed_by_severity"] == {"critical": 1, "high": 1, "medium": 1, "low": 1, "info": 1}
    assert doc["summary"]["findings_listed"] == 6
    assert doc["summary"]["coverage_problems"] == 1

    with_pass = json.loads(render(result, "json", include_pass=True))
    assert "PASS" in {f["status"] for f in with_pass["findings"]}
    assert with_pass["summary"]["findings_listed"] == 7


def test_findings_are_ordered_worst_first_then_rule_then_resource():
    doc = json.loads(render(audit_result(), "json"))
    ranks = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
    keys = [(-ranks[f["severity"]], f["rule_id"], f["resource_arn"]) for f in doc["findings"]]
    assert keys == sorted(keys)
    assert doc["findings"][0]["rule_id"] == "EXP001"


def test_output_does_not_depend_on_input_order():
    result = audit_result()
    shuffled = list(result.findings)
    random.Random(7).shuffle(shuffled)
    lbs = list(reversed(result.load_balancers))
    other = result.model_copy(update={"findings": shuffled, "load_balancers": lbs, "coverage": result.coverage[::-1]})
    assert render(result, "json") == render(other, "json")


def test_json_reads_back_as_an_audit_result():
    result = audit_result()
    back = AuditResult.model_validate(json.loads(render(result, "json", include_pass=True)))
    assert sorted(f.fingerprint for f in back.findings) == sorted(f.fingerprint for f in result.findings)
    assert next(lb for lb in back.load_balancers if lb.arn == API_NLB).monthly_cost_usd is None


def test_changes_are_included_when_a_diff_is_given():
    previous = audit_result(findings=findings()[1:])
    current = audit_result()
    doc = json.loads(render(current, "json", diff=diff_results(previous, current)))
    assert [f["rule_id"] for f in doc["changes"]["new"]] == ["EXP001"]
    assert doc["changes"]["resolved"] == []
    assert doc["changes"]["previous_run_at"].startswith("2024-05-01T12:00")
