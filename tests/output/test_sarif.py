"""SARIF 2.1.0: the structure code-scanning tools require, level mapping, stable fingerprints."""

from __future__ import annotations

import json
from typing import Any

import pytest

from auditor.findings import AuditResult, Severity, Status
from auditor.output import render
from auditor.rules.base import RuleMeta
from tests.output.sample import WEB, WEB_ALB, WEB_LISTENER, audit_result, finding, findings

LEVELS = {"none", "note", "warning", "error"}
KINDS = {"notApplicable", "pass", "fail", "review", "open", "informational"}


@pytest.fixture
def no_catalog(monkeypatch):
    """Rules are written in parallel: make the catalog empty so descriptors come from findings."""
    monkeypatch.setattr("auditor.rules.registry.catalog", lambda: [])


def sarif(result: AuditResult | None = None, *, include_pass: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(result or audit_result(), "sarif", include_pass=include_pass))
    return doc


def check_structure(log: dict[str, Any]) -> dict[str, Any]:
    """What the SARIF 2.1.0 schema requires of the parts we write."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert len(log["runs"]) == 1
    run: dict[str, Any] = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "eks-exposure-auditor"
    assert driver["version"] and driver["informationUri"].startswith("https://")
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids))
    for rule in driver["rules"]:
        assert rule["name"] and rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in LEVELS
        assert 0.0 <= float(rule["properties"]["security-severity"]) <= 10.0
    for res in run["results"]:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in LEVELS and res["kind"] in KINDS
        assert isinstance(res["message"]["text"], str) and res["message"]["text"]
        assert all(isinstance(v, str) for v in res["partialFingerprints"].values())
        for loc in res.get("locations", []):
            for logical in loc["logicalLocations"]:
                assert logical["fullyQualifiedName"]
    for inv in run["invocations"]:
        assert isinstance(inv["executionSuccessful"], bool)
        assert inv["startTimeUtc"].endswith("Z")
    return run


def test_structure_and_level_mapping(no_catalog):
    run = check_structure(sarif())
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["EXP001"]["level"] == "error"  # critical
    assert by_rule["TLS001"]["level"] == "error"  # high
    assert by_rule["TLS002"]["level"] == "warning"  # medium
    assert by_rule["ORPH001"]["level"] == "note"  # low
    assert by_rule["INFO001"]["level"] == "note"  # info
    assert all(by_rule[r]["kind"] == "fail" for r in ("EXP001", "TLS001", "TLS002", "ORPH001", "INFO001"))
    descriptors = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert descriptors["EXP001"]["properties"]["security-severity"] == "9.5"
    assert descriptors["TLS002"]["defaultConfiguration"]["level"] == "warning"
    # a rule not in the catalog falls back to its finding's own text
    assert descriptors["EXP001"]["shortDescription"]["text"] == "Title of EXP001"
    assert "inbound-cidrs" in descriptors["EXP001"]["help"]["text"]


def test_unknown_is_review_and_pass_is_left_out(no_catalog):
    run = sarif()["runs"][0]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["WAF001"]["kind"] == "review"
    assert by_rule["WAF001"]["level"] == "none"
    assert by_rule["WAF001"]["message"]["text"].startswith("Could not be checked:")
    assert "TLS003" not in by_rule
    with_pass = {r["ruleId"]: r for r in sarif(include_pass=True)["runs"][0]["results"]}
    assert with_pass["TLS003"]["kind"] == "pass" and with_pass["TLS003"]["level"] == "none"


def test_fingerprints_are_the_findings_fingerprints(no_catalog):
    expected = {f.rule_id: f.fingerprint for f in findings()}
    for res in sarif()["runs"][0]["results"]:
        assert res["partialFingerprints"] == {"auditorFingerprint/v1": expected[res["ruleId"]]}


def test_locations_name_the_kubernetes_owner_and_the_arn(no_catalog):
    by_rule = {r["ruleId"]: r for r in sarif()["runs"][0]["results"]}
    names = [loc["fullyQualifiedName"] for loc in by_rule["EXP001"]["locations"][0]["logicalLocations"]]
    assert names == ["Ingress/shop/web", WEB_ALB]
    # listener finding without its own Kubernetes reference: owner of its load balancer
    names = [loc["fullyQualifiedName"] for loc in by_rule["TLS001"]["locations"][0]["logicalLocations"]]
    assert names == ["Ingress/shop/web", WEB_LISTENER]


def test_coverage_problem_is_an_execution_notification(no_catalog):
    inv = sarif()["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False  # partial run
    [note] = inv["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert "wafv2" in note["message"]["text"] and "AccessDeniedException" in note["message"]["text"]
    complete = audit_result(status="complete", coverage=[])
    assert sarif(complete)["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_catalog_rules_become_descriptors(monkeypatch):
    meta = RuleMeta(
        id="EXP001",
        title="Admin paths open to the internet",
        severity=Severity.CRITICAL,
        category="exposure",
        rationale="Admin endpoints reachable from anywhere invite brute force.",
        remediation="Restrict with alb.ingress.kubernetes.io/inbound-cidrs.",
        references=("https://kubernetes-sigs.github.io/aws-load-balancer-controller/",),
    )
    unused = RuleMeta(
        id="ZZZ999", title="Unused rule", severity=Severity.LOW, category="hygiene", rationale="r", remediation="x"
    )
    monkeypatch.setattr("auditor.rules.registry.catalog", lambda: [unused, meta])
    run = check_structure(sarif())
    descriptors = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert descriptors["EXP001"]["name"] == "AdminPathsOpenToTheInternet"
    assert descriptors["EXP001"]["fullDescription"]["text"] == meta.rationale
    assert descriptors["EXP001"]["helpUri"] == meta.references[0]
    assert descriptors["EXP001"]["properties"]["category"] == "exposure"
    assert "ZZZ999" in descriptors  # every known rule is described, even without results
    assert "TLS001" in descriptors  # rules not in the catalog still get a descriptor


def test_broken_catalog_does_not_break_the_report(monkeypatch, caplog):
    def boom():
        raise ImportError("rule module half-written")

    monkeypatch.setattr("auditor.rules.registry.catalog", boom)
    check_structure(sarif())
    assert "rule catalog unavailable" in caplog.text


def test_real_catalog_renders_valid_sarif():
    extra = finding("EXP001", Severity.HIGH, Status.FAIL, "x", kube=WEB)
    check_structure(sarif(audit_result(findings=[extra])))


def test_a_selection_other_than_the_default_audit_is_a_category_of_its_own():
    """Code scanning closes the alerts an upload of the same category no longer reports: a run of other rules (the
    opt-in ones, a --rules selection) must not close the default audit's alerts, nor its own be closed by them; the
    category is named by the selection as given, so a release that adds a rule does not change it."""

    def category(selection: str | None, rules: list[str] | None = None) -> str:
        result = audit_result().model_copy(update={"rules": rules, "selection": selection})
        run = check_structure(sarif(result))
        assert run["properties"]["selection"] == selection
        return str(run["automationDetails"]["id"]).rsplit("/", 1)[0]

    default = category(None)
    assert default == "eks-exposure-auditor/" + audit_result().target
    every_rule = category("rules=all")
    hardening = category("rules=hardening")
    assert len({default, every_rule, hardening}) == 3
    assert every_rule.startswith(default + "/rules-")
    assert category("rules=all", ["a"]) == category("rules=all", ["a", "b"]) == every_rule  # whatever it expands to
