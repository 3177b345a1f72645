"""Read side of the history: findings (filtered, keyset-paged), one finding's history, load balancers, summary."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.orm import Session

from auditor.errors import NotFound
from auditor.findings import CostShareView, Severity
from auditor.store.models import (
    FindingRow,
    LoadBalancerRow,
    ObservationRow,
    RunRow,
    SuppressionRow,
    TargetRow,
    UtcDateTime,
    utcnow,
)
from auditor.store.runs import FINISHED, latest_finished_ids

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from auditor.cost.allocate import CostPoint

FINDING_STATUSES = ("open", "unknown", "suppressed", "resolved", "all")
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])
_CURSOR = re.compile(r"^(\d)\.(\d{1,10})$")

# Ids are `Integer` columns: PostgreSQL's 4-byte integer, which refuses a larger value in a comparison
# (https://www.postgresql.org/docs/15/datatype-numeric.html) where SQLite would answer.
ROW_ID_MAX = 2**31 - 1


def row_id(value: int | str) -> int | None:
    """The row id ``value`` names, or None when no row can have one (zero, negative, past ROW_ID_MAX). Text counts
    in ASCII digits only: ``\\d`` and ``str.isdigit`` also take "１", "٣" or "²", which ``int()`` reads or refuses.
    The one reading of ids for the API, the dashboard and the CLI."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdecimal()) or len(value) > 10:
            return None
        value = int(value)
    return value if 1 <= value <= ROW_ID_MAX else None


class BadCursor(ValueError):
    """A page cursor that this API did not hand out."""


def suppressed_clause(now: datetime | ColumnElement[datetime] | None = None) -> ColumnElement[bool]:
    """True for a finding that an unexpired suppression matches (every field it sets must match)."""
    s = SuppressionRow
    now = utcnow() if now is None else now
    return exists().where(
        or_(s.expires_at.is_(None), s.expires_at > now),
        or_(s.target_id.is_(None), s.target_id == FindingRow.target_id),
        or_(s.rule_id.is_(None), s.rule_id == FindingRow.rule_id),
        or_(s.resource_arn.is_(None), s.resource_arn == FindingRow.resource_arn),
        or_(s.namespace.is_(None), s.namespace == FindingRow.namespace),
        or_(s.fingerprint.is_(None), s.fingerprint == FindingRow.fingerprint),
    )


_INLINE_SUPPRESSIONS = 64


def suppressed_now(session: Session) -> ColumnElement[bool]:
    """``suppressed_clause()`` for a statement over many findings: the unexpired suppressions are read first and
    written into the statement as constants, a boolean expression per row instead of a sub-query run once per
    row (over 80,000 open findings on PostgreSQL the sub-query took 80 of the summary's 120 ms). Past
    ``_INLINE_SUPPRESSIONS`` suppressions it is the sub-query again."""
    s, f = SuppressionRow, FindingRow
    now = utcnow()
    rows = session.execute(
        select(s.target_id, s.rule_id, s.resource_arn, s.namespace, s.fingerprint)
        .where(or_(s.expires_at.is_(None), s.expires_at > now))
        .limit(_INLINE_SUPPRESSIONS + 1)
    ).all()
    if len(rows) > _INLINE_SUPPRESSIONS:
        return suppressed_clause(now)
    alternatives: list[ColumnElement[bool]] = []
    for target_id, rule_id, arn, namespace, fingerprint in rows:
        matchers = [
            column == value
            for column, value in (
                (f.target_id, target_id),
                (f.rule_id, rule_id),
                (f.resource_arn, arn),
                (f.namespace, namespace),
                (f.fingerprint, fingerprint),
            )
            if value is not None
        ]
        alternatives.append(and_(*matchers) if matchers else true())
    # a NULL column makes its comparison NULL: coalesced, the expression is true or false like the EXISTS
    return func.coalesce(or_(*alternatives), false()) if alternatives else false()


