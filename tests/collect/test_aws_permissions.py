"""The shipped read-only policy is generated from the declarations and is enough, proven under IAM enforcement."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from auditor.collect.aws import collect_aws
from auditor.collect.aws.session import DENIED_CODES, CallCounter
from auditor.collect.permissions import aws_readonly_policy, render
from auditor.config import AccountConfig, AwsSettings, Settings, TargetConfig
from auditor.findings import Finding, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import AuditTarget, AwsInventory, Coverage, CoverageStatus, Inventory
from auditor.pipeline import analyze
from auditor.rules.hardening.http_desync_unmitigated import CLASSIC_DESYNC, DROP_INVALID_HEADERS
from auditor.rules.selection import select
from tests.collect.test_aws_seed import ACCOUNT, CLUSTER, LBC_ROLE, REGION, Rich, controller_kube, moto_env, seed_rich
from tests.support.moto_iam import moto_names

POLICY_FILE = Path(__file__).resolve().parents[2] / "iam" / "auditor-readonly.json"
SETTINGS = Settings(aws=AwsSettings(max_attempts=1))


def test_policy_file_is_generated_from_the_declarations():
    assert POLICY_FILE.read_text(encoding="utf-8") == render(aws_readonly_policy()), (
        "iam/auditor-readonly.json is stale: python -m auditor.collect.permissions > iam/auditor-readonly.json"
    )


def test_policy_shape():
    policy = aws_readonly_policy()
    assert policy["Version"] == "2012-10-17"
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert len(actions) == len(set(actions))
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Sid"].isalnum()
        assert statement["Action"] == sorted(statement["Action"])
        assert not any(a.endswith("*") for a in statement["Action"])  # read-only, nothing wildcarded
        assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in statement["Action"])
    assert "sts:GetCallerIdentity" in actions


def without(action: str) -> dict[str, Any]:
    policy = copy.deepcopy(aws_readonly_policy())
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
    return policy


def make_user(name: str, policy: dict[str, Any]) -> dict[str, str]:
    policy = moto_names(policy)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="auditor", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def enforced(moto_server) -> Iterator[tuple[Rich, dict[str, dict[str, str]]]]:
    """A rich account and users holding the shipped policy (or less); then IAM enforcement on."""
    with moto_env(moto_server):
        rich = seed_rich()
        users = {
            "shipped": make_user("auditor", json.loads(POLICY_FILE.read_text(encoding="utf-8"))),
            "no-waf": make_user("auditor-no-waf", without("wafv2:ListWebACLs")),
            "no-rules": make_user("auditor-no-rules", without("elasticloadbalancing:DescribeRules")),
            "no-attributes": make_user(
                "auditor-no-attributes", without("elasticloadbalancing:DescribeLoadBalancerAttributes")
            ),
        }
        moto_server.set_iam_enforcement(True)
        try:
            yield rich, users
        finally:
            moto_server.set_iam_enforcement(False)


def collect_as(monkeypatch, keys: dict[str, str], accounts: list[AccountConfig] | None = None):
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    target = TargetConfig(name="t", cluster_name=CLUSTER, regions=[REGION], accounts=accounts or [AccountConfig()])
    return collect_aws(target, SETTINGS, counter=CallCounter(), kube=controller_kube())


def test_shipped_policy_is_enough(enforced, monkeypatch):
    rich, users = enforced
    inv, cov = collect_as(monkeypatch, users["shipped"])
    denied = [c for c in cov if c.error_code in DENIED_CODES or "AccessDenied" in (c.message or "")]
    assert denied == []
    assert {c.collector: c.status for c in cov} == {
        name: CoverageStatus.OK
        for name in ("elbv2", "elb", "acm", "wafv2", "ec2", "eks", "iam", "cloudwatch", "pricing", "costexplorer")
    }
    assert {lb.name for lb in inv.load_balancers} == {"web", "tcp", "legacy-clb"}
    assert {a.arn for a in inv.web_acls} == {rich.acl_on_alb, rich.acl_unused}
    assert inv.eks_clusters[0].oidc_issuer == rich.issuer
    irsa = next(r for r in inv.iam_roles if r.name == LBC_ROLE)
    assert irsa.trust_policy and irsa.attached_policies and irsa.inline_policies


def test_enforcement_is_on_a_missing_action_fails_its_collector(enforced, monkeypatch):
    _, users = enforced
    inv, cov = collect_as(monkeypatch, users["no-waf"])
    status = {c.collector: c for c in cov}
    assert status["wafv2"].status == CoverageStatus.ERROR
    assert status["wafv2"].error_code in DENIED_CODES  # moto answers JSON-protocol denials as "403"
    assert "wafv2:ListWebACLs" in status["wafv2"].message
    assert inv.web_acls == []
    assert {c.status for name, c in status.items() if name != "wafv2"} == {CoverageStatus.OK}


def test_a_denied_per_resource_call_leaves_none_and_partial(enforced, monkeypatch):
    _, users = enforced
    inv, cov = collect_as(monkeypatch, users["no-rules"])
    elbv2 = next(c for c in cov if c.collector == "elbv2")
    assert elbv2.status == CoverageStatus.PARTIAL
    assert "DescribeRules" in elbv2.message and "AccessDenied" in elbv2.message
    alb = next(lb for lb in inv.load_balancers if lb.name == "web")
    assert alb.listeners and all(listener.rules is None for listener in alb.listeners)  # not collected
    assert all(listener.certificate_arns is not None for listener in alb.listeners)  # the rest was


def analyze_aws(aws: AwsInventory, coverage: list[Coverage]) -> list[Finding]:
    """The findings of every rule, the opt-in ones too, over what was collected."""
    target = AuditTarget(name="t", cluster_name=CLUSTER, accounts=[ACCOUNT], regions=[REGION])
    inv = Inventory(collected_at=datetime.now(UTC), target=target, aws=aws, coverage=coverage)
    return analyze(inv, SETTINGS, selection=select(["all"])).result.findings


def test_denied_attributes_leave_the_opt_in_rule_unknown_not_its_defaults(enforced, monkeypatch):
    _, users = enforced
    inv, cov = collect_as(monkeypatch, users["shipped"])
    alb = next(lb for lb in inv.load_balancers if lb.name == "web")
    assert alb.is_public and alb.attributes is not None and DROP_INVALID_HEADERS in alb.attributes
    clb = next(lb for lb in inv.load_balancers if lb.name == "legacy-clb")
    assert clb.is_public and clb.attributes == {CLASSIC_DESYNC: "defensive"}
    judged = {f.resource_name: f for f in analyze_aws(inv, cov) if f.rule_id == "http-desync-unmitigated"}
    assert judged["web"].status == Status.FAIL and judged["legacy-clb"].status == Status.PASS

    inv, cov = collect_as(monkeypatch, users["no-attributes"])
    elbv2 = next(c for c in cov if c.collector == "elbv2")
    assert elbv2.status == CoverageStatus.PARTIAL and "DescribeLoadBalancerAttributes" in elbv2.message
    assert elbv2.facet(Facet.ELBV2_ATTRIBUTES).status == CoverageStatus.PARTIAL
    assert elbv2.facet(Facet.ELBV2_LISTENERS).status == CoverageStatus.OK
    alb = next(lb for lb in inv.load_balancers if lb.name == "web")
    assert alb.attributes is None and alb.listeners  # not read; the rest was
    assert next(c for c in cov if c.collector == "elb").facet(Facet.ELB_ATTRIBUTES).status == CoverageStatus.PARTIAL
    judged = {f.resource_name: f for f in analyze_aws(inv, cov) if f.rule_id == "http-desync-unmitigated"}
    # one UNKNOWN per load balancer judged, never its documented default
    assert judged["web"].status == Status.UNKNOWN and judged["legacy-clb"].status == Status.UNKNOWN
    assert {f.status for f in judged.values()} == {Status.UNKNOWN}


def test_account_whose_role_cannot_be_assumed_is_recorded(enforced, monkeypatch):
    _, users = enforced
    # the shipped policy has no sts:AssumeRole: that belongs to the caller's own policy
    other = AccountConfig(role_arn="arn:aws:iam::210987654321:role/auditor")
    inv, cov = collect_as(monkeypatch, users["shipped"], accounts=[other, AccountConfig()])
    broken = [c for c in cov if c.account == "210987654321"]
    assert broken and {c.status for c in broken} == {CoverageStatus.ERROR}
    assert {c.error_code for c in broken} == {"AccessDenied"}
    mine = [c for c in cov if c.account == ACCOUNT]
    assert {c.status for c in mine} == {CoverageStatus.OK}
    assert {lb.account for lb in inv.load_balancers} == {ACCOUNT}
