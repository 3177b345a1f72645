"""ORM models of the history database (SQLAlchemy 2, typed); the schema changes only through Alembic.

Column types follow the data. Text that comes from outside — AWS, Kubernetes, the rules' prose, the
user — is ``TEXT`` (``StoredText``): PostgreSQL rejects a value longer than a ``VARCHAR(n)`` (the whole
run with it) while SQLite ignores the length, and ``text`` costs nothing over ``varchar``
(https://www.postgresql.org/docs/15/datatype-character.html, https://www.sqlite.org/faq.html#q9).
A bounded ``String(n)`` is kept only where this program makes the value from a closed set or a fixed
format: statuses, triggers, severities, scopes, hex digests. Indexed text columns hold names and ARNs,
which their own domains keep far below the btree entry limit of about a third of a page
(https://www.postgresql.org/docs/15/btree-intro.html; an ARN is at most 2048 characters).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Names for constraints and indexes, so migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")

# PostgreSQL's text cannot hold the character NUL (https://www.postgresql.org/docs/15/datatype-character.html)
# nor jsonb its escape \u0000 (https://www.postgresql.org/docs/15/datatype-json.html); SQLite stores both.
# A NUL from outside (an annotation value, say) is stored as U+FFFD on both, rather than lose the run.
NUL, REPLACEMENT = "\x00", "\ufffd"
_JSON_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")  # \u0000 after an even run of backslashes


# Nor is NaN or Infinity JSON (RFC 8259 section 6): jsonb refuses the tokens json.dumps writes for them, SQLite
# stores them. A non-finite float from outside (a Cost Explorer amount is a string AWS sends, parsed with float) is
# stored as the string pydantic reads back as that float ("NaN", "Infinity", "-Infinity") on both, rather than lose
# the run.
def storable_json(value: Any) -> str:
    """``json.dumps`` (SQLAlchemy's default serializer) with every NUL turned into U+FFFD and every non-finite float
    into its name as a string; the engine's ``json_serializer`` (``auditor.store.db.make_engine``)."""
    try:
        dumped = json.dumps(value, allow_nan=False)
    except ValueError:  # rare: only then is the document walked
        dumped = json.dumps(_finite(value), allow_nan=False)
    return _JSON_NUL_ESCAPE.sub(r"\1\\ufffd", dumped) if "\\u0000" in dumped else dumped


def _finite(value: Any) -> Any:
    """``value`` with each NaN or infinite float replaced by the token json.dumps would have written, as a string."""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # NaN, Infinity or -Infinity
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        # SQLite stores text; without the offset, comparisons stay lexicographic-safe.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StoredText(TypeDecorator[str]):
    """``TEXT``, any length, on every backend the same: a NUL character is stored as U+FFFD (see ``NUL``)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return value.replace(NUL, REPLACEMENT) if value is not None and NUL in value else value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonType}


class TargetRow(Base):
    """An audit target (cluster + accounts + regions + schedule), from the config file or the API."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(StoredText, unique=True)
    cluster_name: Mapped[str | None] = mapped_column(StoredText)
    schedule: Mapped[str | None] = mapped_column(StoredText)
    definition: Mapped[dict[str, Any]] = mapped_column(JsonType, doc="TargetConfig as JSON")
    source: Mapped[str] = mapped_column(String(20), default="config", doc="config | api")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RunRow(Base):
    """One audit of one target. 'running' holds a lease renewed by heartbeats; results land in one commit."""

    __tablename__ = "runs"
    __table_args__ = (
        # At most one running run per target, on every backend and across replicas: no overlap.
        Index(
            "uq_runs_running_target",
            "target_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
        # A scheduled fire time of a target is claimed by exactly one replica.
        UniqueConstraint("target_id", "scheduled_for", name="uq_runs_target_scheduled_for"),
        Index("ix_runs_target_started", "target_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(20), doc="schedule | api | cli")
    scheduled_for: Mapped[datetime | None] = mapped_column(doc="the cron fire time this run answers")
    status: Mapped[str] = mapped_column(String(20), doc="running | complete | partial | failed")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    owner: Mapped[str] = mapped_column(StoredText, default="", doc="host:pid of the process running it")
    error: Mapped[str | None] = mapped_column(StoredText)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    findings_failed: Mapped[int] = mapped_column(Integer, default=0)
    findings_unknown: Mapped[int] = mapped_column(Integer, default=0)
    findings_passed: Mapped[int] = mapped_column(Integer, default=0)
    findings_new: Mapped[int] = mapped_column(Integer, default=0)
    findings_resolved: Mapped[int] = mapped_column(Integer, default=0)
    load_balancers: Mapped[int] = mapped_column(Integer, default=0)
    aws_calls: Mapped[int] = mapped_column(Integer, default=0)
    collector_errors: Mapped[int] = mapped_column(Integer, default=0)
    coverage: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)
    api_calls: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    # The whole AuditResult, so any stored run's report can be rendered again.
    result: Mapped[dict[str, Any] | None] = deferred(mapped_column(JsonType))

    target: Mapped[TargetRow] = relationship(lazy="joined", innerjoin=True)


class LoadBalancerRow(Base):
    """A load balancer as seen in one run: AWS facts, Kubernetes owner, cost when known."""

    __tablename__ = "load_balancers"
    __table_args__ = (UniqueConstraint("run_id", "arn", name="uq_load_balancers_run_arn"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    arn: Mapped[str] = mapped_column(StoredText)
    name: Mapped[str] = mapped_column(StoredText)
    type: Mapped[str] = mapped_column(StoredText)
    scheme: Mapped[str] = mapped_column(StoredText)
    dns_name: Mapped[str] = mapped_column(StoredText)
    account: Mapped[str] = mapped_column(StoredText)
    region: Mapped[str] = mapped_column(StoredText)
    owner_kind: Mapped[str | None] = mapped_column(StoredText)
    owner_namespace: Mapped[str | None] = mapped_column(StoredText)
    owner_name: Mapped[str | None] = mapped_column(StoredText)
    controller: Mapped[str | None] = mapped_column(StoredText)
    orphan: Mapped[str | None] = mapped_column(StoredText)
    monthly_cost_usd: Mapped[float | None] = mapped_column(Float)
    cost_basis: Mapped[str | None] = mapped_column(StoredText)
    view: Mapped[dict[str, Any]] = mapped_column(JsonType, doc="the LoadBalancerView as reported")


class FindingRow(Base):
    """A finding's identity on one target across runs (one row per fingerprint) and its current state."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("target_id", "fingerprint", name="uq_findings_target_fingerprint"),
        # The findings list pages by (severity_rank desc, id desc), open or resolved.
        Index("ix_findings_open_rank_id", "is_open", "severity_rank", "id"),
        Index("ix_findings_target_open_rank_id", "target_id", "is_open", "severity_rank", "id"),
        Index("ix_findings_resource", "resource_arn"),
        Index("ix_findings_namespace_open_rank_id", "namespace", "is_open", "severity_rank", "id"),
        Index("ix_findings_rule_open_rank_id", "rule_id", "is_open", "severity_rank", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(StoredText)
    title: Mapped[str] = mapped_column(StoredText)
    severity: Mapped[str] = mapped_column(String(10))
    severity_rank: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(
        String(10),
        doc="open (FAIL in the latest run) | unknown (open, not re-checked: UNKNOWN, or absent from a partial run)"
        " | resolved; see auditor.lifecycle",
    )
    is_open: Mapped[bool] = mapped_column(Boolean, doc="state is open or unknown (what the list pages on)")
    message: Mapped[str] = mapped_column(StoredText)
    resource_arn: Mapped[str | None] = mapped_column(StoredText)
    resource_name: Mapped[str | None] = mapped_column(StoredText)
    account: Mapped[str | None] = mapped_column(StoredText)
    region: Mapped[str | None] = mapped_column(StoredText)
    kube_kind: Mapped[str | None] = mapped_column(StoredText)
    namespace: Mapped[str | None] = mapped_column(StoredText)
    kube_name: Mapped[str | None] = mapped_column(StoredText)
    remediation: Mapped[str] = mapped_column(StoredText, default="")
    monthly_saving_usd: Mapped[float | None] = mapped_column(Float, doc="what fixing it saves a month (USD)")
    first_seen: Mapped[datetime] = mapped_column(index=True)
    last_seen: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    reopened: Mapped[int] = mapped_column(Integer, default=0, doc="times it came back after being resolved")
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    evidence: Mapped[dict[str, Any] | None] = deferred(mapped_column(JsonType))

    target: Mapped[TargetRow] = relationship(lazy="joined", innerjoin=True)


class ObservationRow(Base):
    """What one run said about one finding: FAIL, UNKNOWN, PASS, RESOLVED (gone in a complete run) or ABSENT
    (not reported by a partial run). Recorded for every lifecycle change but "nothing to report"."""

    __tablename__ = "observations"
    __table_args__ = (UniqueConstraint("finding_id", "run_id", name="uq_observations_finding_run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    observed_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(StoredText)


class SuppressionRow(Base):
    """An accepted finding: by rule, resource, namespace or fingerprint (all given must match), until expiry."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    rule_id: Mapped[str | None] = mapped_column(StoredText)
    resource_arn: Mapped[str | None] = mapped_column(StoredText)
    namespace: Mapped[str | None] = mapped_column(StoredText)
    fingerprint: Mapped[str | None] = mapped_column(StoredText, doc="as given by the user; matched as is")
    reason: Mapped[str] = mapped_column(StoredText)
    created_by: Mapped[str] = mapped_column(StoredText, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()


class TokenRow(Base):
    """An API access token: only its sha256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(StoredText, unique=True)
    scope: Mapped[str] = mapped_column(String(10), doc="read | admin")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), doc="first characters, to recognise a token in lists")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class PriceListRow(Base):
    """One region's prices as last read from the AWS Price List API: the cache audits read before calling it."""

    __tablename__ = "price_lists"

    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    fetched_at: Mapped[datetime] = mapped_column(doc="when the Price List API answered")
    document: Mapped[dict[str, Any]] = mapped_column(JsonType, doc="the RegionPriceList as JSON")


class SharedReadRow(Base):
    """One account × region × collector read kept for the other replicas (``auditor.store.shared_reads``):
    claimed by the run reading it (``holder``), then its compressed JSON (``payload``)."""

    __tablename__ = "shared_reads"

    key: Mapped[str] = mapped_column(String(64), primary_key=True, doc="SHA-256 of the read's key")
    label: Mapped[str] = mapped_column(StoredText, default="", doc="account/region and collector, for people")
    state: Mapped[str] = mapped_column(String(16), doc="reading | done | failed")
    holder: Mapped[int | None] = mapped_column(Integer, doc="the run reading it (state reading)")
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow, doc="claimed, or renewed by its reader")
    read_at: Mapped[datetime | None] = mapped_column(doc="when the read was kept (done) or failed (failed)")
    expires_at: Mapped[datetime | None] = mapped_column(doc="when it is too old for the run that kept it")
    payload: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
