"""Dashboard pages: overview, findings (filters, history), load balancers, runs (coverage), suppressions.

Every page reads through the store's query functions that the JSON API uses (``auditor.store.queries``, the
findings route's ``read_page``); none is in the OpenAPI document. Bad input of any kind is an HTML 4xx page.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from auditor import __version__
from auditor.api.dashboard import session as auth
from auditor.api.dashboard.charts import bar_chart, column_chart
from auditor.api.deps import ReadSessionDep, SessionDep
from auditor.api.routes.findings import FindingQuery, query_dict, read_page
from auditor.api.routes.suppressions import add_suppression
from auditor.api.schemas import FindingOut, Namespace, SuppressionIn, TargetName
from auditor.config import Settings
from auditor.cost.allocate import cost_by
from auditor.errors import AuditorError, NotFound
from auditor.findings import CostShareView, Severity
from auditor.store import runs as store_runs
from auditor.store import suppressions as store_suppressions
from auditor.store.models import utcnow
from auditor.store.queries import (
    ROW_ID_MAX,
    BadCursor,
    LoadBalancerFilter,
    RunPoint,
    cost_shares,
    get_finding,
    list_load_balancers,
    row_id,
    run_trend,
    summary,
)
from auditor.store.targets import list_targets

router = APIRouter(include_in_schema=False)

_ASSETS = Path(__file__).parent / "static"
_PAGE_SIZE = 50
_FORM_MAX_BYTES = 16_384  # the largest form (a suppression) is a few kilobytes at most
SEVERITIES = [s.value for s in sorted(Severity, key=lambda s: s.rank, reverse=True)]
_SEVERITY_CLASS = {s: f"sev-{s}" for s in SEVERITIES}
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class PageError(Exception):
    """An HTML error page: the status and what to tell the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


def install(app: FastAPI) -> None:
    """Add the dashboard to the API's app: its pages, its stylesheet, and its two error answers."""
    app.mount("/dashboard-assets", StaticFiles(directory=_ASSETS), name="dashboard-assets")
    app.include_router(router)

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return _render(request, "error.html.j2", None, status=exc.status, message=exc.message)

    async def sign_in_required(_: Request, __: Exception) -> Response:
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(SignInRequired, sign_in_required)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("auditor.api.dashboard", "templates"),
        autoescape=True,  # every string comes from clusters, AWS or a form
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(bar_chart=bar_chart, column_chart=column_chart, severities=SEVERITIES, version=__version__)
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if isinstance(d, datetime) else "—"
    env.filters["money"] = lambda v: "—" if v is None else f"${v:,.2f}"
    return env


