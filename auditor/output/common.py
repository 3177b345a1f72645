"""What every renderer shares: ordering, owner and resource labels, counts, coverage problems."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from auditor.findings import AuditResult, Finding, LoadBalancerView, Severity, Status
from auditor.inventory.models import Coverage, CoverageStatus

if TYPE_CHECKING:
    from auditor.rules.base import RuleMeta

log = logging.getLogger(__name__)

SEVERITIES: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: s.rank, reverse=True))
NO_OWNER = "(no Kubernetes owner)"


def finding_sort_key(finding: Finding) -> tuple[int, str, str, str, str, str]:
    """Worst first, then rule, then resource: the one ordering every format uses."""
    return (
        -finding.severity.rank,
        finding.rule_id,
        finding.resource_arn or finding.resource_name or "",
        str(finding.kubernetes or ""),
        finding.discriminator,
        finding.fingerprint,
    )


def sorted_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_sort_key)


def visible_findings(result: AuditResult, *, include_pass: bool) -> list[Finding]:
    """The findings a report lists: PASS only when asked for; always sorted."""
    return sorted_findings([f for f in result.findings if include_pass or f.status != Status.PASS])


def sorted_load_balancers(result: AuditResult) -> list[LoadBalancerView]:
    return sorted(result.load_balancers, key=lambda lb: (lb.account, lb.region, lb.name, lb.arn))


def sorted_coverage(coverage: list[Coverage]) -> list[Coverage]:
    return sorted(coverage, key=lambda c: (c.source, c.collector, c.account or "", c.region or ""))


def coverage_problems(result: AuditResult) -> list[Coverage]:
    """Every collector whose data is not complete: a reader must see that data is missing."""
    return [c for c in sorted_coverage(result.coverage) if c.status != CoverageStatus.OK]


def coverage_label(cov: Coverage) -> str:
    """`aws elbv2 123456789012/eu-west-1` or `kubernetes`."""
    where = "/".join(p for p in (cov.account, cov.region) if p)
    return f"{cov.source} {cov.collector}" + (f" {where}" if where else "")


def coverage_detail(cov: Coverage) -> str:
    """`error AccessDenied: User is not authorized ...` — status, error code, message."""
    text = cov.status.value
    if cov.error_code:
        text += f" {cov.error_code}"
    if cov.message:
        text += f": {cov.message}"
    return text


# --------------------------------------------------------------------------- owners and resources


class OwnerIndex:
    """Finds the load balancer a finding is about, so a finding without its own Kubernetes
    reference can still name the owner of its load balancer."""

    def __init__(self, load_balancers: list[LoadBalancerView]) -> None:
        self._by_arn = {lb.arn: lb for lb in load_balancers}

    def load_balancer_of(self, finding: Finding) -> LoadBalancerView | None:
        candidates: list[str] = []
        if finding.resource_arn:
            candidates.append(finding.resource_arn)
            candidates.append(lb_arn_from_child_arn(finding.resource_arn))
        for key in ("load_balancer_arn", "lb_arn"):
            value = finding.evidence.get(key)
            if isinstance(value, str):
                candidates.append(value)
        for arn in candidates:
            lb = self._by_arn.get(arn)
            if lb is not None:
                return lb
        return None

    def owner_ref(self, finding: Finding) -> tuple[str, str | None, str] | None:
        """(kind, namespace, name) of the finding's Kubernetes owner, else of its load balancer's."""
        if finding.kubernetes is not None:
            return (finding.kubernetes.kind, finding.kubernetes.namespace, finding.kubernetes.name)
        lb = self.load_balancer_of(finding)
        if lb is not None and lb.owner is not None:
            return (lb.owner.kind, lb.owner.namespace, lb.owner.name)
        return None

    def owner(self, finding: Finding) -> str:
        """`Ingress shop/web` (the finding's or its load balancer's owner), or NO_OWNER."""
        ref = self.owner_ref(finding)
        if ref is None:
            return NO_OWNER
        kind, namespace, name = ref
        return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"

    def owner_path(self, finding: Finding) -> str | None:
        """`Ingress/shop/web` (SARIF's fullyQualifiedName), or None without an owner."""
        ref = self.owner_ref(finding)
        return None if ref is None else "/".join(p for p in ref if p)


def lb_arn_from_child_arn(arn: str) -> str:
    """The load balancer ARN a listener or listener-rule ARN belongs to (else the ARN unchanged).

    listener/app/<name>/<lb-id>/<listener-id> -> loadbalancer/app/<name>/<lb-id>
    """
    prefix, sep, rest = arn.partition(":listener/")
    if not sep:
        prefix, sep, rest = arn.partition(":listener-rule/")
    if not sep:
        return arn
    parts = rest.split("/")
    if len(parts) < 3:
        return arn
    return f"{prefix}:loadbalancer/{'/'.join(parts[:3])}"


def owner_label(lb: LoadBalancerView) -> str:
    """The load balancer's Kubernetes owner (a Gateway with its routes), with its orphan state when it has one."""
    if lb.owner is None:
        text = NO_OWNER
    else:
        text = (
            f"{lb.owner.kind} {lb.owner.namespace}/{lb.owner.name}"
            if lb.owner.namespace
            else (f"{lb.owner.kind} {lb.owner.name}")
        )
        if lb.owner.routes:
            shown = ", ".join(lb.owner.routes[:3]) + (
                f" +{len(lb.owner.routes) - 3}" if len(lb.owner.routes) > 3 else ""
            )
            text += f" ← {shown}"
    if lb.orphan:
        text += f" (orphan: {lb.orphan})"
    return text


def resource_label(finding: Finding) -> str:
    """A short name for the AWS resource: its name, else a readable form of its ARN."""
    if finding.resource_name:
        return finding.resource_name
    if not finding.resource_arn:
        return "-"
    resource = finding.resource_arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    parts = rest.split("/")
    if kind == "loadbalancer":
        # loadbalancer/app/<name>/<id> (ELBv2) or loadbalancer/<name> (classic)
        return parts[1] if len(parts) >= 3 else parts[0]
    if kind in ("listener", "listener-rule") and len(parts) >= 2:
        return f"{parts[1]} {kind}"
    if kind == "targetgroup" and parts:
        return f"target group {parts[0]}"
    return resource


def money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class Counts:
    """What the closing line of every report says."""

    by_status: dict[str, int]
    failed_by_severity: dict[str, int]
    load_balancers: int
    known_monthly_cost: float
    cost_unknown: int
    monthly_saving: float  # fixing the FAILs: the largest saving per resource, summed
    coverage_problems: int

    @classmethod
    def of(cls, result: AuditResult) -> Counts:
        status = Counter(f.status.value for f in result.findings)
        severity = Counter(f.severity.value for f in result.findings if f.status == Status.FAIL)
        costs = [lb.monthly_cost_usd for lb in result.load_balancers]
        return cls(
            by_status={s.value: status.get(s.value, 0) for s in Status},
            failed_by_severity={s.value: severity.get(s.value, 0) for s in SEVERITIES},
            load_balancers=len(result.load_balancers),
            known_monthly_cost=round(sum(c for c in costs if c is not None), 2),
            cost_unknown=sum(1 for c in costs if c is None),
            monthly_saving=result.monthly_saving_usd(),
            coverage_problems=len(coverage_problems(result)),
        )

    @property
    def failed(self) -> int:
        return self.by_status[Status.FAIL.value]

    def severity_phrase(self) -> str:
        """`1 critical, 2 high` (only non-zero severities)."""
        parts = [f"{n} {sev}" for sev, n in self.failed_by_severity.items() if n]
        return ", ".join(parts)

    def sentence(self) -> str:
        """The closing line: failed / unknown / passed, load balancers and cost, coverage."""
        failed = f"{self.failed} failed"
        if self.failed:
            failed += f" ({self.severity_phrase()})"
        parts = [
            failed,
            f"{self.by_status[Status.UNKNOWN.value]} could not be checked",
            f"{self.by_status[Status.PASS.value]} passed",
            f"{self.load_balancers} load balancer{'s' if self.load_balancers != 1 else ''}"
            f" costing {money(self.known_monthly_cost)}/month"
            + (f" (+{self.cost_unknown} unpriced)" if self.cost_unknown else ""),
        ]
        if self.monthly_saving:
            parts.append(f"fixing the failed checks saves {money(self.monthly_saving)}/month")
        if self.coverage_problems:
            parts.append(
                f"{self.coverage_problems} collector(s) or rule(s) incomplete: the checks resting on them are UNKNOWN"
            )
        return " · ".join(parts)


def lb_severity_counts(result: AuditResult) -> dict[str, Counter[Severity]]:
    """FAIL findings per load balancer ARN, by severity."""
    index = OwnerIndex(result.load_balancers)
    counts: dict[str, Counter[Severity]] = {lb.arn: Counter() for lb in result.load_balancers}
    for finding in result.findings:
        if finding.status != Status.FAIL:
            continue
        lb = index.load_balancer_of(finding)
        if lb is not None:
            counts[lb.arn][finding.severity] += 1
    return counts


def severity_counts_phrase(counter: Counter[Severity]) -> str:
    return ", ".join(f"{counter[s]} {s.value}" for s in SEVERITIES if counter[s]) or "none"


def timestamp(value: datetime | None) -> str:
    """`2024-05-01 12:00 UTC`: minutes are precise enough for a report headline."""
    if value is None:
        return "never"
    if value.tzinfo is not None:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M")


def utc_iso(value: datetime) -> str:
    """`2024-05-01T12:00:00.000Z`: UTC with milliseconds and a trailing Z (SARIF, ASFF); naive is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------- rules and scope


def rule_catalog() -> dict[str, RuleMeta]:
    """The rule catalog by id, for what a finding does not carry (category, references); a broken rule module
    must not take a report down with it: logged, and the formats fall back to the findings' own text."""
    from auditor.rules.registry import catalog

    try:
        return {meta.id: meta for meta in catalog()}
    except Exception:
        log.exception("rule catalog unavailable; reports fall back to the findings' own text")
        return {}


def home_scope(result: AuditResult) -> tuple[str | None, str | None]:
    """The AWS account and region the audit read most (load balancers, then coverage): where a finding about a
    Kubernetes object alone (no AWS resource) is filed by formats that need an account and a region."""
    accounts: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    for lb in result.load_balancers:
        accounts[lb.account] += 1
        regions[lb.region] += 1
    for cov in result.coverage:
        if cov.source == "aws" and cov.account:
            accounts[cov.account] += 1
        if cov.source == "aws" and cov.region:
            regions[cov.region] += 1

    def most(counter: Counter[str]) -> str | None:
        # ties broken by name, so the same result always files the same way
        return min(counter, key=lambda k: (-counter[k], k)) if counter else None

    return most(accounts), most(regions)
