"""Demand-driven collection: `--rules` / `--skip-rules` run only the selected rules and read only their facets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from auditor.cli import cli
from auditor.collect.aws import COLLECTORS, SESSION_ACTIONS
from auditor.config import Settings, load_targets
from auditor.demo.environment import DemoEnvironment
from auditor.errors import ConfigError
from auditor.inventory.facets import Facet, attributes_scope, facets_of
from auditor.inventory.models import CoverageStatus, Inventory
from auditor.lifecycle import Change, Standing, decisions
from auditor.pipeline import collect, run_audit
from auditor.rules.registry import catalog
from auditor.rules.selection import EVERYTHING, needed_facets, select
from tests.store.results import finding

RULE_IDS = [m.id for m in catalog()]

# each AWS action -> the facets that call it (elasticloadbalancing:DescribeLoadBalancers: elbv2's and elb's)
FACETS_OF_ACTION: dict[str, set[Facet]] = {}
for _module in COLLECTORS:
    for _facet, _actions in _module.FACET_ACTIONS.items():
        for _action in _actions:
            FACETS_OF_ACTION.setdefault(_action, set()).add(_facet)


def _undeclared_calls(api_calls: dict[str, int], wanted: frozenset[Facet] | None) -> list[str]:
    """Calls that read a facet the selection did not ask for (session calls excepted)."""
    if wanted is None:
        return []
    return [a for a in api_calls if a not in SESSION_ACTIONS and not FACETS_OF_ACTION.get(a, set()) & wanted]


def test_every_aws_facet_declares_its_calls_and_the_policy_is_their_union() -> None:
    for module in COLLECTORS:
        assert set(module.FACET_ACTIONS) == set(facets_of(module.NAME)), module.NAME
        assert all(module.FACET_ACTIONS.values()), module.NAME
        assert set(module.IAM_ACTIONS) == {a for acts in module.FACET_ACTIONS.values() for a in acts}


def _verdicts(findings: list[Any]) -> set[tuple[str, str, str]]:
    return {(f.rule_id, f.fingerprint, f.status.value) for f in findings}


# Where a health count came from: CloudWatch while the demo's seeded HealthyHostCount is within the health window,
# DescribeTargetHealth once this module has run longer than that; the count and the verdict are the same
_HEALTH_SOURCE = re.compile(r" \(CloudWatch HealthyHostCount of \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\)")


def _findings(findings: list[Any]) -> set[tuple[Any, ...]]:
    """The whole of each finding a user reads: verdict, message, fix, owner and saving (an enrichment facet left out
    of a rule's declaration shows here, not in the verdict)."""
    return {
        (
            f.rule_id,
            f.fingerprint,
            f.status.value,
            f.severity.value,
            _HEALTH_SOURCE.sub("", f.message),
            f.remediation,
            f.kubernetes,
            f.monthly_saving_usd,
        )
        for f in findings
    }


# --------------------------------------------------------------------------- resolution (pure)


OPT_IN = {m.id for m in catalog() if m.opt_in}
OPT_IN_FACETS = {Facet.ELBV2_ATTRIBUTES, Facet.ELB_ATTRIBUTES}


def test_no_selection_is_every_rule_but_the_opt_in_ones_and_every_facet_but_theirs() -> None:
    assert select(None, None) is EVERYTHING
    assert select(None, []) is EVERYTHING
    assert {"http-desync-unmitigated"} == OPT_IN
    assert EVERYTHING.rule_ids == set(RULE_IDS) - OPT_IN
    assert {f for f in Facet if not EVERYTHING.wants(f)} == OPT_IN_FACETS
    assert select(["all"]).rule_ids == set(RULE_IDS)
    # every facet, those no rule declares too (Cost Explorer's billed costs), as the default audit reads them
    assert all(select(["all"]).wants(f) for f in Facet)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_a_rule_alone_needs_every_facet_it_declares(rule_id: str) -> None:
    meta = next(m for m in catalog() if m.id == rule_id)
    chosen = select([rule_id])
    assert chosen.rule_ids == {rule_id}
    assert chosen.facets is not None
    assert set(meta.inputs) | set(meta.enrich) <= chosen.facets


def test_names_are_comma_lists_ids_or_categories_and_skips_subtract() -> None:
    tls = {m.id for m in catalog() if m.category == "tls"}
    assert select(["tls"]).rule_ids == tls
    assert select(["tls,waf"]).rule_ids == tls | {m.id for m in catalog() if m.category == "waf"}
    assert select(["tls"], ["weak-tls-policy"]).rule_ids == tls - {"weak-tls-policy"}
    assert select(None, ["tls"]).rule_ids == set(RULE_IDS) - OPT_IN - tls
    # the selection as given names it (SARIF categories), sorted and without repeats
    assert EVERYTHING.names is None
    assert select(["waf,tls", "tls"], ["weak-tls-policy"]).names == "rules=tls,waf;skip=weak-tls-policy"
    assert select(["all"]).names == "rules=all" and select(None, ["hardening"]).names == "skip=hardening"


def test_an_unknown_name_or_an_empty_selection_is_a_config_error() -> None:
    unknown = r"unknown rule or category no-such-rule; 'all' selects every rule; categories: .*rule ids: "
    with pytest.raises(ConfigError, match=unknown):
        select(["no-such-rule"])
    with pytest.raises(ConfigError, match="leaves no rule"):
        select(["tls"], ["tls"])


def test_a_selection_reads_less_than_everything() -> None:
    facets = needed_facets([m for m in catalog() if m.id == "http-without-redirect"])
    assert Facet.ELBV2_TARGET_HEALTH not in facets
    assert not any(f.collector in {"acm", "wafv2", "iam", "ec2"} for f in facets)


def test_weak_certificate_key_reads_what_certificate_expiring_reads() -> None:
    """Both judge the certificates the load balancers serve, from the same data: either or both read the same."""
    expiring = select(["certificate-expiring"]).facets
    assert expiring is not None and Facet.ACM_CERTIFICATES in expiring
    assert select(["weak-certificate-key"]).facets == expiring
    assert select(["certificate-expiring,weak-certificate-key"]).facets == expiring


# --------------------------------------------------------------------------- against the demo environment


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoEnvironment]:
    with DemoEnvironment() as env:
        yield env


