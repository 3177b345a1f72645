"""Run one rule over a snapshot built with tests.support.builders, the way the registry does."""

from __future__ import annotations

from typing import Any

from auditor.config import RuleSettings, Settings
from auditor.correlate import correlate
from auditor.findings import Finding
from auditor.inventory.facets import Facet
from auditor.inventory.models import Coverage, CoverageStatus, FacetCoverage, Inventory
from auditor.rules.base import Rule
from auditor.rules.registry import evaluate_all


def run(rule: Rule, inv: Inventory, **settings: Any) -> list[Finding]:
    """Findings of ``rule`` over ``inv`` (settings override RuleSettings defaults)."""
    findings = list(rule.evaluate(correlate(inv), RuleSettings(**settings)))
    assert all(f.rule_id == rule.meta.id for f in findings)
    for f in findings:  # rules build findings without validation (RuleMeta.finding): prove they are valid
        assert set(f.__dict__) == set(Finding.model_fields), set(f.__dict__) ^ set(Finding.model_fields)
        Finding.model_validate(dict(f), strict=True)
    prints = [f.fingerprint for f in findings]
    assert len(prints) == len(set(prints)), "fingerprints must be unique within one rule"
    return findings


def only(rule: Rule, inv: Inventory, **settings: Any) -> Finding:
    """The single finding of ``rule`` over ``inv``."""
    findings = run(rule, inv, **settings)
    assert len(findings) == 1, [f.message for f in findings]
    return findings[0]


def judged(rule: Rule, inv: Inventory) -> list[Finding]:
    """Findings of ``rule`` as an audit reports them: held against coverage (verdicts on unread data UNKNOWN)."""
    return evaluate_all(correlate(inv), Settings().rules, only={rule.meta.id})


def facet_failed(inv: Inventory, facet: Facet, code: str = "403") -> Inventory:
    """``inv`` with one Kubernetes facet not read (its list was refused), the way the collector records it."""
    inv.coverage = [c for c in inv.coverage if c.collector != "kubernetes"] + [
        Coverage(
            source="kubernetes",
            collector="kubernetes",
            status=CoverageStatus.PARTIAL,
            error_code=code,
            facets={facet: FacetCoverage(status=CoverageStatus.ERROR, error_code=code, message="forbidden")},
        )
    ]
    return inv
