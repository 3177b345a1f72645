"""Coverage drives verdicts: no rule says PASS or FAIL on data that was not read, and no rule is silent about it.

Each rule declares the facets its verdicts rest on (``RuleMeta.inputs``, see auditor.inventory.facets).
After a rule has run, ``enforce`` holds its findings against what the collectors recorded:

- a PASS or FAIL whose scope (the finding's account and region, or the cluster) has an input facet that
  was not read completely becomes UNKNOWN; the message keeps what the rule saw on the data that was read,
  the evidence names the facets, their status and the collectors' error codes;
- for every scope where an input facet failed or is partial, the rule reports one UNKNOWN finding of its
  own for that scope — so a rule whose objects could not be listed at all is never silent.

A facet of a Classic load balancer says nothing about an ALB's verdict and the other way round; every other
finding (a certificate, a role, a Kubernetes object) depends on all the rule's input facets in its scope. A rule
some of whose verdicts rest on more (``RuleMeta.partial_inputs``: http-without-redirect judges an ALB from AWS
data alone, an Ingress behind ingress-nginx also from the cluster) names those facets in the finding's
``evidence['rests_on']``; a gap there turns only those verdicts UNKNOWN and adds the scope's UNKNOWN.
A rule's own per-object UNKNOWNs (a field left ``None`` by a failed call) stay as they are.

A rule that raises is a defect, and it costs as little as it can: each rule judges its objects through
``guarded``, so an object it cannot judge (a malformed field, a case the code did not foresee) becomes one
UNKNOWN naming that object and the rule goes on with the next one; ``crashed`` is the registry's last line of
defence for a rule that raises outside any object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from auditor.correlate.graph import RuleError
from auditor.findings import Finding, KubeRef, Status
from auditor.inventory.facets import CLASSIC_ONLY, V2_ONLY, Facet, facets_of
from auditor.inventory.models import CoverageStatus, Inventory
from auditor.rules.base import RuleMeta

if TYPE_CHECKING:
    from auditor.correlate.graph import ExposureGraph

log = logging.getLogger(__name__)
T = TypeVar("T")

# how many of a scope's gaps a message spells out (the evidence has all of them)
_SHOWN = 3
# what a crashed rule (or a rule crashed on one object) asks of the user
_DEFECT_REMEDIATION = "This is a defect of the auditor: report it with the log of this run (it holds the traceback)."


@dataclass(frozen=True, slots=True)
class Gap:
    """One facet not (completely) read in one scope: account/region None = every account/region."""

    facet: Facet
    source: str  # aws | kubernetes
    account: str | None
    region: str | None
    status: CoverageStatus
    error_code: str | None
    message: str | None

    @property
    def scope(self) -> tuple[str | None, str | None]:
        return (self.account, self.region) if self.source == "aws" else (None, None)

    def evidence(self) -> dict[str, Any]:
        return {
            "facet": self.facet.value,
            "account": self.account,
            "region": self.region,
            "status": self.status.value,
            "error_code": self.error_code,
            "message": self.message,
        }

    def short(self) -> str:
        code = f" ({self.error_code})" if self.error_code else ""
        return f"{self.facet.value} {self.status.value}{code}"


class CoverageIndex:
    """Every facet not read completely, from an inventory's coverage; built once per audit."""

    def __init__(self, inventory: Inventory) -> None:
        self._gaps: dict[Facet, list[Gap]] = {}
        seen: set[str] = set()
        for cov in inventory.coverage:
            if cov.source == "rule":
                continue
            seen.add(cov.collector)
            for facet in facets_of(cov.collector):
                state = cov.facet(facet)
                if state.status not in (CoverageStatus.OK, CoverageStatus.ABSENT):  # absent: nothing to read
                    gap = Gap(facet, cov.source, cov.account, cov.region, state.status, state.error_code, state.message)
                    self._gaps.setdefault(facet, []).append(gap)
        # A collector with no coverage entry at all was never run (or the snapshot predates it): not read.
        for facet in Facet:
            if facet.collector not in seen:
                source = "kubernetes" if facet.collector == "kubernetes" else "aws"
                gap = Gap(facet, source, None, None, CoverageStatus.SKIPPED, None, "not collected")
                self._gaps.setdefault(facet, []).append(gap)

    def gaps(self, facets: Iterable[Facet]) -> list[Gap]:
        return [gap for facet in facets for gap in self._gaps.get(facet, ())]


