"""What a rule is: metadata plus a pure function over the ExposureGraph that yields findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from auditor.findings import Finding, KubeRef, Severity, Status

if TYPE_CHECKING:
    from auditor.config import RuleSettings
    from auditor.correlate.graph import ExposureGraph


@dataclass(frozen=True)
class RuleMeta:
    """A rule's identity and documentation (also the SARIF rule descriptor)."""

    id: str
    title: str
    severity: Severity
    category: str  # tls | waf | exposure | cost | ownership | controller | identity | hygiene
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()
    inputs: tuple[str, ...] = field(default=(), metadata={"doc": "collectors whose data the rule needs"})

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
        return Finding.from_trusted(
            {
                "rule_id": self.id,
                "title": self.title,
                "severity": severity or self.severity,
                "status": status,
                "message": message,
                "remediation": self.remediation if remediation is None else remediation,
                **kwargs,
            }
        )


Evaluate = Callable[["ExposureGraph", "RuleSettings"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    meta: RuleMeta
    evaluate: Evaluate


__all__ = ["Evaluate", "Finding", "KubeRef", "Rule", "RuleMeta", "Severity", "Status"]
