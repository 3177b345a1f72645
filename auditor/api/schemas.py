"""API request and response bodies (pydantic), kept apart from the ORM models."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from auditor.config import MAX_NAME, TargetConfig
from auditor.findings import Severity

FindingStatus = Literal["open", "unknown", "suppressed", "resolved"]

# --- What the API accepts: checked here, once, so that no database ever sees a value it would refuse.
# PostgreSQL refuses the NUL character in text (psycopg: "PostgreSQL text fields cannot contain NUL (0x00)
# bytes"; jsonb refuses \u0000: https://www.postgresql.org/docs/15/datatype-json.html), a string longer
# than a varchar(n) column (https://www.postgresql.org/docs/15/datatype-character.html) or than a btree
# entry of an indexed column (https://www.postgresql.org/docs/15/btree-intro.html), and an integer beyond
# 2^31 - 1 for an `integer` column (https://www.postgresql.org/docs/15/datatype-numeric.html). SQLite
# takes all of them, so without these checks one request is a 404 or 422 on SQLite and a 500 on PostgreSQL.
# Ids in paths are checked in deps.py.

NO_NUL_PATTERN = r"^[^\x00]*$"


@dataclass(frozen=True)
class _NoNul:
    """``Annotated`` marker: the string must not contain NUL; the JSON schema (so the OpenAPI document) says so
    with a pattern, the check itself gives a message a person can act on."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_refuse_nul, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = NO_NUL_PATTERN
        return json_schema


def _refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


NO_NUL = _NoNul()

# One type per kind of string, bounded by what its domain allows: a longer value names nothing.
# Target names: what the /targets/{name} path takes; a filter by cluster matches target or cluster names.
TargetName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME), NO_NUL]
RuleId = Annotated[str, StringConstraints(min_length=1, max_length=100), NO_NUL]  # ids like "weak-tls-policy"
# AWS APIs take ARNs of at most 2048 characters (e.g. RoleArn of
# https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
ResourceArn = Annotated[str, StringConstraints(min_length=1, max_length=2048), NO_NUL]
# A DNS subdomain: the longest Kubernetes object name
# (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/); a namespace is shorter still.
Namespace = Annotated[str, StringConstraints(min_length=1, max_length=253), NO_NUL]
Fingerprint = Annotated[str, StringConstraints(min_length=1, max_length=64), NO_NUL]  # a hex digest
Text = Annotated[str, NO_NUL]  # a Text column or a JSON value: any length, but no NUL


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC, which datetime cannot hold
        raise ValueError("out of range once converted to UTC") from None


# A point in time with its zone, as UTC: what the store compares and keeps.
UtcInstant = Annotated[AwareDatetime, AfterValidator(_in_utc)]


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
    status: FindingStatus = Field(
        description="open (FAILed last time it was checked), unknown (open, but the last run could not re-check "
        "it), suppressed, resolved (auditor/lifecycle.py)"
    )
    message: str
    resource_arn: str | None = None
    resource_name: str | None = None
    account: str | None = None
    region: str | None = None
    kubernetes: KubeRefOut | None = Field(default=None, description="the Kubernetes object that owns the resource")
    remediation: str = ""
    monthly_saving_usd: float | None = Field(default=None, description="what fixing it saves a month (USD)")
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
            at["monthly_saving_usd"],
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
                "monthly_saving_usd": r[cost],
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
    status: str = Field(
        description="FAIL, UNKNOWN, PASS, RESOLVED (no longer reported in a complete run) or ABSENT (not reported "
        "by a partial run: still open, not re-checked)"
    )
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
    kind: str = Field(description="Ingress | IngressGroup | Service | Gateway")
    namespace: str | None = None
    name: str
    routes: list[str] = Field(
        default_factory=list,
        description="a Gateway's attached routes, e.g. 'HTTPRoute ns/name'; for the Service of an in-cluster ingress "
        "controller (ingress-nginx ...), the Ingresses it serves, e.g. 'Ingress ns/name' (empty otherwise)",
    )


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


class FacetCoverageOut(BaseModel):
    status: str
    error_code: str | None = None
    message: str | None = None


class CoverageOut(BaseModel):
    source: str = Field(
        description="aws | kubernetes | rule (a rule that crashed: collector is its id) | export (where the run's "
        "findings were sent, e.g. securityhub)"
    )
    collector: str
    account: str | None = None
    region: str | None = None
    status: str
    error_code: str | None = None
    message: str | None = None
    calls: int = 0
    duration_ms: int = 0
    facets: dict[str, FacetCoverageOut] = Field(
        default_factory=dict, description="facets whose status differs from the collector's (auditor.inventory.facets)"
    )


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

    target: TargetName = Field(description="target (or cluster) name")
    rules: list[RuleId] | None = Field(
        default=None,
        max_length=200,
        description="run only these rules (ids or categories; `all` is every rule, the opt-in ones too), replacing "
        "the target's own `rules`; only the data they need is collected, and findings of other rules are neither "
        "re-checked nor resolved",
    )
    skip_rules: list[RuleId] | None = Field(
        default=None, max_length=200, description="rules (ids or categories) not to run, added to the target's own"
    )


