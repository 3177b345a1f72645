"""Listener rules (DescribeRules) are read only where some selected rule's verdict depends on them
(``RuleMeta.listener_rules_of``), and every verdict is what reading all of them gives."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from auditor.config import Settings, TargetConfig
from auditor.demo.motoserver import MotoServer
from auditor.inventory.facets import Facet
from auditor.pipeline import run_audit
from auditor.rules.selection import RuleSelection, select
from tests.collect.test_aws_seed import REGION, network

REDIRECT: Any = [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]
FIXED: Any = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]
TARGET = TargetConfig(name="t", kubernetes=False, regions=[REGION])


def _seed() -> dict[str, str]:
    """Listener ARNs by role: which ones some rule needs the rules of, and which not."""
    net = network()
    elbv2 = boto3.client("elbv2", region_name=REGION)

    def alb(name: str, scheme: str = "internet-facing") -> str:
        made = elbv2.create_load_balancer(Name=name, Subnets=net.subnets, Scheme=scheme)
        return str(made["LoadBalancers"][0]["LoadBalancerArn"])

    def listener(lb: str, port: int, actions: Any) -> str:
        made = elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=actions)
        return str(made["Listeners"][0]["ListenerArn"])

    public, private, no_targets = alb("public"), alb("private", "internal"), alb("no-targets")
    ingress = alb("ingress")
    elbv2.add_tags(ResourceArns=[ingress], Tags=[{"Key": "ingress.k8s.aws/stack", "Value": "shop/web"}])
    tg = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=net.vpc)["TargetGroups"][0]
    forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    tg3 = elbv2.create_target_group(Name="shop", Protocol="HTTP", Port=80, VpcId=net.vpc)["TargetGroups"][0]
    listeners = {
        "public redirect": listener(public, 80, REDIRECT),  # http-without-redirect: a rule may still forward
        "public forward": listener(public, 8080, forward),  # serves HTTP whatever its rules: FAIL without them
        "private redirect": listener(private, 80, REDIRECT),  # internal: not judged by http-without-redirect
        # lb-without-healthy-targets: needs no targets? And, maybe a Gateway's (no Ingress or Service stack
        # tag), http-without-redirect: a Gateway listener's fixed 404 serves nothing, its rules may
        "no targets": listener(no_targets, 80, FIXED),
        # an Ingress's ALB: its fixed 404 default is no redirect, FAIL without the rules; it has target groups
        "ingress fixed": listener(ingress, 80, FIXED),
        "ingress forward": listener(ingress, 8080, [{"Type": "forward", "TargetGroupArn": tg3["TargetGroupArn"]}]),
    }
    elbv2.create_target_group(Name="private", Protocol="HTTP", Port=80, VpcId=net.vpc)
    tg2 = elbv2.describe_target_groups(Names=["private"])["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_rule(
        ListenerArn=listeners["private redirect"],
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg2}],
    )
    return listeners


def _rules_read(selection: RuleSelection) -> tuple[set[str], set[tuple[str, str]]]:
    outcome = run_audit(TARGET, Settings(), selection=selection)
    read = {
        li.arn or "" for lb in outcome.inventory.aws.load_balancers for li in lb.listeners or [] if li.rules is not None
    }
    return read, {(f.fingerprint, f.status.value) for f in outcome.result.findings}


@pytest.mark.parametrize(
    ("rules", "needed"),
    [
        (None, {"public redirect", "no targets"}),
        (["http-without-redirect"], {"public redirect", "no targets"}),
        (["lb-without-healthy-targets"], {"no targets"}),
        (["weak-tls-policy"], set()),
    ],
)
def test_rules_are_read_only_where_a_verdict_depends_on_them(
    aws: MotoServer, rules: list[str] | None, needed: set[str]
) -> None:
    listeners = _seed()
    selection = select(rules)
    read, verdicts = _rules_read(selection)
    assert read == {listeners[role] for role in needed}
    # the same verdicts as when every listener's rules are read
    everything = RuleSelection(rule_ids=selection.rule_ids, facets=selection.facets, listener_rules=None)
    all_read, all_verdicts = _rules_read(everything)
    assert all_read == (set(listeners.values()) if selection.wants(Facet.ELBV2_LISTENER_RULES) else set())
    assert verdicts == all_verdicts
