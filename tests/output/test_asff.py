"""ASFF: the documented required fields, Security Hub's own API model, statuses, stable ids, limits."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from auditor.errors import ConfigError
from auditor.findings import AuditResult, Severity, Status
from auditor.output import render
from auditor.output.asff import asff_findings, finding_id, resource_type
from auditor.rules.registry import catalog
from tests.output.sample import (
    ACCOUNT,
    API_NLB,
    REGION,
    WEB,
    WEB_ALB,
    WEB_LISTENER,
    audit_result,
    finding,
    findings,
)

# AWS Security Hub's required ASFF attributes
# (https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html).
REQUIRED = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "UpdatedAt",
    "Severity",
    "Title",
    "Description",
    "Resources",
)
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def asff(result: AuditResult | None = None, *, include_pass: bool = False) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = json.loads(render(result or audit_result(), "asff", include_pass=include_pass))
    return docs


def by_rule(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["ProductFields"]["eks-exposure-auditor/RuleId"]: d for d in docs}


def check_against_the_api_model(docs: list[dict[str, Any]]) -> None:
    """What boto3 itself would refuse before sending: types, required members, enum-shaped fields."""
    model = botocore.session.get_session().get_service_model("securityhub")
    shape = model.operation_model("BatchImportFindings").input_shape
    report = ParamValidator().validate({"Findings": docs}, shape)
    assert not report.has_errors(), report.generate_report()


def test_required_fields_and_the_api_model():
    docs = asff(include_pass=True)
    check_against_the_api_model(docs)
    for doc in docs:
        missing = [k for k in REQUIRED if not doc.get(k)]
        assert not missing, missing
        assert doc["SchemaVersion"] == "2018-10-08"
        assert doc["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
        assert doc["AwsAccountId"] == ACCOUNT
        assert ISO.match(doc["CreatedAt"]) and ISO.match(doc["UpdatedAt"])
        assert len(doc["Title"]) <= 256 and len(doc["Description"]) <= 1024
        namespaces = ("Software and Configuration Checks", "Effects")
        assert all(t.count("/") == 2 and t.split("/")[0] in namespaces for t in doc["Types"])
        assert doc["FindingProviderFields"] == {"Severity": doc["Severity"], "Types": doc["Types"]}
        assert all(isinstance(v, str) and v for v in doc["ProductFields"].values())


def test_statuses_fail_active_pass_archived_unknown_left_out():
    docs = by_rule(asff(include_pass=True))
    failed = docs["EXP001"]
    assert (failed["RecordState"], failed["Compliance"]["Status"], failed["Workflow"]["Status"]) == (
        "ACTIVE",
        "FAILED",
        "NEW",
    )
    assert failed["Severity"] == {"Label": "CRITICAL", "Original": "critical"}
    assert docs["INFO001"]["Severity"]["Label"] == "INFORMATIONAL"
    passed = docs["TLS003"]
    assert (passed["RecordState"], passed["Compliance"]["Status"], passed["Workflow"]["Status"]) == (
        "ARCHIVED",
        "PASSED",
        "RESOLVED",
    )
    assert "WAF001" not in docs  # UNKNOWN neither opens nor resolves a finding
    assert "TLS003" not in by_rule(asff())  # PASS only when asked


def test_resolved_findings_are_archived_under_their_old_id():
    old = finding("GONE", Severity.HIGH, Status.FAIL, "was broken", kube=WEB)
    docs = asff_findings(audit_result(), resolved=[old])
    (archived,) = [d for d in docs if d["RecordState"] == "ARCHIVED"]
    assert archived["Id"] == finding_id("prod", old) == f"eks-exposure-auditor/prod/{old.fingerprint}"
    assert archived["Compliance"]["Status"] == "PASSED"
    # a finding FAILing now wins over an older resolved copy of itself
    again = finding("EXP001", Severity.CRITICAL, Status.FAIL, "x", kube=WEB)
    doc = next(d for d in asff_findings(audit_result(), resolved=[again]) if d["Id"] == finding_id("prod", again))
    assert doc["RecordState"] == "ACTIVE"


def test_ids_are_stable_across_runs_and_created_at_comes_from_first_seen():
    first = by_rule(asff())
    june = datetime(2024, 6, 1, tzinfo=UTC)
    later = audit_result(started_at=june, finished_at=june.replace(minute=1))
    seen = {f.fingerprint: datetime(2024, 1, 1, tzinfo=UTC) for f in findings()}
    second = {d["GeneratorId"].split("/")[1]: d for d in asff_findings(later, first_seen=seen)}
    assert {r: d["Id"] for r, d in first.items()} == {r: d["Id"] for r, d in second.items()}
    assert second["EXP001"]["CreatedAt"] == "2024-01-01T00:00:00.000Z"
    assert second["EXP001"]["UpdatedAt"] == "2024-06-01T00:01:00.000Z"


def test_resources_and_remediation():
    docs = by_rule(asff())
    listener = docs["TLS001"]["Resources"]
    assert [(r["Type"], r["Id"]) for r in listener[:2]] == [("Other", WEB_LISTENER), ("AwsElbv2LoadBalancer", WEB_ALB)]
    assert listener[2]["Details"]["Other"] == {"Cluster": "prod", "Kind": "Ingress", "Namespace": "shop", "Name": "web"}
    assert all(r["Region"] == REGION for r in listener)
    assert docs["INFO001"]["Resources"][0]["Type"] == "AwsElbv2LoadBalancer"  # an NLB
    assert "Kubernetes owner: Ingress shop/web." in docs["TLS001"]["Description"]
    meta = next(m for m in catalog() if m.references and m.category == "cost")
    f = finding(meta.id, Severity.LOW, Status.FAIL, "x", arn=API_NLB, remediation="y" * 600)
    (doc,) = asff(audit_result(findings=[f]))
    assert doc["Remediation"]["Recommendation"]["Url"] == meta.references[0]
    assert len(doc["Remediation"]["Recommendation"]["Text"]) == 512
    assert doc["Types"] == [f"Effects/Resource Consumption/{meta.id}"]  # a cost finding is not a security one


def test_resource_types():
    assert resource_type(API_NLB) == "AwsElbv2LoadBalancer"
    assert resource_type("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/classic-one") == "AwsElbLoadBalancer"
    assert resource_type("arn:aws:acm:eu-west-1:1:certificate/abc") == "AwsCertificateManagerCertificate"
    assert resource_type("arn:aws:iam::1:role/lbc") == "AwsIamRole"
    assert resource_type("arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/tg/1") == "Other"
    assert resource_type("not-an-arn") == "Other"


def test_long_text_is_cut_to_the_limits():
    f = finding("LONG", Severity.HIGH, Status.FAIL, "m" * 5000, title="t" * 400)
    (doc,) = asff(audit_result(findings=[f]))
    check_against_the_api_model([doc])
    assert len(doc["Title"]) == 256 and len(doc["Description"]) == 1024 and doc["Description"].endswith("…")


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_every_string_matches_the_models_pattern_even_from_multi_line_cluster_text():
    """The model's ``.*\\S.*`` has no DOTALL: a line break anywhere would get the finding refused."""
    text = "value:\n  line two\r\nthree\u2028four\u0085five"
    f = finding("EXP009", Severity.HIGH, Status.FAIL, text, title="a\nb", kube=WEB, remediation="fix:\nkubectl x")
    (doc,) = asff(audit_result(findings=[f]))
    check_against_the_api_model([doc])
    pattern = re.compile(
        botocore.session.get_session().get_service_model("securityhub").shape_for("NonEmptyString").metadata["pattern"]
    )
    assert all(pattern.fullmatch(s) for s in strings(doc)), [s for s in strings(doc) if not pattern.fullmatch(s)]
    assert doc["Description"].startswith("value:   line two three four five")
    assert doc["Remediation"]["Recommendation"]["Text"] == "fix: kubectl x"
    blank = finding("EXP010", Severity.HIGH, Status.FAIL, "m", kube=WEB, remediation=" \n \r\n")
    (doc,) = asff(audit_result(findings=[blank]))
    assert "Remediation" not in doc and all(pattern.fullmatch(s) for s in strings(doc))


def test_a_kubernetes_only_finding_is_filed_where_the_audit_read_and_without_any_account_it_is_an_error():
    kube_only = finding("ctrl", Severity.HIGH, Status.FAIL, "no controller", arn=None)
    kube_only = kube_only.model_copy(update={"account": None, "region": None})
    (doc,) = asff(audit_result(findings=[kube_only]))
    assert doc["AwsAccountId"] == ACCOUNT and f":{REGION}:" in doc["ProductArn"]
    assert [r["Type"] for r in doc["Resources"]] == ["AwsEksCluster"]  # the cluster itself: at least one resource
    check_against_the_api_model([doc])
    no_aws = audit_result(findings=[kube_only], load_balancers=[], coverage=[])
    with pytest.raises(ConfigError, match="needs an AWS account"):
        render(no_aws, "asff")
