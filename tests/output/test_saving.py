"""Savings of cost findings: named monthly_saving_usd in every output, summed once per resource."""

from __future__ import annotations

import csv
import io
import json

from auditor.findings import Severity, Status
from auditor.output import render
from tests.output.sample import API_NLB, ORPHAN_ALB, audit_result, finding


def _result():
    orphan = finding("orphaned-load-balancer", Severity.HIGH, Status.FAIL, "orphan", arn=ORPHAN_ALB)
    orphan.monthly_saving_usd = 18.4
    idle = finding("idle-load-balancer", Severity.LOW, Status.FAIL, "idle", arn=ORPHAN_ALB)
    idle.monthly_saving_usd = 18.4  # the same load balancer: deleted once, saved once
    own = finding("http-service-on-own-lb", Severity.LOW, Status.FAIL, "own NLB", arn=API_NLB)
    own.monthly_saving_usd = 23.95
    passed = finding("idle-load-balancer", Severity.LOW, Status.PASS, "busy", arn=API_NLB)
    return audit_result(findings=[orphan, idle, own, passed])


def test_summed_once_per_resource():
    assert _result().monthly_saving_usd() == 42.35  # 18.4 + 23.95, not 18.4 twice


def test_json_csv_sarif_and_table_name_it_a_saving():
    result = _result()
    doc = json.loads(render(result, "json"))
    report = doc
    assert report["summary"]["monthly_saving_usd"] == 42.35
    assert {f["rule_id"]: f["monthly_saving_usd"] for f in report["findings"] if f["status"] == "FAIL"} == {
        "orphaned-load-balancer": 18.4,
        "idle-load-balancer": 18.4,
        "http-service-on-own-lb": 23.95,
    }
    assert all("monthly_cost_usd" not in f for f in report["findings"])
    rows = list(csv.DictReader(io.StringIO(render(result, "csv"))))
    assert {r["monthly_saving_usd"] for r in rows} >= {"18.40", "23.95"}
    sarif = json.loads(render(result, "sarif"))
    savings = [r["properties"].get("monthlySavingUsd") for r in sarif["runs"][0]["results"]]
    assert 23.95 in savings
    assert "fixing the failed checks saves $42.35/month" in render(result, "table")
