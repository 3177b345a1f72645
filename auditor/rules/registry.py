"""Finds every rule module (``auditor/rules/<area>/<rule>.py`` exposing ``RULE``) and runs them."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from functools import cache
from typing import TYPE_CHECKING

import auditor.rules as rules_pkg
from auditor.correlate.gc_pause import gc_paused
from auditor.correlate.graph import RuleError
from auditor.findings import Finding
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import CoverageIndex, crashed, enforce

if TYPE_CHECKING:
    from auditor.config import RuleSettings
    from auditor.correlate.graph import ExposureGraph

log = logging.getLogger(__name__)


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule, sorted by id; a module without ``RULE`` is a helper and is skipped."""
    found: dict[str, Rule] = {}
    for info in pkgutil.walk_packages(rules_pkg.__path__, prefix="auditor.rules."):
        module = importlib.import_module(info.name)
        rule = getattr(module, "RULE", None)
        if isinstance(rule, Rule):
            if rule.meta.id in found:
                raise RuntimeError(f"rule id {rule.meta.id} defined twice ({info.name})")
            found[rule.meta.id] = rule
    return tuple(found[k] for k in sorted(found))


def catalog() -> list[RuleMeta]:
    """Metadata of every rule (`auditor rules`, SARIF descriptors, rule selection)."""
    return [r.meta for r in all_rules()]


def evaluate_all(graph: ExposureGraph, settings: RuleSettings, *, only: set[str] | None = None) -> list[Finding]:
    """Run every rule over the graph, its findings held against coverage (auditor.rules.coverage).

    A rule that raises is a defect: it is logged with its traceback, recorded in ``graph.rule_errors``
    (the pipeline turns them into coverage and a partial result) and leaves one UNKNOWN finding, so the
    audit goes on and the rule is never silently missing. Each rule guards the objects it judges itself
    (``auditor.rules.coverage.guarded``: one UNKNOWN per object that raised); this catches what raises
    outside them, e.g. while a rule builds its per-graph tables."""
    findings: list[Finding] = []
    index = CoverageIndex(graph.inventory)
    with gc_paused():  # every finding is kept: see auditor.correlate.gc_pause
        for rule in all_rules():
            if only is not None and rule.meta.id not in only:
                continue
            try:
                produced = list(rule.evaluate(graph, settings))
            except Exception as exc:
                log.exception("rule %s crashed; its checks are UNKNOWN in this audit", rule.meta.id)
                graph.rule_errors.append(RuleError(rule.meta.id, type(exc).__name__, str(exc)))
                findings.append(crashed(rule.meta, exc))
                continue
            findings.extend(enforce(rule.meta, produced, index))
    return findings