def _kind(arn: str | None) -> str:
    """classic | v2 | other: which load balancer facets can bear on a finding about this resource."""
    if not arn or ":elasticloadbalancing:" not in arn:
        return "other"
    _, _, resource = arn.partition(":loadbalancer/")
    if not resource:
        return "other"  # a target group, a listener
    return "v2" if resource.startswith(("app/", "net/", "gwy/")) else "classic"


def _applies(gap: Gap, account: str | None, region: str | None, kind: str) -> bool:
    if gap.source != "aws":
        return True  # the cluster is every finding's scope
    if kind == "classic" and gap.facet in V2_ONLY:
        return False
    if kind == "v2" and gap.facet in CLASSIC_ONLY:
        return False
    if gap.account is not None and account is not None and gap.account != account:
        return False
    return not (gap.region is not None and region is not None and gap.region != region)


def _downgrade(finding: Finding, gaps: list[Gap]) -> Finding:
    shown = "; ".join(g.short() for g in gaps[:_SHOWN]) + (
        f" and {len(gaps) - _SHOWN} more" if len(gaps) > _SHOWN else ""
    )
    evidence = dict(finding.evidence)
    evidence["coverage_gaps"] = [g.evidence() for g in gaps]
    evidence["verdict_on_data_read"] = finding.status.value
    message = (
        f"Not judged: {shown} — this verdict would rest on data that was not read. "
        f"On the data that was read: {finding.message}"
    )
    return finding.model_copy(update={"status": Status.UNKNOWN, "message": message, "evidence": evidence})


def _scope_label(account: str | None, region: str | None, source: str) -> str:
    if source != "aws":
        return "the Kubernetes cluster"
    if region is None:
        return f"account {account}" if account else "every account"
    return f"{account}/{region}" if account else region


