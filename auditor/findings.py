"""Findings and the audit result: what rules produce and every output (CLI, API, store, reports) reads."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from auditor.inventory.models import Coverage


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical=4 ... info=0."""
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls(value.lower())
        except ValueError:
            raise ValueError(f"unknown severity {value!r}; one of {', '.join(s.value for s in cls)}") from None


_SEVERITY_RANK = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1, Severity.INFO: 0}


class Status(StrEnum):
    FAIL = "FAIL"
    PASS = "PASS"
    UNKNOWN = "UNKNOWN"  # the rule's inputs were not (fully) collected: neither PASS nor FAIL


class KubeRef(BaseModel):
    """A Kubernetes object: kind Ingress | IngressGroup | Service | Gateway | HTTPRoute (and the other routes) |
    ServiceAccount | Deployment | IngressClass | GatewayClass | LoadBalancerConfiguration ..."""

    model_config = ConfigDict(frozen=True)

    kind: str
    namespace: str | None = None
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


class Finding(BaseModel):
    """One rule's verdict on one resource."""

    rule_id: str
    title: str
    severity: Severity
    status: Status
    message: str = Field(description="one sentence a person reads: what is wrong (or fine) here")
    resource_arn: str | None = None
    resource_name: str | None = None
    account: str | None = None
    region: str | None = None
    kubernetes: KubeRef | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    remediation: str = ""
    monthly_saving_usd: float | None = Field(
        default=None,
        description="what fixing this finding saves a month (USD), from the same cost model as the load balancers'",
    )
    discriminator: str = Field(default="", description="tells apart findings of one rule on one resource")

    @classmethod
    def adopt(cls, data: dict[str, Any]) -> Finding:
        """A Finding over ``data`` as it is, without validation: a dict made by ``finding_data`` (every field, in
        order) and filled in by the caller with values already of the right types.

        For the rules' hot path (about ten findings per load balancer): pydantic's ``model_construct``
        walks every field in Python and cost a third of the engine's time at 10,000 load balancers. Fields
        left at None whose default comes from a factory get a fresh default. Every field counts as set (one
        shared set, which pydantic only ever adds field names to, so it never changes): ``exclude_unset`` is
        not for these findings. Callers are typed code (``RuleMeta.finding``); tests validate what the rules
        build (tests/rules/_harness.py).
        """
        for name, factory in _FINDING_FACTORIES:
            if data[name] is None:
                data[name] = factory()  # a fresh mutable default per finding
        obj = _new_object(cls)
        _set_slot(obj, "__dict__", data)
        _set_slot(obj, "__pydantic_fields_set__", _ALL_FIELDS)
        _set_slot(obj, "__pydantic_extra__", None)
        _set_slot(obj, "__pydantic_private__", None)
        return obj

    @property
    def fingerprint(self) -> str:
        """Stable identity across runs: rule + resource + Kubernetes owner + discriminator (not status)."""
        kube = f"{self.kubernetes.kind}/{self.kubernetes.namespace}/{self.kubernetes.name}" if self.kubernetes else ""
        key = "|".join((self.rule_id, self.resource_arn or "", kube, self.discriminator))
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    @property
    def namespace(self) -> str | None:
        return self.kubernetes.namespace if self.kubernetes else None

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["fingerprint"] = self.fingerprint
        return data


_new_object = object.__new__  # what BaseModel.__new__ is; bound once for Finding.adopt
_set_slot = object.__setattr__

# Every Finding field with its plain default, in declaration order, and the fields whose default comes from
# a factory (a fresh value per finding): what Finding.adopt fills in.
_FINDING_TEMPLATE: dict[str, Any] = {
    name: None if field.is_required() or field.default_factory is not None else field.default
    for name, field in Finding.model_fields.items()
}
_FINDING_FACTORIES: list[tuple[str, Any]] = [
    (name, field.default_factory) for name, field in Finding.model_fields.items() if field.default_factory is not None
]
_ALL_FIELDS: set[str] = set(Finding.model_fields)


def finding_data(values: dict[str, Any]) -> dict[str, Any]:
    """Every Finding field in declaration order, with its plain default (None for a factory's), then ``values``."""
    return {**_FINDING_TEMPLATE, **values}


def monthly_saving(findings: list[Finding]) -> float:
    """The monthly saving of these findings' FAILs: the largest saving per resource, summed (see AuditResult)."""
    best: dict[str, float] = {}
    for f in findings:
        if f.status != Status.FAIL or not f.monthly_saving_usd:
            continue
        key = f.resource_arn or f.fingerprint
        best[key] = max(best.get(key, 0.0), f.monthly_saving_usd)
    return round(sum(best.values()), 2)


class OwnerView(BaseModel):
    kind: str = Field(description="Ingress | IngressGroup | Service | Gateway")
    namespace: str | None = None
    name: str
    routes: list[str] = Field(
        default_factory=list,
        exclude_if=lambda routes: not routes,  # only Gateways and ingress controllers have them
        description="a Gateway's attached routes, e.g. 'HTTPRoute ns/name'; for the Service of an in-cluster "
        "ingress controller (ingress-nginx ...), the Ingresses it serves, e.g. 'Ingress ns/name'",
    )


class ListenerView(BaseModel):
    port: int
    protocol: str
    ssl_policy: str | None = None
    certificate_arns: list[str] | None = None
    default_action: str | None = None


class CostShareView(BaseModel):
    """The part of a load balancer's monthly cost one Kubernetes object pays (auditor.cost.allocate)."""

    owner: str
    namespace: str
    cluster: str
    team: str
    monthly_usd: float
    method: str = Field(description="requests (per-target-group RequestCount) | rules | sole-owner | unowned")


