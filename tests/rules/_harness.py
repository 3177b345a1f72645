"""Run one rule over a snapshot built with tests.support.builders, the way the registry does."""

from __future__ import annotations

from typing import Any

from auditor.config import RuleSettings
from auditor.correlate import correlate
from auditor.findings import Finding
from auditor.inventory.models import Inventory
from auditor.rules.base import Rule


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