@pytest.fixture(scope="module")
def full(demo: DemoEnvironment) -> dict[str, set[tuple[Any, ...]]]:
    """Every target of the demo audited with every rule, the opt-in ones too: the findings a selection must
    reproduce."""
    assert demo.config_file is not None
    every = select(["all"])
    return {
        t.name: _findings(run_audit(t, Settings(), selection=every).result.findings)
        for t in load_targets(demo.config_file)
    }


def test_the_default_audit_is_every_rule_but_the_opt_in_ones_and_makes_none_of_their_calls(
    demo: DemoEnvironment, full: dict[str, set[tuple[Any, ...]]]
) -> None:
    assert demo.config_file is not None
    for target in load_targets(demo.config_file):
        outcome = run_audit(target, Settings())
        assert "elasticloadbalancing:DescribeLoadBalancerAttributes" not in outcome.inventory.api_calls
        assert all(lb.attributes is None for lb in outcome.inventory.aws.load_balancers)
        assert _findings(outcome.result.findings) == {f for f in full[target.name] if f[0] not in OPT_IN}
        assert outcome.result.status == "complete"
        # the run says which rules it ran: an opt-in rule's open finding is not resolved by a run that did not run it
        assert set(outcome.result.rules or []) == EVERYTHING.rule_ids
        assert outcome.result.selection is None
        opt_in = finding("http-desync-unmitigated")
        before = {opt_in.fingerprint: Standing.OPEN}
        mine = [
            d
            for d in decisions(before, outcome.result, {opt_in.fingerprint: opt_in.rule_id})
            if d.fingerprint in before
        ]
        assert [d.change for d in mine] == [Change.NOT_RECHECKED]
        elbv2 = next(c for c in outcome.result.coverage if c.collector == "elbv2")
        assert elbv2.status == CoverageStatus.OK
        assert elbv2.facet(Facet.ELBV2_ATTRIBUTES).status == CoverageStatus.SKIPPED


def test_an_opt_in_rule_reads_the_attributes_of_the_load_balancers_it_judges_one_call_each(
    demo: DemoEnvironment,
) -> None:
    assert demo.config_file is not None
    target = load_targets(demo.config_file)[0]
    inv = collect(target, Settings(), selection=select(["http-desync-unmitigated"]))
    judged = [lb for lb in inv.aws.load_balancers if attributes_scope(lb)]
    assert {lb.type for lb in judged} == {"application"} and all(lb.is_public for lb in judged)
    assert inv.api_calls["elasticloadbalancing:DescribeLoadBalancerAttributes"] == len(judged)
    assert all(lb.attributes is not None for lb in judged)
    assert all(lb.attributes is None for lb in inv.aws.load_balancers if not attributes_scope(lb))


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_a_rule_alone_gives_the_findings_of_the_full_audit(
    demo: DemoEnvironment, full: dict[str, set[tuple[Any, ...]]], rule_id: str
) -> None:
    """The same verdicts, and the same messages, fixes and owners: what a rule reads to name and explain is declared."""
    assert demo.config_file is not None
    chosen = select([rule_id])
    for target in load_targets(demo.config_file):
        outcome = run_audit(target, Settings(), selection=chosen)
        mine = _findings(outcome.result.findings)
        # no collector read a facet that neither the rule nor correlation declares
        assert _undeclared_calls(outcome.inventory.api_calls, chosen.facets) == [], target.name
        assert {f[0] for f in mine} <= {rule_id}
        expected = {f for f in full[target.name] if f[0] == rule_id}
        assert mine == expected, (target.name, mine ^ expected)
        assert outcome.result.status == "complete"