@dataclass(frozen=True)
class FindingFilter:
    cluster: str | None = None
    namespace: str | None = None
    rule: str | None = None
    severities: tuple[Severity, ...] = ()
    status: str = "open"
    since: datetime | None = None  # first seen at or after


@dataclass
class FindingPage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None


FINDING_COLUMNS = (
    FindingRow.id,
    FindingRow.fingerprint,
    TargetRow.name.label("cluster"),
    FindingRow.rule_id,
    FindingRow.title,
    FindingRow.severity,
    FindingRow.severity_rank,
    FindingRow.state,
    FindingRow.message,
    FindingRow.resource_arn,
    FindingRow.resource_name,
    FindingRow.account,
    FindingRow.region,
    FindingRow.kube_kind,
    FindingRow.namespace,
    FindingRow.kube_name,
    FindingRow.remediation,
    FindingRow.monthly_saving_usd,
    FindingRow.first_seen,
    FindingRow.last_seen,
    FindingRow.resolved_at,
    FindingRow.reopened,
)


def _slots(n: int) -> int:
    """Bound parameters for ``n`` values, rounded up to a power of two (padding repeats a value): a few
    statements per filter shape instead of one per list length, and no expanding parameters, so the
    SQL is static text that PostgreSQL prepares once per connection."""
    slots = 1
    while slots < n:
        slots *= 2
    return slots


def _padded(name: str, values: list[int], slots: int) -> dict[str, int]:
    return {f"{name}_{i}": values[min(i, len(values) - 1)] for i in range(slots)}


def _filtered(query: Q, flt: FindingFilter, target_slots: int = 0, rank_slots: int = 0) -> Q:
    """The filter's WHERE clauses with bound parameters (see ``_params``), so a statement per filter
    shape can be built once and reused: building and caching SQL costs more than running it."""
    if flt.cluster is not None:  # resolved to target ids first: the planner then uses the per-target index
        query = query.where(
            FindingRow.target_id.in_([bindparam(f"target_{i}", type_=Integer()) for i in range(target_slots)])
        )
    if flt.namespace is not None:
        query = query.where(FindingRow.namespace == bindparam("namespace", type_=String()))
    if flt.rule is not None:
        query = query.where(FindingRow.rule_id == bindparam("rule", type_=String()))
    if flt.severities:
        # by rank, which the (…, severity_rank, id) indexes carry
        query = query.where(
            FindingRow.severity_rank.in_([bindparam(f"rank_{i}", type_=Integer()) for i in range(rank_slots)])
        )
    if flt.since is not None:
        query = query.where(FindingRow.first_seen >= bindparam("since", type_=UtcDateTime()))
    status = flt.status
    if status in ("open", "unknown", "suppressed"):
        query = query.where(FindingRow.is_open.is_(True))
        if status == "unknown":
            query = query.where(FindingRow.state == "unknown")
        suppressed = suppressed_clause(bindparam("now", type_=UtcDateTime()))
        query = query.where(suppressed if status == "suppressed" else ~suppressed)
    elif status == "resolved":
        query = query.where(FindingRow.is_open.is_(False))
    elif status != "all":
        raise ValueError(f"unknown status {status!r}; one of {', '.join(FINDING_STATUSES)}")
    return query


_CLUSTER = bindparam("cluster", type_=String())
_TARGET_IDS = select(TargetRow.id).where(or_(TargetRow.name == _CLUSTER, TargetRow.cluster_name == _CLUSTER))


def _params(flt: FindingFilter, now: datetime, target_ids: list[int]) -> dict[str, Any]:
    params: dict[str, Any] = {"now": now}
    if flt.cluster is not None:
        params.update(_padded("target", target_ids, _slots(len(target_ids))))
    if flt.namespace is not None:
        params["namespace"] = flt.namespace
    if flt.rule is not None:
        params["rule"] = flt.rule
    if flt.severities:
        ranks = sorted({s.rank for s in flt.severities})
        params.update(_padded("rank", ranks, _slots(len(ranks))))
    if flt.since is not None:
        params["since"] = flt.since
    return params