class LoadBalancerView(BaseModel):
    """A load balancer as reported: AWS facts + its Kubernetes owner + cost."""

    arn: str
    name: str
    type: str
    scheme: str
    dns_name: str
    region: str
    account: str
    owner: OwnerView | None = None
    owner_evidence: str | None = Field(default=None, description="stack-tag | legacy-tag | hostname")
    cluster: str | None = Field(default=None, description="cluster named by its tags")
    controller: str | None = Field(default=None, description="lbc | in-tree | None (not Kubernetes-made)")
    orphan: str | None = Field(default=None, description="owner-gone | cluster-gone | superseded")
    listeners: list[ListenerView] | None = None
    web_acl_arn: str | None = None
    monthly_cost_usd: float | None = None
    cost_basis: str | None = None
    cost_measured: list[str] = Field(default_factory=list, description="parts of the cost read from the account")
    cost_assumed: list[str] = Field(default_factory=list, description="parts of the cost taken on assumption")
    cost_shares: list[CostShareView] = Field(
        default_factory=list, description="who pays it: the parts sum to monthly_cost_usd"
    )
    billed_usd: float | None = Field(
        default=None, description="what AWS billed for it over billed_days (Cost Explorer); None: not read"
    )
    billed_days: int | None = Field(default=None, description="the days Cost Explorer's billed_usd covers")
    billed_difference_usd: float | None = Field(
        default=None,
        description="billed_usd minus the estimate for the same days (monthly_cost_usd × days × 24 / 730)",
    )


class ConsolidationMove(BaseModel):
    """One proposed move: Ingress groups that join one IngressGroup, or an HTTP Service that moves behind an ALB."""

    kind: Literal["join-group", "service-behind-alb"]
    group: str = Field(description="the alb.ingress.kubernetes.io/group.name they end up in")
    joins_existing_group: bool = Field(description="the group exists (its ALB stays); else the controller makes one")
    load_balancer: str = Field(description="the ALB that carries them afterwards (for a new group: its first)")
    moves: list[str] = Field(description="the Kubernetes objects that change, e.g. 'Ingress shop/web'")
    retires: list[str] = Field(description="names of the load balancers that go away")
    commands: list[str] = Field(default_factory=list, description="kubectl commands, in order")
    manifest: str | None = Field(default=None, description="manifest changes (Service moves)")
    scheme: str
    wafv2_acl_arn: str | None = None
    rules: int = Field(description="listener rules on the ALB afterwards, as far as this plan knows")
    certificates: int
    target_groups: int
    load_balancers_before: int
    load_balancers_after: int
    monthly_usd_before: float | None = None
    monthly_usd_after: float | None = None
    monthly_saving_usd: float | None = None
    notes: list[str] = Field(default_factory=list)


class NotPlanned(BaseModel):
    """A load balancer (or a whole cluster) the plan proposes nothing for, and why."""

    object: str
    reason: str


class ConsolidationPlan(BaseModel):
    """Which Ingresses can share an ALB and which HTTP Services can move behind one, with what that saves
    (``auditor.cost.consolidation``)."""

    cluster: str | None = None
    complete: bool = Field(description="False: some inputs were not read, and nothing is proposed for what they cover")
    moves: list[ConsolidationMove] = Field(default_factory=list)
    not_planned: list[NotPlanned] = Field(default_factory=list)
    load_balancers_before: int = 0
    load_balancers_after: int = 0
    monthly_usd_before: float = 0.0
    monthly_usd_after: float = 0.0
    monthly_saving_usd: float = 0.0
    unpriced_load_balancers: int = Field(default=0, description="counted, but without a price: not in the sums")
    basis: str = ""
    limits: dict[str, int] = Field(default_factory=dict, description="per ALB: rules, certificates, target groups")


class OtherGatewayView(BaseModel):
    """A Gateway another implementation serves (its class does not name the AWS Load Balancer Controller): listed,
    never judged — its exposure is that implementation's."""

    namespace: str
    name: str
    gateway_class: str
    controller: str | None = Field(description="the class's controllerName; None when the class does not exist")
    addresses: list[str] = Field(default_factory=list)


class AuditResult(BaseModel):
    """The outcome of one audit of one target; the JSON output is exactly this (plus fingerprints)."""

    target: str
    cluster_name: str | None = None
    started_at: datetime
    finished_at: datetime
    load_balancers: list[LoadBalancerView] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    coverage: list[Coverage] = Field(default_factory=list)
    api_calls: dict[str, int] = Field(default_factory=dict)
    status: Literal["complete", "partial"] = "complete"
    consolidation: ConsolidationPlan | None = Field(
        default=None, description="the consolidation plan (None: a run stored before plans were made)"
    )
    other_gateways: list[OtherGatewayView] = Field(
        default_factory=list, description="Gateways of other implementations: listed, not judged"
    )
    rules: list[str] | None = Field(
        default=None,
        description="the ids of the rules this audit ran (every rule but the opt-in ones when none were named; None: "
        "every rule, in results made before opt-in rules existed)",
    )
    selection: str | None = Field(
        default=None,
        description="the rule selection as given (`--rules` / `--skip-rules`, a target's `rules` / `skip_rules`, "
        "e.g. `rules=all` or `skip=hardening`); None: the default audit (every rule but the opt-in ones)",
    )

    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status == Status.FAIL]

    def monthly_saving_usd(self) -> float:
        """What fixing every FAIL would save a month: per resource the largest saving named for it (an orphaned,
        idle load balancer is deleted once, not once per rule that reports it), summed."""
        return monthly_saving(self.findings)

    def worst_severity(self) -> Severity | None:
        failed = self.failed()
        return max((f.severity for f in failed), key=lambda s: s.rank) if failed else None

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"findings"})
        data["findings"] = [f.as_json() for f in self.findings]
        return data
