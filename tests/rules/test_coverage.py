"""The rule engine holds every verdict against coverage (auditor.rules.coverage) and survives crashing rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from auditor.config import Settings
from auditor.correlate import correlate
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet, facets_of
from auditor.inventory.models import Coverage, CoverageStatus, Inventory
from auditor.pipeline import analyze
from auditor.rules import registry
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import CoverageIndex, enforce
from auditor.rules.registry import all_rules, evaluate_all
from tests.support import builders as b

META = RuleMeta(
    id="test-rule",
    title="t",
    severity=Severity.HIGH,
    category="tls",
    rationale="r",
    remediation="fix",
    inputs=(Facet.ELBV2_LISTENERS, Facet.ELB_POLICIES, Facet.KUBE_INGRESSES),
)
OTHER_REGION = "us-east-1"


def _finding(status: Status, *, arn: str | None, account: str | None = b.ACCOUNT, region: str | None = b.REGION):
    return META.finding(status, f"{status} on {arn}", resource_arn=arn, account=account, region=region)


ALB = b.load_balancer("web").arn
CLB = b.load_balancer("old", type="classic").arn


def _inventory(*covs: Coverage) -> Inventory:
    inv = b.inventory()
    inv.coverage = [*inv.coverage, *covs]
    return inv


def _replace(inv: Inventory, cov: Coverage) -> Inventory:
    inv.coverage = [c for c in inv.coverage if (c.collector, c.region) != (cov.collector, cov.region)] + [cov]
    return inv


def test_complete_coverage_changes_nothing():
    findings = [_finding(Status.PASS, arn=ALB), _finding(Status.FAIL, arn=CLB)]
    assert enforce(META, findings, CoverageIndex(b.inventory())) is findings


def test_a_gap_turns_pass_and_fail_in_its_scope_into_unknown_naming_it():
    inv = _replace(b.inventory(), b.partial_coverage("elbv2", Facet.ELBV2_LISTENERS))
    out = enforce(META, [_finding(Status.PASS, arn=ALB), _finding(Status.FAIL, arn=ALB)], CoverageIndex(inv))
    judged, scope = out[:2], out[2:]
    assert [f.status for f in judged] == [Status.UNKNOWN, Status.UNKNOWN]
    assert [f.evidence["verdict_on_data_read"] for f in judged] == ["PASS", "FAIL"]
    gap = judged[0].evidence["coverage_gaps"][0]
    assert (gap["facet"], gap["status"], gap["error_code"]) == ("elbv2.listeners", "partial", "AccessDenied")
    assert "elbv2.listeners partial (AccessDenied)" in judged[0].message
    assert judged[1].message.endswith(f"FAIL on {ALB}")  # what was seen stays readable
    # one UNKNOWN of the rule's own for the incomplete scope
    assert len(scope) == 1
    assert scope[0].status == Status.UNKNOWN and scope[0].rule_id == META.id
    assert (scope[0].account, scope[0].region) == (b.ACCOUNT, b.REGION)
    assert scope[0].discriminator == f"coverage:aws:{b.ACCOUNT}:{b.REGION}"


def test_a_gap_elsewhere_leaves_verdicts_alone():
    inv = _replace(b.inventory(), b.partial_coverage("elbv2", Facet.ELBV2_LISTENERS, region=OTHER_REGION))
    here = _finding(Status.PASS, arn=ALB)
    other_account = _finding(Status.FAIL, arn=ALB, account="999999999999")
    out = enforce(META, [here, other_account], CoverageIndex(inv))
    assert out[:2] == [here, other_account]
    assert [f.region for f in out[2:]] == [OTHER_REGION]


def test_classic_and_v2_facets_bear_only_on_their_own_load_balancers():
    v2_gap = CoverageIndex(_replace(b.inventory(), b.partial_coverage("elbv2", Facet.ELBV2_LISTENERS)))
    classic_gap = CoverageIndex(_replace(b.inventory(), b.partial_coverage("elb", Facet.ELB_POLICIES)))
    alb, clb, cert = _finding(Status.PASS, arn=ALB), _finding(Status.PASS, arn=CLB), _finding(Status.PASS, arn=None)
    assert [f.status for f in enforce(META, [alb, clb, cert], v2_gap)[:3]] == [
        Status.UNKNOWN,
        Status.PASS,
        Status.UNKNOWN,
    ]
    assert [f.status for f in enforce(META, [alb, clb, cert], classic_gap)[:3]] == [
        Status.PASS,
        Status.UNKNOWN,
        Status.UNKNOWN,
    ]


def test_a_kubernetes_gap_covers_the_whole_audit():
    inv = _replace(b.inventory(), b.partial_coverage("kubernetes", Facet.KUBE_INGRESSES, code="403"))
    out = enforce(META, [_finding(Status.PASS, arn=ALB, region=OTHER_REGION)], CoverageIndex(inv))
    assert out[0].status == Status.UNKNOWN
    assert out[1].resource_name == "coverage of the Kubernetes cluster"
    assert out[1].discriminator == "coverage:kubernetes::"


def test_a_failed_collector_fails_every_facet_and_the_listing_is_named():
    inv = b.inventory(failed={"elbv2": "AccessDenied"})
    out = enforce(META, [], CoverageIndex(inv))
    assert len(out) == 1
    assert "could not be listed" not in out[0].message  # listeners are a detail, not a listing
    listing_meta = dataclasses.replace(META, inputs=(Facet.ELBV2_LOAD_BALANCERS,))
    [scope] = enforce(listing_meta, [], CoverageIndex(inv))
    assert "its objects could not be listed" in scope.message
    assert scope.evidence["coverage_gaps"][0]["error_code"] == "AccessDenied"


PARTLY = dataclasses.replace(META, inputs=(Facet.ELBV2_LISTENERS,), partial_inputs=(Facet.KUBE_INGRESSES,))


def test_a_partial_input_gap_bears_only_on_the_verdicts_that_rest_on_it():
    inv = _replace(b.inventory(), b.partial_coverage("kubernetes", Facet.KUBE_INGRESSES, code="403"))
    alb = PARTLY.finding(Status.FAIL, "alb", resource_arn=ALB, account=b.ACCOUNT, region=b.REGION)
    ingress = PARTLY.finding(
        Status.FAIL,
        "ingress",
        resource_arn=ALB,
        account=b.ACCOUNT,
        region=b.REGION,
        discriminator="Ingress shop/web",
        evidence={"rests_on": [Facet.KUBE_INGRESSES.value]},
    )
    out = enforce(PARTLY, [alb, ingress], CoverageIndex(inv))
    assert [f.status for f in out] == [Status.FAIL, Status.UNKNOWN, Status.UNKNOWN]
    assert out[1].evidence["coverage_gaps"][0]["facet"] == Facet.KUBE_INGRESSES.value
    assert out[2].resource_name == "coverage of the Kubernetes cluster"
    # without the cluster at all (skipped): the verdicts that do not rest on it stand, and no scope finding
    out = enforce(PARTLY, [alb], CoverageIndex(b.inventory(kube=False)))
    assert [f.status for f in out] == [Status.FAIL]


def test_skipped_facets_turn_verdicts_unknown_without_a_scope_finding():
    inv = b.inventory(kube=False)  # no cluster audited: no Kubernetes coverage at all
    out = enforce(META, [_finding(Status.FAIL, arn=ALB)], CoverageIndex(inv))
    assert [f.status for f in out] == [Status.UNKNOWN]
    assert out[0].evidence["coverage_gaps"][0]["status"] == "skipped"


def test_unknown_findings_pass_through_unchanged():
    inv = _replace(b.inventory(), b.partial_coverage("elbv2", Facet.ELBV2_LISTENERS))
    unknown = _finding(Status.UNKNOWN, arn=ALB)
    assert enforce(META, [unknown], CoverageIndex(inv))[0] is unknown


def test_every_rule_declares_facets_and_every_facet_has_a_collector():
    collectors = {
        "elbv2",
        "elb",
        "acm",
        "wafv2",
        "ec2",
        "eks",
        "iam",
        "cloudwatch",
        "pricing",
        "costexplorer",
        "kubernetes",
    }
    for rule in all_rules():
        assert rule.meta.inputs, f"{rule.meta.id} declares no input facets"
        assert all(isinstance(f, Facet) for f in (*rule.meta.inputs, *rule.meta.enrich, *rule.meta.partial_inputs))
        assert not set(rule.meta.inputs) & set(rule.meta.enrich), rule.meta.id
        assert not set(rule.meta.inputs) & set(rule.meta.partial_inputs), rule.meta.id
    assert {f.collector for f in Facet} == collectors
    assert all(facets_of(c) for c in collectors)


# ------------------------------------------------------------------ a rule that raises


def _boom(graph, settings) -> Iterator[Finding]:
    yield META.finding(Status.PASS, "half done")
    raise ZeroDivisionError("division by zero in the rule")


@pytest.fixture
def crashing_rule(monkeypatch: pytest.MonkeyPatch) -> Rule:
    rule = Rule(dataclasses.replace(META, id="crashing-rule", inputs=(Facet.KUBE_SERVICES,)), _boom)
    monkeypatch.setattr(registry, "all_rules", lambda: (*all_rules(), rule))
    return rule


def test_a_crashing_rule_is_named_in_coverage_and_leaves_one_unknown(crashing_rule: Rule, caplog):
    outcome = analyze(b.inventory(lbs=[b.load_balancer("web")]), Settings())
    result = outcome.result
    assert result.status == "partial"
    [cov] = [c for c in result.coverage if c.source == "rule"]
    assert (cov.collector, cov.status, cov.error_code) == ("crashing-rule", CoverageStatus.ERROR, "ZeroDivisionError")
    mine = [f for f in result.findings if f.rule_id == "crashing-rule"]
    assert [(f.status, f.discriminator) for f in mine] == [(Status.UNKNOWN, "rule-crashed")]  # not "half done"
    assert "ZeroDivisionError" in mine[0].message
    assert any("crashing-rule crashed" in r.getMessage() and r.exc_info for r in caplog.records)
    # every other rule still ran and said what it says without the crashing rule
    inv = b.inventory(lbs=[b.load_balancer("web")])
    others = {
        f.rule_id for r in all_rules() if r is not crashing_rule for f in r.evaluate(correlate(inv), Settings().rules)
    }
    assert {f.rule_id for f in result.findings} == others | {"crashing-rule"}


def test_evaluate_all_keeps_going_after_a_crash(crashing_rule: Rule):
    graph = correlate(b.inventory(lbs=[b.load_balancer("web")]))
    findings = evaluate_all(graph, Settings().rules)
    assert [(e.rule_id, e.exception) for e in graph.rule_errors] == [("crashing-rule", "ZeroDivisionError")]
    assert {"http-without-redirect", "public-alb-without-waf"} <= {f.rule_id for f in findings}


def test_a_version_1_snapshot_reads_as_complete_facets():
    """Snapshots written before per-facet coverage still load: each facet takes its collector's status."""
    import json

    doc = json.loads(b.inventory(failed={"wafv2": "AccessDenied"}).dump_json())
    doc["schema_version"] = 1
    for cov in doc["coverage"]:
        del cov["facets"]
    inv = Inventory.parse(json.dumps(doc))
    wafv2 = next(c for c in inv.coverage if c.collector == "wafv2")
    assert wafv2.facet(Facet.WAFV2_ASSOCIATIONS).status == CoverageStatus.ERROR
    elbv2 = next(c for c in inv.coverage if c.collector == "elbv2")
    assert elbv2.facet(Facet.ELBV2_LISTENERS).status == CoverageStatus.OK
