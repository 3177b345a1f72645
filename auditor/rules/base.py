"""What a rule is: metadata plus a pure function over the ExposureGraph that yields findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from auditor.findings import Finding, KubeRef, Severity, Status, finding_data
from auditor.inventory.facets import Facet, ListenerRulesNeed

if TYPE_CHECKING:
    from auditor.config import RuleSettings
    from auditor.correlate.graph import ExposureGraph


@dataclass(frozen=True)
class RuleMeta:
    """A rule's identity and documentation (also the SARIF rule descriptor)."""

    id: str
    title: str
    severity: Severity
    category: str  # tls | waf | exposure | cost | ownership | controller | identity | hygiene | hardening
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()
    inputs: tuple[Facet, ...] = field(
        default=(), metadata={"doc": "facets every verdict of the rule rests on (auditor.rules.coverage)"}
    )
    enrich: tuple[Facet, ...] = field(
        default=(), metadata={"doc": "facets read only to name owners and write remediations, never to judge"}
    )
    partial_inputs: tuple[Facet, ...] = field(
        default=(),
        metadata={
            "doc": "facets only some verdicts rest on: those whose finding lists them in evidence['rests_on'] "
            "(auditor.rules.coverage); a gap there turns those UNKNOWN and adds the scope's UNKNOWN, the rule's "
            "other verdicts stand"
        },
    )
    listener_rules_of: ListenerRulesNeed | None = field(
        default=None,
        metadata={
            "doc": "with elbv2.listener-rules among its inputs: the listeners whose rules its verdicts read "
            "(None: every listener's); the collector reads no others"
        },
    )

    opt_in: bool = field(
        default=False,
        metadata={
            "doc": "runs only when named (its id, its category or 'all' in --rules): its facets cost calls a full "
            "audit does not make (auditor.rules.selection)"
        },
    )

    @cached_property
    def _finding_base(self) -> dict[str, Any]:
        # what every finding of this rule starts from (copied per finding): one dict merge per finding, not three
        base = {"rule_id": self.id, "title": self.title, "severity": self.severity, "remediation": self.remediation}
        return finding_data(base)

    def finding(
        self,
        status: Status,
        message: str,
        *,
        severity: Severity | None = None,
        remediation: str | None = None,
        **kwargs: Any,
    ) -> Finding:
        """A Finding of this rule; severity and remediation default to the rule's own."""
        data = {**self._finding_base, "status": status, "message": message, **kwargs}
        if severity is not None:
            data["severity"] = severity
        if remediation is not None:
            data["remediation"] = remediation
        return Finding.adopt(data)


Evaluate = Callable[["ExposureGraph", "RuleSettings"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    meta: RuleMeta
    evaluate: Evaluate


__all__ = ["Evaluate", "Finding", "KubeRef", "Rule", "RuleMeta", "Severity", "Status"]
