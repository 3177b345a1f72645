"""API request and response bodies (pydantic), kept apart from the ORM models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from auditor.config import TargetConfig
from auditor.findings import Severity

FindingStatus = Literal["open", "unknown", "suppressed", "resolved"]


class KubeRefOut(BaseModel):
    kind: str
    namespace: str | None = None
    name: str


class FindingOut(BaseModel):
    """A finding as tracked across runs."""

    id: int
    fingerprint: str = Field(description="stable identity: rule + resource + Kubernetes owner")
    cluster: str = Field(description="target name")
    rule_id: str
    title: str
    severity: Severity
    status: FindingStatus = Field(description="open (FAIL), unknown (could not be checked), suppressed, resolved")
    message: str
    resource_arn: str | None = None
    resource_name: str | None = None
    account: str | None = None
    region: str | None = None
    kubernetes: KubeRefOut | None = Field(default=None, description="the Kubernetes object that owns the resource")
    remediation: str = ""
    monthly_cost_usd: float | None = None
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    reopened: int = Field(description="times it came back after being resolved")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> dict[str, Any]:
        """The row of a findings query as this schema's fields (a dict: FastAPI validates it once)."""
        return cls.row_shaper(list(row))(list(row.values()))

    @staticmethod
    def row_shaper(keys: Sequence[str]) -> Callable[[Sequence[Any]], dict[str, Any]]:
        """For a findings query's columns (``FINDING_COLUMNS`` + ``suppressed``), a function from one
        row's values to this schema's fields, in this schema's field order (see ``finding_page_json``)."""
        at = {k: i for i, k in enumerate(keys)}
        id_, fingerprint, cluster, rule_id, title, severity = (
            at["id"],
            at["fingerprint"],
            at["cluster"],
            at["rule_id"],
            at["title"],
            at["severity"],
        )
        state, suppressed, message, arn, resource_name, account, region = (
            at["state"],
            at["suppressed"],
            at["message"],
            at["resource_arn"],
            at["resource_name"],
            at["account"],
            at["region"],
        )
        kind, namespace, kube_name, remediation, cost = (
            at["kube_kind"],
            at["namespace"],
            at["kube_name"],
            at["remediation"],
            at["monthly_cost_usd"],
        )
        first_seen, last_seen, resolved_at, reopened = (
            at["first_seen"],
            at["last_seen"],
            at["resolved_at"],
            at["reopened"],
        )

        def shape(r: Sequence[Any]) -> dict[str, Any]:
            return {
                "id": r[id_],
                "fingerprint": r[fingerprint],
                "cluster": r[cluster],
                "rule_id": r[rule_id],
                "title": r[title],
                "severity": r[severity],
                "status": "suppressed" if r[suppressed] and r[state] != "resolved" else r[state],
                "message": r[message],
                "resource_arn": r[arn],
                "resource_name": r[resource_name],
                "account": r[account],
                "region": r[region],
                "kubernetes": ({"kind": r[kind], "namespace": r[namespace], "name": r[kube_name]} if r[kind] else None),
                "remediation": r[remediation],
                "monthly_cost_usd": r[cost],
                "first_seen": r[first_seen],
                "last_seen": r[last_seen],
                "resolved_at": r[resolved_at],
                "reopened": r[reopened],
            }

        return shape


class FindingPage(BaseModel):
    items: list[FindingOut]
    limit: int
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")
    total: int | None = Field(default=None, description="only with ?with_total=true")


def finding_page_json(items: list[dict[str, Any]], limit: int, next_cursor: str | None, total: int | None) -> bytes:
    """A FindingPage as JSON from items that ``FindingOut.row_shaper`` made: the bytes that
    ``FindingPage(...).model_dump_json()`` gives (same keys in the same order, datetimes in UTC with "Z",
    floats shortest round-trip, NaN as null), without building and validating 50 models per request —
    the values come from our own typed columns. orjson: a quarter of pydantic_core.to_json's time here."""
    page = {"items": items, "limit": limit, "next_cursor": next_cursor, "total": total}
    return orjson.dumps(page, option=orjson.OPT_UTC_Z)


