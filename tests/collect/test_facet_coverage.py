"""AWS collectors record coverage per facet: a denied per-resource call marks its facet, not its neighbours."""

from __future__ import annotations

from auditor.inventory.facets import Facet, facets_of
from auditor.inventory.models import CoverageStatus
from tests.collect.test_aws_permissions import collect_as, enforced  # noqa: F401 (fixture)


def test_denied_rules_mark_only_the_listener_rules_facet(enforced, monkeypatch):  # noqa: F811
    _, users = enforced
    _, cov = collect_as(monkeypatch, users["no-rules"])
    elbv2 = next(c for c in cov if c.collector == "elbv2")
    assert elbv2.status == CoverageStatus.PARTIAL
    rules = elbv2.facet(Facet.ELBV2_LISTENER_RULES)
    assert rules.status == CoverageStatus.PARTIAL
    assert rules.error_code == "AccessDenied"
    assert "DescribeRules" in (rules.message or "")
    others = {f: elbv2.facet(f).status for f in facets_of("elbv2") if f != Facet.ELBV2_LISTENER_RULES}
    assert set(others.values()) == {CoverageStatus.OK}, others


def test_a_collector_that_fails_as_a_whole_fails_every_facet(enforced, monkeypatch):  # noqa: F811
    _, users = enforced
    _, cov = collect_as(monkeypatch, users["no-waf"])
    wafv2 = next(c for c in cov if c.collector == "wafv2")
    assert wafv2.facets == {}
    assert {wafv2.facet(f).status for f in facets_of("wafv2")} == {CoverageStatus.ERROR}
    assert {wafv2.facet(f).error_code for f in facets_of("wafv2")} == {wafv2.error_code}


def test_complete_collectors_list_no_facets(enforced, monkeypatch):  # noqa: F811
    _, users = enforced
    _, cov = collect_as(monkeypatch, users["shipped"])
    assert {c.collector: c.facets for c in cov} == {
        name: {} for name in ("elbv2", "elb", "acm", "wafv2", "ec2", "eks", "iam", "cloudwatch", "pricing")
    }
