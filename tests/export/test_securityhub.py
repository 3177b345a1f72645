"""The Security Hub export against moto's Security Hub over HTTP: batches of ≤ 100, archiving, denials, outages.

Calls are counted where they arrive, in moto's Security Hub backend (the server runs in this process), not by the
client that sends them.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from auditor.collect.aws.session import DENIED_CODES, CallCounter
from auditor.collect.permissions import securityhub_export_policy
from auditor.config import AccountConfig, AwsSettings, Settings
from auditor.demo.motoserver import MotoServer, free_port
from auditor.export import securityhub as sh
from auditor.export.securityhub import IAM_ACTIONS, batches, export_findings
from auditor.findings import AuditResult, Finding, KubeRef, Severity, Status
from auditor.inventory.models import CoverageStatus
from auditor.output.asff import finding_id
from tests.store.results import finding, result

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
SETTINGS = Settings(aws=AwsSettings(max_attempts=1))
READONLY = json.loads((Path(__file__).resolve().parents[2] / "iam/auditor-readonly.json").read_text("utf-8"))


@pytest.fixture
def imported(aws: MotoServer, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many findings each BatchImportFindings call that reached moto carried."""
    from moto.securityhub.models import SecurityHubBackend

    sizes: list[int] = []
    original = SecurityHubBackend.batch_import_findings

    def counting(self: Any, findings: list[dict[str, Any]]) -> Any:
        sizes.append(len(findings))
        return original(self, findings)

    monkeypatch.setattr(SecurityHubBackend, "batch_import_findings", counting)
    return sizes


def hub_findings(region: str = REGION) -> dict[str, dict[str, Any]]:
    client = boto3.client("securityhub", region_name=region)
    found: dict[str, dict[str, Any]] = {}
    token: str | None = None
    while True:
        page = client.get_findings(MaxResults=100, **({"NextToken": token} if token else {}))
        found.update({f["Id"]: f for f in page["Findings"]})
        token = page.get("NextToken")
        if not token:
            return found


def many(n: int, *, region: str = REGION, account: str = ACCOUNT) -> list[Finding]:
    return [
        finding(
            f"rule-{i % 7}", arn=f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/lb-{i}/{i}"
        ).model_copy(update={"region": region, "account": account})
        for i in range(n)
    ]


def test_findings_go_in_calls_of_at_most_100(imported: list[int]):
    res = result(many(250))
    counter = CallCounter()
    outcome = export_findings(res, SETTINGS, counter=counter)
    assert imported == [100, 100, 50]
    assert (outcome.active, outcome.archived, outcome.failed, outcome.calls) == (250, 0, 0, 3)
    assert outcome.complete and [c.status for c in outcome.coverage] == [CoverageStatus.OK]
    stored = hub_findings()
    assert set(stored) == {finding_id("prod", f) for f in res.findings}
    assert {(f["RecordState"], f["Compliance"]["Status"]) for f in stored.values()} == {("ACTIVE", "FAILED")}
    # every call made is declared (the export's policy, or the read-only one for the account lookup)
    assert set(counter.snapshot()) <= set(IAM_ACTIONS) | {"sts:GetCallerIdentity"}
    assert counter.snapshot()["securityhub:BatchImportFindings"] == 3


def test_findings_resolved_since_the_last_run_are_archived(imported: list[int]):
    kept, fixed = many(2)
    export_findings(result([kept, fixed]), SETTINGS)
    outcome = export_findings(result([kept], n=1), SETTINGS, resolved=[fixed])
    assert (outcome.active, outcome.archived) == (1, 1)
    stored = hub_findings()
    archived = stored[finding_id("prod", fixed)]
    assert (archived["RecordState"], archived["Compliance"]["Status"]) == ("ARCHIVED", "PASSED")
    assert stored[finding_id("prod", kept)]["RecordState"] == "ACTIVE"
    assert imported == [2, 2]


def test_each_region_gets_its_own_findings(imported: list[int]):
    res = result([*many(3), *many(2, region="us-east-1")])
    outcome = export_findings(res, SETTINGS)
    assert outcome.complete and sorted(c.region or "" for c in outcome.coverage) == ["eu-west-1", "us-east-1"]
    assert len(hub_findings()) == 3 and len(hub_findings("us-east-1")) == 2
    assert all(":us-east-1:" in f["ProductArn"] for f in hub_findings("us-east-1").values())


def test_findings_of_an_account_without_credentials_are_reported_not_sent(imported: list[int], caplog):
    res = result([*many(2), *many(3, account="111122223333")])
    with caplog.at_level(logging.ERROR, logger="auditor.export.securityhub"):
        outcome = export_findings(res, SETTINGS)
    assert (outcome.active, outcome.failed) == (2, 3) and not outcome.complete
    missing = next(c for c in outcome.coverage if c.account == "111122223333")
    assert (missing.status, missing.error_code) == (CoverageStatus.ERROR, "NoCredentials")
    assert "111122223333" in caplog.text and "no credentials" in caplog.text
    assert "111122223333" in outcome.summary()


