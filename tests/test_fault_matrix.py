"""Fault matrix: a full demo audit with one service's read access denied, or the Kubernetes API unreachable.

For each fault, every rule whose verdicts rest on the denied data (its ``RuleMeta.inputs``) must say UNKNOWN
— never PASS, never FAIL on data it could not read, never nothing — the audit is partial (exit code 7
through the CLI), and every rule that does not read the denied data gives exactly the verdicts of the
complete audit. Runs against the demo environment: moto in server mode with IAM enforcement on (a moto
IAM user holding the shipped read-only policy minus one service's actions) and the Kubernetes emulator.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.config import Settings
from auditor.demo.environment import DemoEnvironment
from auditor.findings import AuditResult, Status
from auditor.inventory.models import CoverageStatus
from auditor.pipeline import run_audit
from auditor.rules.coverage import RESTS_ON
from auditor.rules.registry import all_rules
from tests.support.moto_iam import moto_names

POLICY = json.loads((Path(__file__).resolve().parents[1] / "iam/auditor-readonly.json").read_text(encoding="utf-8"))
EXIT_PARTIAL = 7

# denied IAM action prefix -> the collectors that read through it
DENIED: dict[str, tuple[str, ...]] = {
    "elasticloadbalancing": ("elbv2", "elb"),
    "acm": ("acm",),
    "wafv2": ("wafv2",),
    "iam": ("iam",),
    "ec2": ("ec2",),
    "cloudwatch": ("cloudwatch",),
}


def _policy_without(service: str) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if not a.startswith(f"{service}:")]
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
    return policy


def _user(name: str, policy: dict[str, Any]) -> dict[str, str]:
    iam = boto3.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="auditor", PolicyDocument=json.dumps(moto_names(policy)))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoEnvironment]:
    with DemoEnvironment() as env:
        yield env


@pytest.fixture(scope="module")
def baseline(demo: DemoEnvironment) -> dict[str, AuditResult]:
    """The complete audit of every demo cluster (default credentials, no enforcement)."""
    results = {t.name: run_audit(t, Settings()).result for t in demo.targets}
    assert {r.status for r in results.values()} == {"complete"}
    return results


@pytest.fixture(scope="module")
def users(demo: DemoEnvironment) -> dict[str, dict[str, str]]:
    made = {service: _user(f"auditor-no-{service}", _policy_without(service)) for service in DENIED}
    made["shipped"] = _user("auditor-shipped", POLICY)
    return made


def _audit_as(demo: DemoEnvironment, keys: dict[str, str], targets: list[Any] | None = None) -> dict[str, AuditResult]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in keys.items():
            mp.setenv(name, value)
        demo.moto.set_iam_enforcement(True)
        try:
            return {t.name: run_audit(t, Settings()).result for t in targets or demo.targets}
        finally:
            demo.moto.set_iam_enforcement(False)


def _verdicts(result: AuditResult, rule_id: str, *, standing: bool = False) -> set[tuple[str | None, str, str]]:
    # not the fingerprint: it names the Kubernetes owner, which an audit without the cluster cannot know.
    # standing: only the verdicts that rest on no partial input (no evidence rests_on, not a scope UNKNOWN)
    return {
        (f.resource_arn or f.resource_name, f.discriminator, f.status.value)
        for f in result.findings
        if f.rule_id == rule_id
        and not (standing and (f.evidence.get(RESTS_ON) or f.discriminator.startswith("coverage:")))
    }


def _check(results: dict[str, AuditResult], baseline: dict[str, AuditResult], collectors: tuple[str, ...]) -> None:
    needing = {r.meta.id for r in all_rules() if any(f.collector in collectors for f in r.meta.inputs)}
    partly = {r.meta.id for r in all_rules() if any(f.collector in collectors for f in r.meta.partial_inputs)}
    assert needing, collectors
    for name, result in results.items():
        assert result.status == "partial", name
        assert any(c.collector in collectors and c.status != CoverageStatus.OK for c in result.coverage)
        for rule in all_rules():
            rule_id = rule.meta.id
            if result.rules is not None and rule_id not in result.rules:
                continue  # an opt-in rule the default audit does not run: it reports nothing, read or not
            mine = [f for f in result.findings if f.rule_id == rule_id]
            if rule_id in needing:
                assert mine, f"{name}: {rule_id} is silent although {collectors} could not be read"
                judged = [(f.status.value, f.message) for f in mine if f.status != Status.UNKNOWN]
                assert judged == [], f"{name}: {rule_id} judged on data not read: {judged}"
                gaps = [g for f in mine for g in f.evidence.get("coverage_gaps", [])]
                assert gaps, f"{name}: {rule_id} UNKNOWNs do not name what was missing"
                assert all(g["error_code"] for g in gaps if g["facet"].split(".")[0] in collectors)
            elif rule_id in partly:
                # only its verdicts that rest on those collectors (evidence rests_on) may change: they are gone or
                # UNKNOWN, the scope's UNKNOWN says so, and the rest stand
                assert any(f.status == Status.UNKNOWN and f.discriminator.startswith("coverage:") for f in mine), (
                    f"{name}: {rule_id} is silent about its verdicts that rest on {collectors}"
                )
                assert _verdicts(result, rule_id, standing=True) == _verdicts(baseline[name], rule_id, standing=True), (
                    f"{name}: {rule_id}'s verdicts that do not rest on {collectors} changed"
                )
            else:
                assert _verdicts(result, rule_id) == _verdicts(baseline[name], rule_id), (
                    f"{name}: {rule_id} does not read {collectors} but its verdicts changed"
                )


def test_shipped_policy_audit_is_complete(demo, baseline, users) -> None:
    results = _audit_as(demo, users["shipped"])
    for name, result in results.items():
        assert result.status == "complete", [c for c in result.coverage if c.status != CoverageStatus.OK]
        assert {(f.fingerprint, f.status) for f in result.findings} == {
            (f.fingerprint, f.status) for f in baseline[name].findings
        }


@pytest.mark.parametrize("service", sorted(DENIED))
def test_denied_service_makes_its_rules_unknown(demo, baseline, users, service: str) -> None:
    _check(_audit_as(demo, users[service]), baseline, DENIED[service])


def test_unreachable_kubernetes_makes_its_rules_unknown(demo, baseline, tmp_path: Path) -> None:
    dead = tmp_path / "kubeconfig"
    dead.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: x, cluster: {server: 'https://127.0.0.1:9', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: x, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\n",
        encoding="utf-8",
    )
    targets = [t.model_copy(update={"kubeconfig": dead, "context": "x"}) for t in demo.targets]
    results = {t.name: run_audit(t, Settings()).result for t in targets}
    _check(results, baseline, ("kubernetes",))


def test_cli_exit_code_of_a_partial_audit(demo, users, tmp_path: Path) -> None:
    """Through the CLI: a partial audit exits 7 (even with findings), --allow-partial gates on findings only."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in users["wafv2"].items():
            mp.setenv(name, value)
        demo.moto.set_iam_enforcement(True)
        try:
            args = ["audit", "--config", str(demo.config_file), "--target", "demo", "-o", "json", "-q"]
            partial = CliRunner().invoke(cli, [*args, "--fail-on", "critical"])
            allowed = CliRunner().invoke(cli, [*args, "--allow-partial"])
            gated = CliRunner().invoke(cli, [*args, "--allow-partial", "--fail-on", "high", "--fail-on-unknown"])
        finally:
            demo.moto.set_iam_enforcement(False)
    assert partial.exit_code == EXIT_PARTIAL, partial.stderr
    assert "partial" in partial.stderr
    assert allowed.exit_code == 0, allowed.stderr
    assert json.loads(allowed.stdout)["status"] == "partial"
    assert gated.exit_code == 1, gated.stderr  # public-alb-without-waf (high) is UNKNOWN and counted
    assert os.environ.get("AWS_ACCESS_KEY_ID") != users["wafv2"]["AWS_ACCESS_KEY_ID"]