def _scope_findings(meta: RuleMeta, gaps: list[Gap]) -> list[Finding]:
    """One UNKNOWN per scope where an input facet failed or is partial (a skipped facet was not asked for)."""
    by_scope: dict[tuple[str, str | None, str | None], list[Gap]] = {}
    for gap in gaps:
        if gap.status.incomplete:
            account, region = gap.scope
            by_scope.setdefault((gap.source, account, region), []).append(gap)
    found: list[Finding] = []
    for (source, account, region), scope_gaps in sorted(by_scope.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        label = _scope_label(account, region, source)
        listing = [g for g in scope_gaps if g.facet.is_listing]
        what = (
            "its objects could not be listed"
            if listing
            else "some of the details its verdicts rest on could not be read"
        )
        shown = "; ".join(g.short() for g in scope_gaps[:_SHOWN])
        more = f" and {len(scope_gaps) - _SHOWN} more" if len(scope_gaps) > _SHOWN else ""
        found.append(
            meta.finding(
                Status.UNKNOWN,
                f"{meta.id} could not be fully evaluated in {label}: {what} ({shown}{more}).",
                remediation=(
                    "Give the auditor the read access named in the evidence (auditor iam-policy prints the IAM "
                    "policy; deploy/rbac.yaml the Kubernetes ClusterRole), or fix the connection, and audit again."
                ),
                resource_name=f"coverage of {label}",
                account=account,
                region=region,
                evidence={"coverage_gaps": [g.evidence() for g in scope_gaps]},
                discriminator=f"coverage:{source}:{account or ''}:{region or ''}",
            )
        )
    return found


RESTS_ON = "rests_on"  # evidence key: the partial input facets (values) a finding's verdict rests on


def enforce(meta: RuleMeta, findings: list[Finding], index: CoverageIndex) -> list[Finding]:
    """The rule's findings with no verdict standing on unread data, plus its UNKNOWN per incomplete scope."""
    gaps = index.gaps(meta.inputs)
    partial = index.gaps(f for f in meta.partial_inputs if f not in meta.inputs)
    if not gaps and not partial:
        return findings  # the common case: everything the rule reads was read
    memo: dict[tuple[str | None, str | None, str], list[Gap]] = {}
    out: list[Finding] = []
    for finding in findings:
        if finding.status == Status.UNKNOWN:
            out.append(finding)
            continue
        key = (finding.account, finding.region, _kind(finding.resource_arn))
        relevant = memo.get(key)
        if relevant is None:
            relevant = memo[key] = [g for g in gaps if _applies(g, *key)]
        named = finding.evidence.get(RESTS_ON) if partial else None
        if named:
            relevant = relevant + [g for g in partial if g.facet.value in named and _applies(g, *key)]
        out.append(_downgrade(finding, relevant) if relevant else finding)
    out.extend(_scope_findings(meta, gaps + partial))
    return out


def crashed(meta: RuleMeta, exc: BaseException) -> Finding:
    """The one UNKNOWN a rule that raised leaves behind: its verdicts are unknown, nothing is silently dropped."""
    return meta.finding(
        Status.UNKNOWN,
        f"{meta.id} crashed ({type(exc).__name__}), so none of its checks could be judged in this audit.",
        remediation=_DEFECT_REMEDIATION,
        resource_name="rule evaluation",
        evidence={"exception": type(exc).__name__, "detail": str(exc)[:500]},
        discriminator="rule-crashed",
    )


def guarded(
    meta: RuleMeta,
    graph: ExposureGraph,
    items: Iterable[T],
    judge: Callable[[T], Iterable[Finding]],
    *,
    describe: Callable[[T], dict[str, Any]],
) -> list[Finding]:
    """``judge(item)`` for each item in turn; an item whose judging raises gets one UNKNOWN instead.

    An object's findings are all of them or none (never half a verdict next to its UNKNOWN). The error is
    logged with its traceback and recorded in ``graph.rule_errors`` (the pipeline turns it into coverage and
    a partial result); the rule goes on with the next object. ``describe(item)`` gives the Finding fields
    that name the object (resource_arn, resource_name, account, region, kubernetes, and a discriminator when
    one load balancer holds several objects), as its normal finding would; it is only called for an object
    that raised. A list, not a generator: the rules run it per load balancer, and a generator layer per
    finding cost a measurable share of the engine's time."""
    found: list[Finding] = []
    for item in items:
        start = len(found)
        try:
            found.extend(judge(item))
        except Exception as exc:  # one object's defect must not hide the verdicts on the others
            del found[start:]
            found.append(_object_crashed(meta, graph, item, exc, describe))
    return found


def _object_label(fields: dict[str, Any]) -> str:
    """'k8s-shop-abc (arn:...)', 'shop/web:80 (Service shop/web)', 'Service shop/web', 'k8s-x (arn:...) [443]':
    unique per object, with the object's own discriminator when ``describe`` gives one (a listener of an LB)."""
    own = fields.pop("discriminator", None)
    name = fields.get("resource_name")
    arn = fields.get("resource_arn")
    kube: KubeRef | None = fields.get("kubernetes")
    label = str(name or arn or kube or "an object")
    if arn and arn != label:
        label += f" ({arn})"
    elif kube is not None and str(kube) != label:
        label += f" ({kube})"
    return f"{label} [{own}]" if own and own not in label else label


def _object_crashed(
    meta: RuleMeta, graph: ExposureGraph, item: T, exc: Exception, describe: Callable[[T], dict[str, Any]]
) -> Finding:
    try:
        fields = dict(describe(item))  # a copy: the discriminator is taken out of it
    except Exception:  # the object may be too malformed to name; the UNKNOWN must still be there
        log.debug("%s could not name the object it crashed on", meta.id, exc_info=True)
        fields = {"resource_name": f"a {type(item).__name__} (error {len(graph.rule_errors) + 1} of this audit)"}
    label = _object_label(fields)
    log.error("rule %s crashed on %s; its checks of this object are UNKNOWN", meta.id, label, exc_info=exc)
    graph.rule_errors.append(RuleError(meta.id, type(exc).__name__, str(exc), label))
    return meta.finding(
        Status.UNKNOWN,
        f"{meta.id} crashed on {label} ({type(exc).__name__}), so this object could not be judged in this audit; "
        "the rule judged the others.",
        remediation=_DEFECT_REMEDIATION,
        evidence={"exception": type(exc).__name__, "detail": str(exc)[:500], "object": label},
        discriminator=f"object-crashed:{label}",
        **fields,
    )
