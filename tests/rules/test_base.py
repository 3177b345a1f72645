"""RuleMeta.finding builds findings without validation: they must be the findings validation would build."""

from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.rules.base import RuleMeta

META = RuleMeta(
    id="some-rule",
    title="Some rule",
    severity=Severity.MEDIUM,
    category="hygiene",
    rationale="Because.",
    remediation="Fix it.",
)
REF = KubeRef(kind="Service", namespace="shop", name="api")


def test_a_finding_equals_the_validated_one_with_the_rules_defaults():
    f = META.finding(Status.FAIL, "Broken.", resource_arn="arn:x", kubernetes=REF, evidence={"port": 22})
    expected = Finding(
        rule_id="some-rule",
        title="Some rule",
        severity=Severity.MEDIUM,
        status=Status.FAIL,
        message="Broken.",
        resource_arn="arn:x",
        kubernetes=REF,
        evidence={"port": 22},
        remediation="Fix it.",
    )
    assert f == expected
    assert f.model_dump() == expected.model_dump()
    assert list(f.__dict__) == list(Finding.model_fields)  # every field, in declaration order
    Finding.model_validate(dict(f), strict=True)


def test_severity_and_remediation_can_be_overridden():
    f = META.finding(Status.FAIL, "Worse.", severity=Severity.CRITICAL, remediation="Do this.")
    assert f.severity == Severity.CRITICAL and f.remediation == "Do this."
    assert META.finding(Status.PASS, "Fine.").severity == Severity.MEDIUM


def test_each_finding_gets_its_own_evidence_and_copies_leave_the_others_alone():
    a, b = META.finding(Status.PASS, "A."), META.finding(Status.PASS, "B.")
    assert a.evidence == {} and a.evidence is not b.evidence
    a.evidence["x"] = 1
    assert b.evidence == {}
    changed = a.model_copy(update={"message": "A2."})
    a.discriminator = "d"  # pydantic records assignments in the (shared) fields set: it holds every field already
    assert changed.message == "A2." and a.message == "A." and b.discriminator == ""
    assert b.model_fields_set == set(Finding.model_fields)