def test_collection_reads_only_what_the_selected_rule_needs(demo: DemoEnvironment) -> None:
    assert demo.config_file is not None
    target = load_targets(demo.config_file)[0]
    everything = collect(target, Settings())
    only = collect(target, Settings(), selection=select(["http-without-redirect"]))

    assert everything.api_calls.get("elasticloadbalancing:DescribeTargetHealth", 0) > 0
    assert "elasticloadbalancing:DescribeTargetHealth" not in only.api_calls
    assert "elasticloadbalancing:DescribeListenerCertificates" not in only.api_calls
    # the rules of the listeners http-without-redirect judges by them; the full audit also reads those
    # lb-without-healthy-targets needs (an ALB without target groups)
    assert only.api_calls["elasticloadbalancing:DescribeRules"] > 0
    assert (
        only.api_calls["elasticloadbalancing:DescribeRules"]
        <= everything.api_calls["elasticloadbalancing:DescribeRules"]
    )
    for service in ("acm:", "wafv2:", "iam:", "ec2:"):
        assert not [a for a in only.api_calls if a.startswith(service)], service

    by_collector = {c.collector: c for c in only.coverage}
    for name in ("acm", "wafv2", "iam", "ec2"):
        assert by_collector[name].status == CoverageStatus.SKIPPED
        assert by_collector[name].message == f"{name} not read: no selected rule needs it"
        assert by_collector[name].calls == 0
        assert all(by_collector[name].facet(f).status == CoverageStatus.SKIPPED for f in facets_of(name))
    elbv2 = by_collector["elbv2"]
    assert elbv2.status == CoverageStatus.OK
    assert elbv2.facet(Facet.ELBV2_TARGET_HEALTH).status == CoverageStatus.SKIPPED
    assert elbv2.facet(Facet.ELBV2_LISTENER_RULES).status == CoverageStatus.OK
    # fields of facets not read stay None ("not collected"), never an empty list that reads as "none"
    assert all(tg.targets is None for tg in only.aws.target_groups)
    assert only.aws.certificates == []


def test_weak_certificate_key_makes_no_call_of_its_own(demo: DemoEnvironment) -> None:
    assert demo.config_file is not None
    target = load_targets(demo.config_file)[0]
    expiring = collect(target, Settings(), selection=select(["certificate-expiring"])).api_calls
    assert expiring.get("acm:ListCertificates", 0) > 0
    for names in (["weak-certificate-key"], ["certificate-expiring", "weak-certificate-key"]):
        assert collect(target, Settings(), selection=select(names)).api_calls == expiring, names


# --------------------------------------------------------------------------- CLI and the targets file


def test_cli_rules_flag_runs_only_the_category(demo: DemoEnvironment) -> None:
    result = CliRunner().invoke(
        cli,
        [
            *("audit", "--config", str(demo.config_file), "--target", "demo", "-o", "json", "--include-pass"),
            *("--rules", "tls", "--skip-rules", "weak-tls-policy"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    ran = {f["rule_id"] for f in doc["findings"]}
    tls = {m.id for m in catalog() if m.category == "tls"}
    assert ran and ran <= tls - {"weak-tls-policy"}
    assert "not read: no selected rule needs it" in json.dumps(doc["coverage"])


def test_targets_file_keys_are_validated_and_applied(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump({"targets": [{"name": "a", "rules": ["tls"], "skip_rules": ["weak-tls-policy"]}]}))
    (target,) = load_targets(path)
    assert target.rules == ["tls"] and target.skip_rules == ["weak-tls-policy"]

    path.write_text(yaml.safe_dump({"targets": [{"name": "bad", "rules": ["nope"]}]}))
    with pytest.raises(ConfigError, match=r"target 'bad': unknown rule or category nope"):
        load_targets(path)


def test_targets_file_selection_drives_collection(demo: DemoEnvironment, tmp_path: Path) -> None:
    assert demo.config_file is not None
    target = load_targets(demo.config_file)[0].model_copy(update={"rules": ["http-without-redirect"]})
    inventory: Inventory = collect(target, Settings())
    assert "elasticloadbalancing:DescribeTargetHealth" not in inventory.api_calls
    assert {f.rule_id for f in run_audit(target, Settings(), snapshot=inventory).result.findings} == {
        "http-without-redirect"
    }