def _shape(flt: FindingFilter, target_count: int) -> tuple[Any, ...]:
    return (
        _slots(target_count) if flt.cluster is not None else 0,
        flt.namespace is not None,
        flt.rule is not None,
        _slots(len({s.rank for s in flt.severities})) if flt.severities else 0,
        flt.since is not None,
        flt.status,
    )


_LIST_STATEMENTS: dict[tuple[Any, ...], Any] = {}
_COUNT_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _list_statement(flt: FindingFilter, paged: bool, target_count: int = 0) -> Any:
    shape = _shape(flt, target_count)
    key = (*shape, paged)
    stmt = _LIST_STATEMENTS.get(key)
    if stmt is None:
        suppressed: ColumnElement[bool]
        if flt.status in ("open", "unknown", "suppressed"):  # the WHERE clause has decided it for every row
            suppressed = (true() if flt.status == "suppressed" else false()).label("suppressed")
        else:
            suppressed = suppressed_clause(bindparam("now", type_=UtcDateTime())).label("suppressed")
        stmt = _filtered(
            select(*FINDING_COLUMNS, suppressed).join(TargetRow, TargetRow.id == FindingRow.target_id),
            flt,
            shape[0],
            shape[3],
        )
        if paged:
            stmt = stmt.where(
                tuple_(FindingRow.severity_rank, FindingRow.id)
                < tuple_(bindparam("after_rank", type_=Integer()), bindparam("after_id", type_=Integer()))
            )
        stmt = stmt.order_by(FindingRow.severity_rank.desc(), FindingRow.id.desc()).limit(
            bindparam("limit", type_=Integer())
        )
        _LIST_STATEMENTS[key] = stmt
    return stmt


def _count_statement(flt: FindingFilter, target_count: int = 0) -> Any:
    shape = _shape(flt, target_count)
    stmt = _COUNT_STATEMENTS.get(shape)
    if stmt is None:
        stmt = _COUNT_STATEMENTS[shape] = _filtered(select(func.count(FindingRow.id)), flt, shape[0], shape[3])
    return stmt


def parse_cursor(cursor: str) -> tuple[int, int]:
    match = _CURSOR.fullmatch(cursor)
    if match is None or int(match.group(2)) > ROW_ID_MAX:
        raise BadCursor(f"not a cursor of this API: {cursor[:40]!r}; pass next_cursor from the previous page")
    return int(match.group(1)), int(match.group(2))


RowShaper = Callable[[Sequence[str]], Callable[[Sequence[Any]], dict[str, Any]]]
"""Given a result's column names, a function from one row's values to the item a page holds."""