class TargetOut(BaseModel):
    name: str
    cluster_name: str | None
    schedule: str | None
    source: str = Field(description="config (the config file) | api")
    enabled: bool
    definition: TargetConfig | None = Field(description="None when the stored definition no longer validates")
    definition_error: str | None = Field(
        default=None, description="why the stored definition no longer validates (stored by an older auditor)"
    )
    last_run: RunOut | None = None


class TargetIn(TargetConfig):
    """A target sent to the API: what a target of the config file must be (``TargetConfig``: names, regions,
    schedule), and no NUL anywhere, since the definition is stored as JSON (jsonb on PostgreSQL)."""

    @field_validator("*")
    @classmethod
    def _no_nul_anywhere(cls, value: Any) -> Any:
        _refuse_nul_inside(value)
        return value

    def as_config(self) -> TargetConfig:
        return TargetConfig.model_validate(self.model_dump())


def _refuse_nul_inside(value: Any) -> None:
    if isinstance(value, str | PurePath):
        _refuse_nul(str(value))
    elif isinstance(value, list):
        for item in value:
            _refuse_nul_inside(item)
    elif isinstance(value, BaseModel):
        for item in dict(value).values():
            _refuse_nul_inside(item)


class SuppressionIn(BaseModel):
    """Every matcher given must match; at least one of rule_id, resource_arn, namespace, fingerprint."""

    model_config = ConfigDict(extra="forbid")

    cluster: TargetName | None = Field(default=None, description="limit to one target; default: all")
    rule_id: RuleId | None = None
    resource_arn: ResourceArn | None = None
    namespace: Namespace | None = None
    fingerprint: Fingerprint | None = None
    reason: Text = Field(min_length=3, max_length=2000, description="why this is accepted")
    expires_at: UtcInstant | None = Field(default=None, description="with a time zone; null: never")

    @model_validator(mode="after")
    def _one_matcher(self) -> SuppressionIn:
        if not any((self.rule_id, self.resource_arn, self.namespace, self.fingerprint)):
            raise ValueError("give at least one of rule_id, resource_arn, namespace, fingerprint")
        return self

    @field_validator("rule_id", "resource_arn", "namespace", "fingerprint")
    @classmethod
    def _matcher_shape(cls, v: str | None, info: ValidationInfo) -> str | None:
        """A matcher no finding can have would be stored and never match: refused with what one looks like."""
        pattern, looks_like = _MATCHER_SHAPES[str(info.field_name)]
        if v is not None and not pattern.fullmatch(v):
            raise ValueError(looks_like)
        return v


_MATCHER_SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    "rule_id": (
        re.compile(r"[a-z0-9][a-z0-9-]{0,99}"),
        "a rule id is lowercase letters, digits and '-' (auditor rules lists them)",
    ),
    "resource_arn": (
        re.compile(r"arn:[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:\S+"),
        "an ARN is arn:<partition>:<service>:<region>:<account>:<resource>",
    ),
    # https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-label-names
    "namespace": (
        re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"),
        "a namespace is a DNS label: up to 63 lowercase letters, digits and '-'",
    ),
    "fingerprint": (
        re.compile(r"[0-9a-f]{16,64}"),
        "a fingerprint is a finding's hex digest (32 lowercase hex digits, as findings show it)",
    ),
}


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
    monthly_saving_usd: float = Field(
        description="what fixing the open findings would save a month: the largest saving per resource, summed"
    )
    last_run: RunOut | None = None


class SummaryOut(BaseModel):
    clusters: list[ClusterSummaryOut]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    reason: str | None = Field(default=None, description="what is not ready; absent when ready")


class FieldError(BaseModel):
    """One invalid part of a request."""

    loc: list[str | int] = Field(description='where: ["query", "cluster"], ["path", "run_id"], ["body", "regions", 0]')
    msg: str = Field(description="what is wrong with it")
    type: str = Field(description="the kind of problem, e.g. string_too_long, missing, value_error")


class ErrorOut(BaseModel):
    """The body of every error response (4xx, 503)."""

    detail: str | list[FieldError] = Field(description="what went wrong; for a 422, one entry per invalid field")
    message: str = Field(description="the same in one line")


_ERROR_MEANINGS = {
    400: "the body could not be read (FastAPI's answer to a body that is not UTF-8)",
    401: "no token, or an unknown or revoked one",
    403: "this needs a token with the 'admin' scope",
    404: "no such thing (an id out of range included)",
    409: "conflicts with the current state",
    422: "invalid input: detail names each invalid field",
    503: "the database is unavailable; retry after Retry-After seconds",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error statuses a route answers with, for FastAPI's ``responses=``: each with the ``ErrorOut`` body,
    so the OpenAPI document says what a client gets (a 422 declared here replaces FastAPI's own)."""
    return {code: {"model": ErrorOut, "description": _ERROR_MEANINGS[code]} for code in codes}