def _render(
    request: Request, name: str, viewer: auth.DashboardSession | None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    html = _environment().get_template(name).render(viewer=viewer, path=request.url.path, **context)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def _secret(request: Request) -> str | None:
    settings: Settings = request.app.state.settings
    secret = settings.api.session_secret
    return secret.get_secret_value() if secret is not None else None


# --------------------------------------------------------------------------- who is asking


def _viewer(request: Request, session: ReadSessionDep) -> auth.DashboardSession:
    viewer = auth.read_session(session, request.cookies.get(auth.SESSION_COOKIE), _secret(request))
    if viewer is None:
        raise SignInRequired
    return viewer


Viewer = Annotated[auth.DashboardSession, Depends(_viewer)]


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as a dict (last value wins), or a 400/413 page."""
    body = await request.body()
    if len(body) > _FORM_MAX_BYTES:
        raise PageError(413, "the form is too large")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "the form could not be read") from None


Form = Annotated[dict[str, str], Depends(_form)]


def _checked(viewer: auth.DashboardSession, form: dict[str, str]) -> None:
    if not auth.csrf_ok(viewer.csrf, form.get("csrf")):
        raise PageError(403, "this form is out of date or did not come from this dashboard; reload the page and retry")


def _acting_admin(viewer: Viewer, form: Form) -> auth.DashboardSession:
    """A form post that changes something: its CSRF token first, then the admin scope — both server-side."""
    _checked(viewer, form)
    if not viewer.principal.allows("admin"):
        raise PageError(403, f"this needs an admin token; you signed in with {viewer.principal.name!r} (read)")
    return viewer


Acting = Annotated[auth.DashboardSession, Depends(_acting_admin)]


# --------------------------------------------------------------------------- sign in and out


@router.get("/signin")
def signin_form(request: Request, session: ReadSessionDep) -> Response:
    if auth.read_session(session, request.cookies.get(auth.SESSION_COOKIE), _secret(request)) is not None:
        return RedirectResponse("/", status_code=303)
    return _signin_page(request, None, 200)


def _signin_page(request: Request, error: str | None, status: int) -> Response:
    nonce = auth.new_signin_nonce()
    response = _render(request, "signin.html.j2", None, status=status, error=error, csrf=nonce)
    _set_cookie(request, response, auth.SIGNIN_COOKIE, nonce, 600, path="/signin")
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int, path: str = "/") -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.post("/signin")
def signin(request: Request, session: SessionDep, form: Form) -> Response:
    expected = request.cookies.get(auth.SIGNIN_COOKIE)
    if not expected or not auth.csrf_ok(expected, form.get("csrf")):
        return _signin_page(request, "The sign-in form expired; please try again.", 403)
    token = form.get("token", "")
    signed = auth.sign_in(session, token, _secret(request)) if 0 < len(token) <= 200 and "\x00" not in token else None
    if signed is None:
        return _signin_page(request, "Unknown or revoked token.", 401)
    cookie, _ = signed
    response = RedirectResponse("/", status_code=303)
    _set_cookie(request, response, auth.SESSION_COOKIE, cookie, auth.SESSION_SECONDS)
    response.delete_cookie(auth.SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout")
def signout(viewer: Viewer, form: Form) -> Response:
    _checked(viewer, form)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- pages


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters without the empty ones a GET form sends for fields left blank."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        kept = [v for v in value if v != ""] if isinstance(value, list) else value
        if kept not in ("", []):
            out[key] = kept
    return out


def _invalid(exc: ValidationError) -> PageError:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)[:5]]
    return PageError(422, "invalid filter — " + "; ".join(parts))


@router.get("/")
def overview(request: Request, viewer: Viewer, session: ReadSessionDep) -> Response:
    clusters: list[dict[str, Any]] = []
    by_cluster: list[tuple[str, float]] = []  # targets with a finished run: the others have no cost to show
    ids = {t.name: t.id for t in list_targets(session, include_disabled=True)}
    shares = _cost_shares(session)
    summaries = summary(session)
    for entry in summaries:
        trend = run_trend(session, ids[entry.cluster])
        if trend:
            by_cluster.append((entry.cluster, entry.monthly_cost_usd))
        clusters.append(
            {
                "summary": entry,
                "by_severity": [(s, float(entry.open_by_severity.get(s, 0))) for s in SEVERITIES],
                "by_type": sorted((t, float(n)) for t, n in entry.load_balancers_by_type.items()),
                "namespaces": sorted(
                    cost_by(shares.get(entry.cluster, []), "namespace").items(), key=lambda kv: (-kv[1], kv[0])
                ),
                "trend_findings": [(_run_label(p), float(p.findings_failed)) for p in trend],
                "trend_cost": [(_run_label(p), p.monthly_cost_usd) for p in trend],
                # the figures' run: without one nothing was checked, and zeros would read as a clean result
                "finished": trend[-1] if trend else None,
            }
        )
    return _render(
        request, "overview.html.j2", viewer, clusters=clusters, by_cluster=by_cluster, severity_class=_SEVERITY_CLASS
    )


def _run_label(point: RunPoint) -> str:
    """A run in the trend charts; a partial one says so, its counts leave out what was not collected."""
    return f"#{point.run_id}" + (" (partial)" if point.status == "partial" else "")


def _cost_shares(session: Session) -> dict[str, list[CostShareView]]:
    """Who pays each target's load balancers (the cost model's shares of its latest run), per target name;
    a share stored in a shape this version cannot read is left out rather than fail the page."""
    out: dict[str, list[CostShareView]] = defaultdict(list)
    for share in cost_shares(session):
        try:
            out[str(share["target"])].append(
                CostShareView.model_validate({k: v for k, v in share.items() if k != "target"})
            )
        except ValidationError:
            continue
    return out


@router.get("/findings")
async def findings(request: Request, viewer: Viewer) -> Response:
    raw = _clean(query_dict(request.query_params))
    raw.pop("limit", None)
    raw.pop("with_total", None)
    try:
        query = FindingQuery.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc) from None
    try:
        page = await read_page(request, query.filter(), _PAGE_SIZE, query.cursor, shaper=FindingOut.row_shaper)
    except BadCursor:
        raise PageError(422, "that page link is not valid any more; start from the first page") from None
    filters = {k: v for k, v in raw.items() if k != "cursor"}
    next_link = None
    if page.next_cursor:
        next_link = "/findings?" + urlencode({**filters, "cursor": page.next_cursor}, doseq=True)
    factory = request.app.state.read_factory

    def names() -> list[str]:
        with factory() as session:
            return [t.name for t in list_targets(session, include_disabled=True)]

    return _render(
        request,
        "findings.html.j2",
        viewer,
        items=page.items,
        query=query,
        clusters=await run_in_threadpool(names),
        first_link="/findings?" + urlencode(filters, doseq=True) if query.cursor else None,
        next_link=next_link,
    )


def _row_id(value: str, noun: str) -> int:
    if (found := row_id(value)) is not None:
        return found
    raise PageError(404, f"no {noun} {value[:40]!r}")


@router.get("/findings/{finding_id}")
def finding(request: Request, viewer: Viewer, session: ReadSessionDep, finding_id: str) -> Response:
    try:
        row, history = get_finding(session, _row_id(finding_id, "finding"))
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    item = FindingOut.from_row(row)
    return _render(request, "finding.html.j2", viewer, item=item, evidence=row["evidence"], history=history)


class LoadBalancerQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cluster: TargetName | None = None
    type: Literal["application", "network", "gateway", "classic"] | None = None
    namespace: Namespace | None = None
    orphan: bool | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)


@router.get("/load-balancers")
def load_balancers(request: Request, viewer: Viewer, session: ReadSessionDep) -> Response:
    raw = _clean(dict(request.query_params))
    try:
        query = LoadBalancerQuery.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc) from None
    items, total = list_load_balancers(
        session,
        LoadBalancerFilter(cluster=query.cluster, type=query.type, namespace=query.namespace, orphan=query.orphan),
        limit=_PAGE_SIZE,
        offset=query.offset,
    )
    filters = {k: v for k, v in raw.items() if k != "offset"}
    next_link = None
    if query.offset + _PAGE_SIZE < total:
        next_link = "/load-balancers?" + urlencode({**filters, "offset": query.offset + _PAGE_SIZE})
    first_link = "/load-balancers?" + urlencode(filters) if query.offset else None  # the same filters, offset 0
    clusters = [t.name for t in list_targets(session, include_disabled=True)]
    return _render(
        request,
        "load_balancers.html.j2",
        viewer,
        items=items,
        total=total,
        query=query,
        clusters=clusters,
        first_link=first_link,
        next_link=next_link,
    )


class RunQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cluster: TargetName | None = None
    status: Literal["running", "complete", "partial", "failed"] | None = None
    cursor: int | None = Field(default=None, ge=1, le=ROW_ID_MAX)


def _coverage_counts(coverage: list[dict[str, Any]] | None) -> dict[str, int]:
    return dict(Counter(str(c.get("status", "?")) for c in coverage or []))


@router.get("/runs")
def runs(request: Request, viewer: Viewer, session: ReadSessionDep) -> Response:
    raw = _clean(dict(request.query_params))
    try:
        query = RunQuery.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(exc) from None
    targets = list_targets(session, include_disabled=True)
    ids = None
    if query.cluster is not None:
        ids = [t.id for t in targets if query.cluster in (t.name, t.cluster_name)]
    rows = store_runs.list_runs(
        session, target_ids=ids, status=query.status, before_id=query.cursor, limit=_PAGE_SIZE + 1
    )
    next_link = None
    if len(rows) > _PAGE_SIZE:
        filters = {k: v for k, v in raw.items() if k != "cursor"}
        next_link = "/runs?" + urlencode({**filters, "cursor": rows[_PAGE_SIZE - 1].id})
    items = [{"run": r, "coverage": _coverage_counts(r.coverage)} for r in rows[:_PAGE_SIZE]]
    return _render(
        request,
        "runs.html.j2",
        viewer,
        items=items,
        query=query,
        clusters=[t.name for t in targets],
        next_link=next_link,
    )


@router.get("/runs/{run_id}")
def run(request: Request, viewer: Viewer, session: ReadSessionDep, run_id: str) -> Response:
    try:
        row = store_runs.get_run(session, _row_id(run_id, "run"))
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    return _render(request, "run.html.j2", viewer, run=row, coverage=row.coverage or [])


# --------------------------------------------------------------------------- suppressions


def _suppressions_page(
    request: Request, viewer: auth.DashboardSession, session: Session, *, error: str | None = None, status: int = 200
) -> Response:
    include_expired = request.query_params.get("expired") == "1"
    rows = store_suppressions.list_suppressions(session, include_expired=include_expired)
    names = {t.id: t.name for t in list_targets(session, include_disabled=True)}
    items = [{"row": r, "cluster": names.get(r.target_id) if r.target_id else None} for r in rows]
    return _render(
        request,
        "suppressions.html.j2",
        viewer,
        status=status,
        items=items,
        clusters=sorted(names.values()),
        include_expired=include_expired,
        error=error,
        now=utcnow(),
    )


@router.get("/suppressions")
def suppressions(request: Request, viewer: Viewer, session: ReadSessionDep) -> Response:
    return _suppressions_page(request, viewer, session)


_SUPPRESSION_FIELDS = ("cluster", "rule_id", "resource_arn", "namespace", "fingerprint", "reason")
_BACK = re.compile(r"^/(suppressions|findings/[0-9]{1,10})$")  # where a suppression form may send the browser back


def _suppression_in(form: dict[str, str]) -> SuppressionIn:
    body: dict[str, Any] = {k: form[k] for k in _SUPPRESSION_FIELDS if form.get(k, "") != ""}
    days = form.get("expires_in_days", "")
    if days:
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses
        if not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= 3650:
            raise PageError(422, "expires in: a number of days from 1 to 3650, or empty for never")
        body["expires_at"] = utcnow() + timedelta(days=int(days))
    return SuppressionIn.model_validate(body)


@router.post("/suppressions")
def create_suppression(request: Request, viewer: Acting, session: SessionDep, form: Form) -> Response:
    back = form.get("back", "/suppressions")
    back = back if _BACK.fullmatch(back) else "/suppressions"
    try:
        body = _suppression_in(form)
        add_suppression(session, body, viewer.principal.name)
        session.commit()
    except ValidationError as exc:
        session.rollback()
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors(include_url=False)]
        return _suppressions_page(request, viewer, session, error="; ".join(parts[:5]), status=422)
    except AuditorError as exc:
        session.rollback()
        status = 404 if isinstance(exc, NotFound) else 422
        return _suppressions_page(request, viewer, session, error=str(exc), status=status)
    return RedirectResponse(back, status_code=303)


@router.post("/suppressions/{suppression_id}/delete")
def delete_suppression(viewer: Acting, session: SessionDep, suppression_id: str) -> Response:
    try:
        store_suppressions.delete_suppression(session, _row_id(suppression_id, "suppression"))
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    session.commit()
    return RedirectResponse("/suppressions", status_code=303)