def row_dicts(keys: Sequence[str]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """Items keyed by column name (zip: cheaper than Row._asdict)."""
    return lambda values: dict(zip(keys, values, strict=True))


def _page(keys: list[str], rows: Sequence[Any], limit: int, total: int | None, shaper: RowShaper) -> FindingPage:
    """Rows (``limit`` + 1 asked for) as a page: the extra row only tells that there is a next page."""
    make = shaper(keys)
    items = [make(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = f"{last[keys.index('severity_rank')]}.{last[keys.index('id')]}"
    return FindingPage(items=items, next_cursor=next_cursor, total=total)


def list_findings(
    session: Session,
    flt: FindingFilter,
    *,
    limit: int,
    cursor: str | None = None,
    with_total: bool = False,
    shaper: RowShaper = row_dicts,
) -> FindingPage:
    """Worst first (severity, then newest id), keyset-paged: pages stay fast however deep. Items are
    the rows as dicts of ``FINDING_COLUMNS`` + ``suppressed``, or whatever ``shaper`` makes of them."""
    after = parse_cursor(cursor) if cursor else None
    conn = session.connection()
    target_ids: list[int] = []
    if flt.cluster is not None:
        target_ids = list(conn.execute(_TARGET_IDS, {"cluster": flt.cluster}).scalars())
        if not target_ids:
            return FindingPage(items=[], next_cursor=None, total=0 if with_total else None)
    params = _params(flt, utcnow(), target_ids)
    params["limit"] = limit + 1
    if after is not None:
        params["after_rank"], params["after_id"] = after
    # Core execution (no ORM row loading): a third of the time of session.execute for these plain rows.
    result = conn.execute(_list_statement(flt, after is not None, len(target_ids)), params)
    keys = list(result.keys())
    rows = result.all()
    total = None
    if with_total:
        total = conn.execute(_count_statement(flt, len(target_ids)), params).scalar()
    return _page(keys, rows, limit, total, shaper)


# The same statements as SQL text for psycopg's async connections (the API's PostgreSQL read path):
# compiled once per shape; psycopg prepares each on the server after its first uses.
_PG_DIALECT = postgresql_psycopg.dialect()  # type: ignore[no-untyped-call]
_PG_SQL: dict[tuple[Any, ...], tuple[str, dict[str, Any], list[str]]] = {}


def _pg_sql(kind: str, flt: FindingFilter, paged: bool, target_count: int) -> tuple[str, dict[str, Any], list[str]]:
    """The SQL text of a statement for psycopg, the values of its constant parameters, its column names."""
    key = (kind, *_shape(flt, target_count), paged)
    compiled = _PG_SQL.get(key)
    if compiled is None:
        if kind == "list":
            stmt = _list_statement(flt, paged, target_count)
        elif kind == "count":
            stmt = _count_statement(flt, target_count)
        else:
            stmt = _TARGET_IDS
        sql = stmt.compile(dialect=_PG_DIALECT)
        constants = {sql.bind_names[bind]: bind.effective_value for bind in sql.binds.values() if not bind.required}
        compiled = _PG_SQL[key] = (str(sql), constants, list(stmt.selected_columns.keys()))
    return compiled


async def list_findings_pg(
    conn: AsyncConnection[Any],
    flt: FindingFilter,
    *,
    limit: int,
    cursor: str | None = None,
    with_total: bool = False,
    shaper: RowShaper = row_dicts,
) -> FindingPage:
    """``list_findings`` on an async psycopg connection (autocommit, TimeZone UTC): the same statements
    and pages, without SQLAlchemy's per-execution work or a thread hand-off."""
    after = parse_cursor(cursor) if cursor else None
    target_ids: list[int] = []
    if flt.cluster is not None:
        sql, constants, _ = _pg_sql("targets", flt, False, 0)
        cur = await conn.execute(sql, {**constants, "cluster": flt.cluster}, prepare=True)
        target_ids = [r[0] for r in await cur.fetchall()]
        if not target_ids:
            return FindingPage(items=[], next_cursor=None, total=0 if with_total else None)
    params = _params(flt, utcnow(), target_ids)
    params["limit"] = limit + 1
    if after is not None:
        params["after_rank"], params["after_id"] = after
    sql, constants, keys = _pg_sql("list", flt, after is not None, len(target_ids))
    # binary results: no timestamp text to format on the server and parse here
    cur = await conn.execute(sql, {**constants, **params}, prepare=True, binary=True)
    rows = await cur.fetchall()
    total = None
    if with_total:
        sql, constants, _ = _pg_sql("count", flt, False, len(target_ids))
        cur = await conn.execute(sql, {**constants, **params}, prepare=True)
        row = await cur.fetchone()
        total = int(row[0]) if row else 0
    return _page(keys, rows, limit, total, shaper)


def get_finding(session: Session, finding_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One finding (with evidence) and its history, newest observation first."""
    suppressed = suppressed_clause().label("suppressed")
    row = (
        session.execute(
            select(*FINDING_COLUMNS, FindingRow.evidence, suppressed)
            .join(TargetRow, TargetRow.id == FindingRow.target_id)
            .where(FindingRow.id == finding_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no finding {finding_id}")
    history = [
        dict(h)
        for h in session.execute(
            select(
                ObservationRow.run_id,
                ObservationRow.observed_at,
                ObservationRow.status,
                ObservationRow.severity,
                ObservationRow.message,
            )
            .where(ObservationRow.finding_id == finding_id)
            .order_by(ObservationRow.run_id.desc())
        ).mappings()
    ]
    return dict(row), history


# --------------------------------------------------------------------------- load balancers


@dataclass(frozen=True)
class LoadBalancerFilter:
    cluster: str | None = None
    type: str | None = None
    namespace: str | None = None
    orphan: bool | None = None


def list_load_balancers(
    session: Session, flt: LoadBalancerFilter, *, limit: int, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """The load balancers of each target's latest finished run, with their open findings."""
    target_ids = None
    if flt.cluster is not None:
        target_ids = list(session.scalars(select(TargetRow.id).where(named(flt.cluster))))
    run_ids = list(latest_finished_ids(session, target_ids).values())
    where: list[ColumnElement[bool]] = [LoadBalancerRow.run_id.in_(run_ids)] if run_ids else [false()]
    if flt.type is not None:
        where.append(LoadBalancerRow.type == flt.type)
    if flt.namespace is not None:
        where.append(LoadBalancerRow.owner_namespace == flt.namespace)
    if flt.orphan is not None:
        where.append(LoadBalancerRow.orphan.is_not(None) if flt.orphan else LoadBalancerRow.orphan.is_(None))
    total = session.scalar(select(func.count(LoadBalancerRow.id)).where(*where)) or 0
    rows = list(
        session.execute(
            select(LoadBalancerRow, TargetRow.name)
            .join(TargetRow, TargetRow.id == LoadBalancerRow.target_id)
            .where(*where)
            .order_by(TargetRow.name, LoadBalancerRow.name, LoadBalancerRow.id)
            .limit(limit)
            .offset(offset)
        ).all()
    )
    findings: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    keys = [(lb.target_id, lb.arn) for lb, _ in rows]
    if keys:
        suppressed = suppressed_clause().label("suppressed")
        for f in session.execute(
            select(
                FindingRow.id,
                FindingRow.target_id,
                FindingRow.resource_arn,
                FindingRow.rule_id,
                FindingRow.title,
                FindingRow.severity,
                FindingRow.state,
                suppressed,
            )
            .where(FindingRow.is_open.is_(True), tuple_(FindingRow.target_id, FindingRow.resource_arn).in_(keys))
            .order_by(FindingRow.severity_rank.desc(), FindingRow.id)
        ).mappings():
            findings[(f["target_id"], f["resource_arn"])].append(dict(f))
    items = []
    for lb, cluster in rows:
        items.append(
            {
                "cluster": cluster,
                "run_id": lb.run_id,
                "arn": lb.arn,
                "name": lb.name,
                "type": lb.type,
                "scheme": lb.scheme,
                "dns_name": lb.dns_name,
                "account": lb.account,
                "region": lb.region,
                "owner": (
                    {
                        "kind": lb.owner_kind,
                        "namespace": lb.owner_namespace,
                        "name": lb.owner_name,
                        "routes": _owner_routes(lb.view),
                    }
                    if lb.owner_kind
                    else None
                ),
                "controller": lb.controller,
                "orphan": lb.orphan,
                "monthly_cost_usd": lb.monthly_cost_usd,
                "cost_basis": lb.cost_basis,
                "findings": findings.get((lb.target_id, lb.arn), []),
            }
        )
    return items, total


def named(cluster: str) -> ColumnElement[bool]:
    """A target by its own name or by its cluster's."""
    return or_(TargetRow.name == cluster, TargetRow.cluster_name == cluster)


def cluster_target_ids(session: Session, cluster: str | None) -> list[int] | None:
    """The targets ``cluster`` names (None: every target); NotFound when it names none."""
    if cluster is None:
        return None
    ids = list(session.scalars(select(TargetRow.id).where(named(cluster))))
    if not ids:
        raise NotFound(f"no target or cluster named {cluster!r}")
    return ids


def latest_run_ids(session: Session, cluster: str | None) -> list[int]:
    """The latest finished run of each target ``cluster`` names (every target's when None)."""
    return list(latest_finished_ids(session, cluster_target_ids(session, cluster)).values())


def partial_targets(session: Session, cluster: str | None = None) -> list[str]:
    """The targets whose latest finished run is partial: what ``cost_shares`` counts of them is only what was read."""
    run_ids = latest_run_ids(session, cluster)
    if not run_ids:
        return []
    query = (
        select(TargetRow.name)
        .join(RunRow, RunRow.target_id == TargetRow.id)
        .where(RunRow.id.in_(run_ids), RunRow.status == "partial")
    )
    return sorted(session.scalars(query))


def cost_shares(session: Session, cluster: str | None = None) -> list[dict[str, Any]]:
    """Who pays the load balancers of each target's latest finished run: the ``cost_shares`` of their views
    (``auditor.cost.allocate``), each with the target's name."""
    run_ids = latest_run_ids(session, cluster)
    if not run_ids:
        return []
    found: list[dict[str, Any]] = []
    for view, target in session.execute(
        select(LoadBalancerRow.view, TargetRow.name)
        .join(TargetRow, TargetRow.id == LoadBalancerRow.target_id)
        .where(LoadBalancerRow.run_id.in_(run_ids))
    ).all():
        found.extend({**share, "target": target} for share in (view or {}).get("cost_shares", []))
    return found


def cost_trend(
    session: Session,
    cluster: str | None = None,
    group_by: str = "cluster",
    *,
    runs: int = 30,
    up_to_run: int | None = None,
) -> list[CostPoint]:
    """The monthly cost of the latest ``runs`` finished runs (of one target or cluster, or all), oldest first,
    grouped like ``GET /api/v1/cost`` (``auditor.cost.allocate.cost_by``): by the runs' stored cost shares;
    a load balancer stored before shares were recorded counts whole for its owner's namespace. ``up_to_run``:
    only runs up to that one (a report shows the trend up to itself)."""
    from auditor.cost.allocate import NO_OWNER, NO_TEAM, UNATTRIBUTED, CostPoint, cost_by  # import-light store

    query = select(RunRow.id, TargetRow.name, RunRow.started_at).join(TargetRow, TargetRow.id == RunRow.target_id)
    query = query.where(RunRow.status.in_(FINISHED))
    ids = cluster_target_ids(session, cluster)
    if ids is not None:
        query = query.where(RunRow.target_id.in_(ids))
    if up_to_run is not None:
        query = query.where(RunRow.id <= up_to_run)
    chosen = list(session.execute(query.order_by(RunRow.id.desc()).limit(runs)).all())[::-1]
    shares: dict[int, list[CostShareView]] = {run_id: [] for run_id, _, _ in chosen}
    targets = {run_id: target for run_id, target, _ in chosen}
    rows = session.execute(
        select(
            LoadBalancerRow.run_id,
            LoadBalancerRow.view,
            LoadBalancerRow.owner_namespace,
            LoadBalancerRow.monthly_cost_usd,
        ).where(LoadBalancerRow.run_id.in_(list(shares)))
    )
    for run_id, view, namespace, cost in rows:
        stored = (view or {}).get("cost_shares")
        if stored:
            shares[run_id].extend(CostShareView.model_validate(s) for s in stored)
        elif cost is not None:
            shares[run_id].append(
                CostShareView(
                    owner=NO_OWNER,
                    namespace=namespace or UNATTRIBUTED,
                    cluster=targets[run_id],
                    team=NO_TEAM,
                    monthly_usd=cost,
                    method="unowned" if namespace is None else "sole-owner",
                )
            )
    points = []
    for run_id, target, started_at in chosen:
        points.append(CostPoint(run_id, target, started_at, cost_by(shares[run_id], group_by)))
    return points


# --------------------------------------------------------------------------- summary


@dataclass
class ClusterSummary:
    cluster: str
    cluster_name: str | None
    open_by_severity: dict[str, int] = field(default_factory=dict)
    unknown: int = 0
    suppressed: int = 0
    load_balancers_by_type: dict[str, int] = field(default_factory=dict)
    orphans: int = 0
    orphan_monthly_cost_usd: float = 0.0
    monthly_cost_usd: float = 0.0
    monthly_saving_usd: float = 0.0  # open findings: the largest saving per resource, summed
    last_run: RunRow | None = None


def summary(session: Session, cluster: str | None = None) -> list[ClusterSummary]:
    """Per target: open findings by severity, unknown and suppressed counts, load balancers by type, orphans."""
    targets_q = select(TargetRow).order_by(TargetRow.name)
    targets_q = targets_q.where(named(cluster) if cluster is not None else TargetRow.enabled.is_(True))
    targets = list(session.scalars(targets_q))
    if cluster is not None and not targets:
        raise NotFound(f"no target or cluster named {cluster!r}")
    out = {t.id: ClusterSummary(cluster=t.name, cluster_name=t.cluster_name) for t in targets}
    ids = list(out)
    suppressed = suppressed_now(session)
    for target_id, state, severity, count, suppressed_count in session.execute(
        select(
            FindingRow.target_id,
            FindingRow.state,
            FindingRow.severity,
            func.count(),
            func.count().filter(suppressed),
        )
        .where(FindingRow.is_open.is_(True), FindingRow.target_id.in_(ids))
        .group_by(FindingRow.target_id, FindingRow.state, FindingRow.severity)
    ).all():
        entry = out[target_id]
        entry.suppressed += suppressed_count
        rest = count - suppressed_count
        if not rest:
            continue
        if state == "unknown":
            entry.unknown += rest
        else:
            entry.open_by_severity[severity] = entry.open_by_severity.get(severity, 0) + rest
    best: dict[tuple[int, str], float] = {}  # (target, resource) -> its largest saving (deleted once)
    for target_id, fingerprint, arn, saving in session.execute(
        select(
            FindingRow.target_id, FindingRow.fingerprint, FindingRow.resource_arn, FindingRow.monthly_saving_usd
        ).where(
            FindingRow.is_open.is_(True),
            FindingRow.state != "unknown",
            FindingRow.target_id.in_(ids),
            FindingRow.monthly_saving_usd > 0,
            ~suppressed,
        )
    ).all():
        key = (target_id, arn or fingerprint)
        best[key] = max(best.get(key, 0.0), float(saving or 0.0))
    for (target_id, _), saving in best.items():
        out[target_id].monthly_saving_usd = round(out[target_id].monthly_saving_usd + saving, 2)
    latest = latest_finished_ids(session, ids)
    if latest:
        for target_id, lb_type, orphan, count, cost in session.execute(
            select(
                LoadBalancerRow.target_id,
                LoadBalancerRow.type,
                LoadBalancerRow.orphan.is_not(None),
                func.count(),
                func.coalesce(func.sum(LoadBalancerRow.monthly_cost_usd), 0.0),
            )
            .where(LoadBalancerRow.run_id.in_(list(latest.values())))
            .group_by(LoadBalancerRow.target_id, LoadBalancerRow.type, LoadBalancerRow.orphan.is_not(None))
        ).all():
            entry = out[target_id]
            entry.load_balancers_by_type[lb_type] = entry.load_balancers_by_type.get(lb_type, 0) + count
            # rounded as every other figure in USD (a float sum reads 123.45000000000002 otherwise)
            entry.monthly_cost_usd = round(entry.monthly_cost_usd + float(cost or 0.0), 2)
            if orphan:
                entry.orphans += count
                entry.orphan_monthly_cost_usd = round(entry.orphan_monthly_cost_usd + float(cost or 0.0), 2)
    for run in session.scalars(
        select(RunRow).where(
            RunRow.id.in_(
                select(func.max(RunRow.id))
                .where(RunRow.target_id.in_(ids))
                .group_by(RunRow.target_id)
                .scalar_subquery()
            )
        )
    ):
        out[run.target_id].last_run = run
    return list(out.values())


def open_counts_by_severity(session: Session) -> list[tuple[str, str, str, int]]:
    """(target, severity, state, count) of open findings not suppressed — for /metrics."""
    return [
        (name, severity, state, int(count))
        for name, severity, state, count in session.execute(
            select(TargetRow.name, FindingRow.severity, FindingRow.state, func.count())
            .join(TargetRow, TargetRow.id == FindingRow.target_id)
            .where(FindingRow.is_open.is_(True), ~suppressed_clause())
            .group_by(TargetRow.name, FindingRow.severity, FindingRow.state)
        ).all()
    ]


# --------------------------------------------------------------------------- dashboard: trend over runs


@dataclass(frozen=True)
class RunPoint:
    """One finished run of a target, for the trend charts."""

    run_id: int
    started_at: datetime
    status: str
    findings_failed: int
    findings_unknown: int
    load_balancers: int
    monthly_cost_usd: float | None  # None: no load balancer of the run had a cost estimate


def run_trend(session: Session, target_id: int, limit: int = 30) -> list[RunPoint]:
    """The target's last ``limit`` finished runs, oldest first, with the summed cost of their load balancers —
    the total of ``cost_trend`` (the cost shares of a load balancer sum to its cost), added up in SQL here: the
    overview draws it for every cluster and need not read each stored load balancer view."""
    runs = session.execute(
        select(
            RunRow.id,
            RunRow.started_at,
            RunRow.status,
            RunRow.findings_failed,
            RunRow.findings_unknown,
            RunRow.load_balancers,
        )
        .where(RunRow.target_id == target_id, RunRow.status.in_(("complete", "partial")))
        .order_by(RunRow.id.desc())
        .limit(limit)
    ).all()
    ids = [r[0] for r in runs]
    costs: dict[int, float] = {}
    if ids:
        costs = {
            int(run_id): float(total or 0.0)
            for run_id, total in session.execute(
                select(LoadBalancerRow.run_id, func.sum(LoadBalancerRow.monthly_cost_usd))
                .where(LoadBalancerRow.run_id.in_(ids), LoadBalancerRow.monthly_cost_usd.is_not(None))
                .group_by(LoadBalancerRow.run_id)
            ).all()
        }
    return [
        RunPoint(int(i), started, status, int(failed), int(unknown), int(lbs), costs.get(int(i)))
        for i, started, status, failed, unknown, lbs in reversed(runs)
    ]


def _owner_routes(view: Any) -> list[str]:
    """A Gateway owner's routes, from the stored LoadBalancerView (runs stored before Gateways have none)."""
    owner = view.get("owner") if isinstance(view, dict) else None
    routes = owner.get("routes") if isinstance(owner, dict) else None
    return [str(r) for r in routes] if isinstance(routes, list) else []


def consolidation_plans(session: Session, cluster: str | None = None) -> list[tuple[str, int, dict[str, Any] | None]]:
    """The consolidation plan of each target's latest finished run: (target, run id, the stored plan), the plan
    None for a run stored before plans were made. The same latest runs as ``cost_shares``."""
    run_ids = latest_run_ids(session, cluster)
    if not run_ids:
        return []
    found: list[tuple[str, int, dict[str, Any] | None]] = []
    for run_id, target, result in session.execute(
        select(RunRow.id, TargetRow.name, RunRow.result)
        .join(TargetRow, TargetRow.id == RunRow.target_id)
        .where(RunRow.id.in_(run_ids))
        .order_by(TargetRow.name)
    ).all():
        plan = result.get("consolidation") if isinstance(result, dict) else None
        found.append((target, run_id, plan if isinstance(plan, dict) else None))
    return found