def test_findings_security_hub_refuses_one_by_one_are_counted(imported: list[int], monkeypatch):
    from moto.securityhub.models import SecurityHubBackend

    original = SecurityHubBackend.batch_import_findings

    def refuse_some(self: Any, findings: list[dict[str, Any]]) -> Any:
        failed, ok, failures = original(self, findings[1:])
        return failed + 1, ok, [*failures, {"Id": findings[0]["Id"], "ErrorCode": "InvalidInput", "ErrorMessage": "no"}]

    monkeypatch.setattr(SecurityHubBackend, "batch_import_findings", refuse_some)
    outcome = export_findings(result(many(3)), SETTINGS)
    assert (outcome.active, outcome.failed) == (2, 1)
    (cov,) = outcome.coverage
    assert (cov.status, cov.error_code) == (CoverageStatus.PARTIAL, "FailedFindings")
    assert "InvalidInput" in (cov.message or "")


def test_an_unreachable_endpoint_is_recorded_not_raised(aws: MotoServer, monkeypatch, caplog):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    settings = Settings(aws=AwsSettings(max_attempts=1, connect_timeout=1, read_timeout=1))
    with caplog.at_level(logging.ERROR, logger="auditor.export.securityhub"):
        outcome = export_findings(result(many(2)), settings)
    assert not outcome.complete and outcome.active == 0 and outcome.failed == 2
    assert outcome.coverage[0].status == CoverageStatus.ERROR
    assert "no session" in caplog.text


def test_batches_respect_the_request_size_too(monkeypatch):
    docs = [{"Id": str(i), "Blob": "x" * 1000} for i in range(10)]
    monkeypatch.setattr(sh, "MAX_BYTES_PER_CALL", 3500)
    assert [len(b) for b in batches(docs)] == [3, 3, 3, 1]
    monkeypatch.setattr(sh, "MAX_BYTES_PER_CALL", 10**9)
    monkeypatch.setattr(sh, "MAX_FINDINGS_PER_CALL", 4)
    assert [len(b) for b in batches(docs)] == [4, 4, 2]
    assert list(batches([])) == []


# --------------------------------------------------------------------------- under moto's IAM enforcement


def user_with(name: str, *policies: dict[str, Any]) -> dict[str, str]:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name)
    for i, policy in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def moto_can_check(policy: dict[str, Any]) -> dict[str, Any]:
    """The shipped export policy with ``Resource: *``: moto checks every request against resource ``*``, so a
    statement scoped to the default product ARN (what AWS matches) never matches there."""
    relaxed = copy.deepcopy(policy)
    for statement in relaxed["Statement"]:
        statement["Resource"] = "*"
    return relaxed


@pytest.fixture
def enforced(aws: MotoServer) -> Iterator[dict[str, dict[str, str]]]:
    users = {
        "readonly": user_with("readonly", READONLY),
        "exporter": user_with("exporter", READONLY, moto_can_check(securityhub_export_policy())),
    }
    aws.set_iam_enforcement(True)
    try:
        yield users
    finally:
        aws.set_iam_enforcement(False)


def test_the_read_only_policy_is_denied_and_the_export_policy_allowed(enforced, monkeypatch, imported, caplog):
    findings = many(3)
    for name, value in enforced["readonly"].items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.ERROR, logger="auditor.export.securityhub"):
        denied = export_findings(result(findings), SETTINGS)
    (cov,) = denied.coverage
    assert cov.status == CoverageStatus.ERROR and cov.error_code in DENIED_CODES
    assert (denied.active, denied.failed, denied.calls) == (0, 3, 1) and imported == []
    assert "BatchImportFindings" in caplog.text

    for name, value in enforced["exporter"].items():
        monkeypatch.setenv(name, value)
    allowed = export_findings(result(findings), SETTINGS)
    assert allowed.complete and allowed.active == 3 and imported == [3]


def test_accounts_are_reached_with_their_own_credentials(aws: MotoServer, imported: list[int]):
    """A role per account (assume-role, as the collectors do): moto's accounts are its roles' accounts."""
    other = "222233334444"
    iam = boto3.client("iam", region_name=REGION)
    allow = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [allow]}
    iam.create_role(RoleName="exporter", AssumeRolePolicyDocument=json.dumps(trust))
    role = f"arn:aws:iam::{other}:role/exporter"  # moto answers AssumeRole into the role ARN's account
    res = result([*many(2), *many(1, account=other)])
    outcome = export_findings(res, SETTINGS, accounts=[AccountConfig(), AccountConfig(role_arn=role)])
    assert outcome.complete, outcome.summary()
    assert sorted(c.account or "" for c in outcome.coverage) == [ACCOUNT, other]
    assert imported == [2, 1]


def kube_only() -> Finding:
    owner = KubeRef(kind="Ingress", namespace="a", name="b")
    update = {"account": None, "region": None, "resource_arn": None, "kubernetes": owner}
    return finding("controller-missing").model_copy(update=update)


def test_a_kubernetes_only_finding_goes_to_the_callers_account_and_the_audits_region(imported: list[int]):
    res: AuditResult = result([kube_only()])
    outcome = export_findings(res, SETTINGS)
    assert outcome.complete and imported == [1]
    (stored,) = hub_findings().values()
    assert stored["AwsAccountId"] == ACCOUNT and stored["Severity"]["Label"] == "HIGH"
    assert Status.FAIL.value == stored["ProductFields"]["eks-exposure-auditor/Status"]
    assert Severity.HIGH.value == stored["Severity"]["Original"]


def test_nothing_to_send_is_no_call_and_still_a_record(imported: list[int]):
    passed = finding(status=Status.PASS)
    outcome = export_findings(result([passed]), SETTINGS)
    assert imported == [] and outcome.calls == 0 and outcome.complete
    (cov,) = outcome.coverage
    assert (cov.status, cov.message, cov.account) == (CoverageStatus.OK, "no findings to send", ACCOUNT)