class ObservationOut(BaseModel):
    run_id: int
    observed_at: datetime
    status: str = Field(description="FAIL, UNKNOWN, PASS, or RESOLVED (no longer reported in a complete run)")
    severity: Severity
    message: str


class FindingDetail(FindingOut):
    evidence: dict[str, Any] | None = None
    history: list[ObservationOut]


class LbFindingOut(BaseModel):
    id: int
    rule_id: str
    title: str
    severity: Severity
    status: FindingStatus


class OwnerOut(BaseModel):
    kind: str
    namespace: str | None = None
    name: str


class LoadBalancerOut(BaseModel):
    cluster: str
    run_id: int = Field(description="the run that saw it (the target's latest finished run)")
    arn: str
    name: str
    type: str
    scheme: str
    dns_name: str
    account: str
    region: str
    owner: OwnerOut | None = None
    controller: str | None = None
    orphan: str | None = Field(default=None, description="owner-gone | cluster-gone | superseded")
    monthly_cost_usd: float | None = None
    cost_basis: str | None = None
    findings: list[LbFindingOut]


class LoadBalancerPage(BaseModel):
    items: list[LoadBalancerOut]
    total: int
    limit: int
    offset: int


class CoverageOut(BaseModel):
    source: str
    collector: str
    account: str | None = None
    region: str | None = None
    status: str
    error_code: str | None = None
    message: str | None = None
    calls: int = 0
    duration_ms: int = 0


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    cluster: str
    trigger: str = Field(description="schedule | api | cli")
    scheduled_for: datetime | None = None
    status: str = Field(description="running | complete | partial | failed")
    started_at: datetime
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    error: str | None = None
    findings_failed: int
    findings_unknown: int
    findings_passed: int
    findings_new: int
    findings_resolved: int
    load_balancers: int
    aws_calls: int
    collector_errors: int
    coverage: list[CoverageOut] | None = None
    links: dict[str, str] = Field(default_factory=dict)


class RunDetail(RunOut):
    api_calls: dict[str, int] | None = None


class RunPage(BaseModel):
    items: list[RunOut]
    limit: int
    next_cursor: str | None


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(min_length=1, description="target (or cluster) name")


class TargetOut(BaseModel):
    name: str
    cluster_name: str | None
    schedule: str | None
    source: str = Field(description="config (the config file) | api")
    enabled: bool
    definition: TargetConfig
    last_run: RunOut | None = None


class SuppressionIn(BaseModel):
    """Every matcher given must match; at least one of rule_id, resource_arn, namespace, fingerprint."""

    model_config = ConfigDict(extra="forbid")

    cluster: str | None = Field(default=None, description="limit to one target; default: all")
    rule_id: str | None = Field(default=None, min_length=1)
    resource_arn: str | None = Field(default=None, min_length=1)
    namespace: str | None = Field(default=None, min_length=1)
    fingerprint: str | None = Field(default=None, min_length=1)
    reason: str = Field(min_length=3, max_length=2000, description="why this is accepted")
    expires_at: AwareDatetime | None = Field(default=None, description="with a time zone; null: never")

    @model_validator(mode="after")
    def _one_matcher(self) -> SuppressionIn:
        if not any((self.rule_id, self.resource_arn, self.namespace, self.fingerprint)):
            raise ValueError("give at least one of rule_id, resource_arn, namespace, fingerprint")
        return self


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    cluster: str | None = None
    rule_id: str | None
    resource_arn: str | None
    namespace: str | None
    fingerprint: str | None
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None


class ClusterSummaryOut(BaseModel):
    cluster: str
    cluster_name: str | None
    open_by_severity: dict[str, int] = Field(description="open (FAIL), not suppressed")
    unknown: int = Field(description="could not be checked (collector failed)")
    suppressed: int
    load_balancers_by_type: dict[str, int]
    orphans: int
    orphan_monthly_cost_usd: float
    monthly_cost_usd: float
    last_run: RunOut | None = None


class SummaryOut(BaseModel):
    clusters: list[ClusterSummaryOut]


class ErrorOut(BaseModel):
    detail: Any
    message: str | None = None
