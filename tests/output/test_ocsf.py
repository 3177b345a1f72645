"""OCSF: every line a Detection Finding the OCSF models (py-ocsf-models) accept with nothing unknown in it."""

from __future__ import annotations

import json
from typing import Any

import py_ocsf_models
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from auditor.findings import AuditResult, Severity, Status
from auditor.output import render
from auditor.rules.registry import catalog
from tests.output.sample import (
    ACCOUNT,
    REGION,
    WEB,
    WEB_ALB,
    WEB_LISTENER,
    audit_result,
    finding,
    findings,
)


def events(result: AuditResult | None = None, *, include_pass: bool = False) -> list[dict[str, Any]]:
    text = render(result or audit_result(), "ocsf", include_pass=include_pass)
    assert text.endswith("\n") and "\n\n" not in text  # JSON lines: one object per line, no blank line
    lines = text.splitlines()
    return [json.loads(line) for line in lines]


def validated(event: dict[str, Any]) -> DetectionFinding:
    """The OCSF model accepts the event, and dumping it back gives the event again: no field of ours is one the
    schema does not have (pydantic would drop it silently), none has a value of the wrong type."""
    model = DetectionFinding.model_validate(event)
    assert model.model_dump(mode="json", exclude_none=True) == event
    return model


def by_rule(evs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["metadata"]["event_code"]: e for e in evs}


def test_every_line_is_a_valid_detection_finding():
    evs = events(include_pass=True)
    assert len(evs) == len(findings())  # one event per finding, PASS included when asked
    for event in evs:
        model = validated(event)
        assert model.class_uid == 2004 and model.category_uid == 2
        assert model.type_uid == 2004 * 100 + model.activity_id
        assert model.metadata.version == py_ocsf_models.OCSF_VERSION
        assert model.finding_info.uid and model.finding_info.title
        assert model.cloud is not None and model.cloud.provider == "AWS"


def test_statuses_and_severities():
    evs = by_rule(events(include_pass=True))
    failed = evs["EXP001"]
    assert (failed["status_id"], failed["status_code"], failed["activity_id"]) == (1, "FAIL", 1)
    assert (failed["severity_id"], failed["severity"]) == (5, "Critical")
    assert evs["INFO001"]["severity_id"] == 1 and evs["ORPH001"]["severity_id"] == 2
    passed = evs["TLS003"]
    assert (passed["status_id"], passed["status_code"], passed["activity_id"], passed["type_uid"]) == (
        4,
        "PASS",
        3,
        200403,
    )
    unknown = evs["WAF001"]  # whether there is a problem is not known: severity Unknown, the rule's kept aside
    assert (unknown["status_id"], unknown["status"], unknown["status_code"]) == (99, "Not checked", "UNKNOWN")
    assert unknown["severity_id"] == 0 and unknown["unmapped"]["rule_severity"] == "high"
    assert "TLS003" not in by_rule(events())  # PASS only when asked, like every format


def test_resources_name_the_load_balancer_the_owner_and_the_account():
    evs = by_rule(events())
    listener = evs["TLS001"]
    uids = [r["uid"] for r in listener["resources"]]
    assert uids[:2] == [WEB_LISTENER, WEB_ALB]  # the listener, then the load balancer it belongs to
    assert listener["resources"][1]["type"] == "AwsElbv2LoadBalancer"
    owner = listener["resources"][2]
    assert (owner["type"], owner["namespace"], owner["name"]) == ("Ingress", "shop", "web")
    assert listener["cloud"]["account"]["uid"] == ACCOUNT and listener["cloud"]["region"] == REGION
    assert all(r.get("region") == REGION for r in listener["resources"])


def test_finding_uid_is_stable_and_per_target():
    first = by_rule(events())["EXP001"]["finding_info"]["uid"]
    again = by_rule(events(audit_result(started_at=audit_result().started_at.replace(day=2))))["EXP001"]
    assert again["finding_info"]["uid"] == first
    other = by_rule(events(audit_result(target="staging")))["EXP001"]["finding_info"]["uid"]
    assert other != first and other.startswith("staging/")


def test_remediation_carries_the_rules_references():
    meta = next(m for m in catalog() if m.references)
    f = finding(meta.id, Severity.HIGH, Status.FAIL, "broken", kube=WEB, remediation=meta.remediation)
    (event,) = events(audit_result(findings=[f]))
    validated(event)
    assert event["remediation"] == {"desc": meta.remediation, "references": list(meta.references)}
    assert event["finding_info"]["types"] == [meta.category, meta.id]


def test_no_findings_is_no_line_and_a_kubernetes_only_finding_uses_the_audits_account():
    assert render(audit_result(findings=[]), "ocsf") == ""
    kube_only = finding("ctrl", Severity.HIGH, Status.FAIL, "no controller", arn=None, kube=WEB)
    kube_only = kube_only.model_copy(update={"account": None, "region": None})
    (event,) = events(audit_result(findings=[kube_only]))
    validated(event)
    assert event["cloud"]["account"]["uid"] == ACCOUNT and event["cloud"]["region"] == REGION
    assert [r["type"] for r in event["resources"]] == ["Ingress"]
