"""The web dashboard over HTTP: sign-in into a session cookie, CSRF on every form, read sees and admin acts,
and every bad input an HTML 4xx page — on SQLite and PostgreSQL. The browser test is tests/test_dashboard_browser.py."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient

from auditor.api.dashboard import session as dash_session
from tests.api.conftest import Api

PAGES = ["/", "/findings", "/load-balancers", "/runs", "/suppressions"]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _csrf(html: str) -> str:
    match = _CSRF.search(html)
    assert match, html
    return match.group(1)


def sign_in(client: TestClient, token: str) -> httpx.Response:
    form = client.get("/signin")
    assert form.status_code == 200
    r: httpx.Response = client.post("/signin", data={"token": token, "csrf": _csrf(form.text)}, follow_redirects=False)
    return r


def _session_csrf(client: TestClient) -> str:
    return _csrf(client.get("/suppressions").text)


def _no_traceback(r: httpx.Response) -> None:
    assert "Traceback" not in r.text and 'File "' not in r.text
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("path", [*PAGES, "/findings/1", "/runs/1", "/findings?cluster=prod"])
def test_pages_redirect_to_sign_in_without_a_session(api: Api, path: str) -> None:
    r = api.client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"


def test_sign_in_sets_an_http_only_strict_cookie_that_is_not_the_token(api: Api) -> None:
    token = _token(api.read)
    r = sign_in(api.client, token)
    assert r.status_code == 303 and r.headers["location"] == "/"
    set_cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith(dash_session.SESSION_COOKIE + "=")]
    assert len(set_cookie) == 1
    cookie = set_cookie[0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert token not in cookie and token[4:20] not in cookie
    assert token not in r.headers.get("location", "")
    for path in PAGES:
        page = api.client.get(path)
        assert page.status_code == 200, (path, page.text)
        assert "reader (read)" in page.text
        assert "Content-Security-Policy" in page.headers and page.headers["cache-control"] == "no-store"


def test_bad_token_shows_an_error_not_a_traceback(api: Api) -> None:
    for token in ["aud_not-a-real-token", "", "x" * 5000, "a\x00b"]:
        r = sign_in(api.client, token)
        assert r.status_code == 401, token
        assert "Unknown or revoked token." in r.text
        _no_traceback(r)
        assert dash_session.SESSION_COOKIE not in api.client.cookies


def test_sign_in_without_the_forms_csrf_value_is_403(api: Api) -> None:
    r = api.client.post("/signin", data={"token": _token(api.admin)}, follow_redirects=False)
    assert r.status_code == 403 and "expired" in r.text
    api.client.get("/signin")
    r = api.client.post("/signin", data={"token": _token(api.admin), "csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert dash_session.SESSION_COOKIE not in api.client.cookies


def test_findings_filters_and_a_findings_history(api: Api) -> None:
    sign_in(api.client, _token(api.read))
    page = api.client.get("/findings", params={"cluster": "prod", "severity": ["high", "medium"], "namespace": ""})
    assert page.status_code == 200
    assert "rule-a" in page.text and "rule-c" in page.text
    assert "rule-u" not in page.text  # low
    assert "rule-b" not in page.text  # resolved
    resolved = api.client.get("/findings", params={"status": "resolved"})
    assert "rule-b" in resolved.text and "rule-a" not in resolved.text
    listed = api.client.get("/api/v1/findings", headers=api.read, params={"rule": "rule-a", "cluster": "prod"}).json()
    finding_id = listed["items"][0]["id"]
    detail = api.client.get(f"/findings/{finding_id}")
    assert detail.status_code == 200
    assert detail.text.count('<a href="/runs/') == 2  # FAIL in both runs of prod
    assert 'id="read-only"' in detail.text and 'id="suppress"' not in detail.text


def test_admin_suppresses_a_finding_and_deletes_the_suppression(api: Api) -> None:
    sign_in(api.client, _token(api.admin))
    listed = api.client.get("/api/v1/findings", headers=api.read, params={"rule": "rule-a", "cluster": "prod"}).json()
    item = listed["items"][0]
    page = api.client.get(f"/findings/{item['id']}")
    assert 'id="suppress"' in page.text
    form = {
        "csrf": _csrf(page.text),
        "back": f"/findings/{item['id']}",
        "cluster": "prod",
        "fingerprint": item["fingerprint"],
        "reason": "internal tool, accepted",
        "expires_in_days": "30",
    }
    r = api.client.post("/suppressions", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/findings/{item['id']}"
    assert api.client.get(f"/api/v1/findings/{item['id']}", headers=api.read).json()["status"] == "suppressed"
    suppressions = api.client.get("/api/v1/suppressions", headers=api.read).json()
    assert [(s["created_by"], s["fingerprint"]) for s in suppressions] == [("boss", item["fingerprint"])]
    r = api.client.post(
        f"/suppressions/{suppressions[0]['id']}/delete", data={"csrf": form["csrf"]}, follow_redirects=False
    )
    assert r.status_code == 303
    assert api.client.get("/api/v1/suppressions", headers=api.read).json() == []


def test_forms_without_or_with_a_wrong_csrf_token_are_403(api: Api) -> None:
    sign_in(api.client, _token(api.admin))
    body = {"rule_id": "rule-a", "reason": "accepted risk"}
    for extra in ({}, {"csrf": "0" * 64}, {"csrf": ""}):
        r = api.client.post("/suppressions", data={**body, **extra}, follow_redirects=False)
        assert r.status_code == 403, extra
        _no_traceback(r)
    assert api.client.post("/signout", data={}, follow_redirects=False).status_code == 403
    assert api.client.get("/api/v1/suppressions", headers=api.read).json() == []


def test_a_read_token_is_refused_server_side(api: Api) -> None:
    api.client.post("/api/v1/suppressions", headers=api.admin, json={"rule_id": "rule-c", "reason": "accepted"})
    sign_in(api.client, _token(api.read))
    csrf = _session_csrf(api.client)
    r = api.client.post(
        "/suppressions", data={"csrf": csrf, "rule_id": "rule-a", "reason": "accepted risk"}, follow_redirects=False
    )
    assert r.status_code == 403 and "needs an admin token" in r.text
    r = api.client.post("/suppressions/1/delete", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 403
    assert len(api.client.get("/api/v1/suppressions", headers=api.read).json()) == 1


def test_sign_out_clears_the_session(api: Api) -> None:
    sign_in(api.client, _token(api.read))
    r = api.client.post("/signout", data={"csrf": _session_csrf(api.client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert dash_session.SESSION_COOKIE not in api.client.cookies
    assert api.client.get("/", follow_redirects=False).status_code == 303


def test_a_forged_expired_or_revoked_session_is_signed_out(api: Api) -> None:
    sign_in(api.client, _token(api.read))
    good = api.client.cookies[dash_session.SESSION_COOKIE]
    version, token_id, expires, nonce, mac = good.split(".")
    forged = [
        f"{version}.{token_id}.{int(expires) + 3600}.{nonce}.{mac}",  # longer life, same MAC
        f"{version}.{int(token_id) + 1}.{expires}.{nonce}.{mac}",  # the admin token's id
        f"{version}.{token_id}.{expires}.{nonce}.{'0' * 64}",
        "garbage",
        f"v1.99999999999.{expires}.{nonce}.{mac}",
    ]
    for value in forged:
        api.client.cookies.set(dash_session.SESSION_COOKIE, value)
        assert api.client.get("/", follow_redirects=False).status_code == 303, value
    api.client.cookies.set(dash_session.SESSION_COOKIE, good)
    assert api.client.get("/").status_code == 200
    api.client.delete("/api/v1/suppressions/1", headers=api.admin)  # noise: must not matter
    from auditor.store.db import make_engine, session_factory, transaction
    from auditor.store.tokens import revoke_token

    engine = make_engine(api.settings.database_url)
    with transaction(session_factory(engine)) as s:
        revoke_token(s, "reader")
    engine.dispose()
    assert api.client.get("/", follow_redirects=False).status_code == 303


def test_a_session_ends_after_eight_hours_and_needs_the_same_secret(api: Api) -> None:
    import time

    from auditor.store.db import make_engine, session_factory

    sign_in(api.client, _token(api.read))
    cookie = api.client.cookies[dash_session.SESSION_COOKIE]
    engine = make_engine(api.settings.database_url)
    with session_factory(engine)() as s:
        now = time.time()
        assert dash_session.read_session(s, cookie, None, now=now) is not None
        assert dash_session.read_session(s, cookie, None, now=now + dash_session.SESSION_SECONDS + 5) is None
        assert dash_session.read_session(s, cookie, "another-secret", now=now) is None
    engine.dispose()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/findings?severity=bogus", 422),
        ("/findings?status=all", 422),
        ("/findings?cursor=not-a-cursor", 422),
        ("/findings?cursor=9.99999999999", 422),
        ("/findings?namespace=a%00b", 422),
        ("/findings?cluster=" + "x" * 300, 422),
        ("/findings?since=yesterday", 422),
        ("/findings/abc", 404),
        ("/findings/0", 404),
        ("/findings/99999999999", 404),
        ("/findings/2147483647", 404),
        ("/findings/１", 404),  # full-width digits: \d matches them and int() reads them; the API says 422
        ("/runs/١", 404),
        ("/runs/-1", 404),
        ("/runs?cursor=-1", 422),
        ("/runs?status=done", 422),
        ("/load-balancers?offset=-5", 422),
        ("/load-balancers?orphan=maybe", 422),
        ("/load-balancers?type=%00", 422),
    ],
)
def test_bad_input_is_an_html_4xx_page(api: Api, path: str, status: int) -> None:
    sign_in(api.client, _token(api.read))
    r = api.client.get(path)
    assert r.status_code == status, r.text
    _no_traceback(r)


def test_bad_forms_are_4xx_pages(api: Api) -> None:
    sign_in(api.client, _token(api.admin))
    csrf = _session_csrf(api.client)
    cases: list[tuple[bytes | dict[str, str], int, str]] = [
        ({"csrf": csrf, "reason": "no matcher given"}, 422, "give at least one of"),
        ({"csrf": csrf, "rule_id": "rule-a", "reason": "x"}, 422, "reason"),
        ({"csrf": csrf, "rule_id": "rule-a", "reason": "a\x00b c"}, 422, "NUL"),
        ({"csrf": csrf, "rule_id": "r" * 500, "reason": "long rule id"}, 422, "rule_id"),
        ({"csrf": csrf, "rule_id": "rule-a", "reason": "ok reason", "cluster": "nope"}, 404, "nope"),
        ({"csrf": csrf, "rule_id": "rule-a", "reason": "ok reason", "expires_in_days": "-1"}, 422, "days"),
        ({"csrf": csrf, "rule_id": "rule-a", "reason": "ok reason", "expires_in_days": "9" * 40}, 422, "days"),
        ({"csrf": csrf, "rule_id": "rule-a", "reason": "ok reason", "expires_in_days": "²"}, 422, "days"),  # isdigit
        ({"csrf": csrf, "rule_id": "rule-a", "reason": "ok reason", "expires_in_days": "１２"}, 422, "days"),
        (b"csrf=" + csrf.encode() + b"&reason=\xff\xfe", 400, "could not be read"),
        (b"a=" + b"x" * 20_000, 413, "too large"),
        ("&".join(f"k{i}=v" for i in range(100)).encode(), 400, "could not be read"),
    ]
    for body, status, words in cases:
        if isinstance(body, bytes):
            r = api.client.post(
                "/suppressions",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
                follow_redirects=False,
            )
        else:
            r = api.client.post("/suppressions", data=body, follow_redirects=False)
        assert r.status_code == status, (body if isinstance(body, dict) else body[:40], r.text)
        assert words in r.text
        _no_traceback(r)
    for path in ("/suppressions/abc/delete", "/suppressions/0/delete", "/suppressions/12345/delete"):
        assert api.client.post(path, data={"csrf": csrf}, follow_redirects=False).status_code == 404
    assert api.client.get("/api/v1/suppressions", headers=api.read).json() == []


def test_dashboard_routes_are_not_in_the_openapi_document_and_the_api_is_unchanged(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert all(p.startswith("/api/v1/") or p in ("/healthz", "/readyz", "/metrics") for p in paths), list(paths)
    sign_in(api.client, _token(api.read))
    # a dashboard session is no API credential: the JSON API still wants the bearer token
    assert api.client.get("/api/v1/findings").status_code == 401
    assert api.client.get("/api/v1/findings", headers=api.read).status_code == 200


def test_the_stylesheet_is_served_locally_and_pages_load_nothing_from_elsewhere(api: Api) -> None:
    assert api.client.get("/dashboard-assets/dashboard.css").status_code == 200
    sign_in(api.client, _token(api.admin))
    for path in PAGES:
        html = api.client.get(path).text
        assert "http://" not in html and "https://" not in html and "<script" not in html, path


def test_overview_charts_and_costs(api: Api) -> None:
    sign_in(api.client, _token(api.read))
    html = api.client.get("/").text
    assert html.count("<svg") >= 9  # per-cluster cost, then 4 charts per cluster (prod, stage)
    assert "$40.00" in html  # prod: 22 + 18 per month
    assert "<title>high: 1</title>" in html  # prod's open high finding (rule-a)
    assert "<title>#1: 3</title>" in html and "<title>#2: 2</title>" in html  # prod: failed findings per run


def test_chart_labels_are_escaped_and_bars_scale() -> None:
    from auditor.api.dashboard.charts import bar_chart, column_chart

    svg = str(bar_chart([("<script>x</script>", 2.0), ("b", 1.0)], title="t & u"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "t &amp; u" in svg
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths == [240.0, 120.0]
    columns = str(column_chart([("#1", 10.0), ("#2", None), ("#3", 5.0)], title="c", money=True))
    assert columns.count("<rect") == 2 and "$10.00" in columns
    assert "nothing yet" in str(bar_chart([], title="none"))


def test_run_pages_show_coverage_even_when_a_stored_entry_lacks_fields(api: Api) -> None:
    from sqlalchemy import update

    from auditor.store.db import make_engine, session_factory, transaction
    from auditor.store.models import RunRow

    engine = make_engine(api.settings.database_url)
    with transaction(session_factory(engine)) as s:
        s.execute(update(RunRow).where(RunRow.id == 1).values(coverage=[{"status": "failed"}, {}]))
    engine.dispose()
    sign_in(api.client, _token(api.read))
    for run_id in (1, 2, 3):
        r = api.client.get(f"/runs/{run_id}")
        assert r.status_code == 200, r.text
    assert "failed: 1" in api.client.get("/runs").text
    assert 'id="coverage"' in api.client.get("/runs/2").text


def test_summary_with_inlined_suppressions_matches_the_sub_query(api: Api) -> None:
    """``suppressed_now`` (the overview's and /api/v1/summary's) decides every finding as ``suppressed_clause``."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from auditor.store import queries
    from auditor.store.db import make_engine, session_factory, transaction
    from auditor.store.models import FindingRow, SuppressionRow, utcnow

    engine = make_engine(api.settings.database_url)
    factory = session_factory(engine)
    with transaction(factory) as s:
        assert str(queries.suppressed_now(s)) == "false"  # none yet: no per-row work at all
        fingerprint = s.scalar(select(FindingRow.fingerprint).where(FindingRow.rule_id == "rule-c"))
        s.add_all(
            [
                SuppressionRow(rule_id="rule-a", target_id=1, reason="r"),
                SuppressionRow(namespace="ops", reason="r"),
                SuppressionRow(fingerprint=fingerprint, reason="r"),
                SuppressionRow(rule_id="rule-b", reason="expired", expires_at=utcnow() - timedelta(days=1)),
            ]
        )
    with transaction(factory) as s:  # a NULL column: its comparison is NULL, which must still read as "not suppressed"
        s.execute(update(FindingRow).where(FindingRow.rule_id == "rule-b").values(namespace=None))
    with factory() as s:
        inline, sub = queries.suppressed_now(s), queries.suppressed_clause()
        rows = s.execute(select(FindingRow.rule_id, FindingRow.target_id, inline, sub)).all()
        assert rows and all(r[2] is r[3] for r in rows), rows  # True or False, never None
        assert {(r[0], r[1]) for r in rows if r[2]} == {("rule-a", 1), ("rule-u", 1), ("rule-c", 1)}
        prod = next(e for e in queries.summary(s) if e.cluster == "prod")
        assert (prod.suppressed, prod.unknown, prod.open_by_severity) == (3, 0, {})
        monkey = queries._INLINE_SUPPRESSIONS
        queries._INLINE_SUPPRESSIONS = 1  # past the limit: the sub-query again, same answer
        try:
            assert str(queries.suppressed_now(s)) != "false"
            assert next(e for e in queries.summary(s) if e.cluster == "prod").suppressed == 3
        finally:
            queries._INLINE_SUPPRESSIONS = monkey
    engine.dispose()
    summary = api.client.get("/api/v1/summary", headers=api.read).json()["clusters"]
    assert [(c["cluster"], c["suppressed"], c["open_by_severity"]) for c in summary] == [
        ("prod", 3, {}),
        ("stage", 0, {"info": 1}),
    ]


def test_overview_cost_per_namespace_is_the_cost_models_split(api: Api) -> None:
    from sqlalchemy import select, update

    from auditor.store.db import make_engine, session_factory, transaction
    from auditor.store.models import LoadBalancerRow

    share = {"cluster": "prod-eks", "team": "(no team)", "method": "requests"}
    engine = make_engine(api.settings.database_url)
    with transaction(session_factory(engine)) as s:
        lb_id = s.scalar(select(LoadBalancerRow.id).where(LoadBalancerRow.run_id == 2).order_by(LoadBalancerRow.id))
        view = {
            "cost_shares": [
                {**share, "owner": "Ingress shop/web", "namespace": "shop", "monthly_usd": 14.5},
                {**share, "owner": "Ingress pay/api", "namespace": "pay", "monthly_usd": 7.5},
                {**share, "owner": "x", "namespace": "bad", "monthly_usd": "not a number"},  # left out, no 500
            ]
        }
        s.execute(update(LoadBalancerRow).where(LoadBalancerRow.id == lb_id).values(view=view))
    engine.dispose()
    sign_in(api.client, _token(api.read))
    html = api.client.get("/").text
    prod = html.split('id="cluster-1"', 1)[1].split("</section>", 1)[0]
    assert prod.index(">shop</a>") < prod.index(">pay</a>")  # costliest first
    assert "$14.50" in prod and "$7.50" in prod and ">bad<" not in prod


def test_overview_never_shows_a_target_without_a_finished_run_as_clean_and_names_partial_and_failed_runs(
    api: Api,
) -> None:
    """Zeros for a target nothing has checked would read as a clean result: the overview says it was not
    audited (no run, or only a failed one), names a partial run's UNKNOWN checks, and a failed last run."""
    from auditor.config import TargetConfig
    from auditor.findings import Severity, Status
    from auditor.store import runs as store_runs
    from auditor.store.db import make_engine, session_factory, transaction
    from auditor.store.targets import create_target, get_target
    from tests.store.results import finding, result

    engine = make_engine(api.settings.database_url)
    factory = session_factory(engine)
    with transaction(factory) as s:
        ids = {n: create_target(s, TargetConfig(name=n, regions=["eu-west-1"])).id for n in ("broken", "half", "never")}
        prod = get_target(s, "prod").id
    broken = store_runs.claim_run(factory, ids["broken"], trigger="cli", owner="t")
    store_runs.fail_run(factory, broken.id, "AccessDenied on sts:AssumeRole")
    half = store_runs.claim_run(factory, ids["half"], trigger="cli", owner="t")
    unknown = finding("rule-u", status=Status.UNKNOWN, severity=Severity.HIGH)
    store_runs.record_result(factory, half.id, result([unknown], status="partial", target="half"))
    prod_failed = store_runs.claim_run(factory, prod, trigger="cli", owner="t")
    store_runs.fail_run(factory, prod_failed.id, "the cluster's API did not answer")
    engine.dispose()

    sign_in(api.client, _token(api.read))
    html = api.client.get("/").text
    sections = {m.group(1): m.group(0) for m in re.finditer(r"<section[^>]*>\s*<h2>([^<\s]+).*?</section>", html, re.S)}
    assert set(sections) == {"broken", "half", "never", "prod", "stage"}
    assert "Not audited yet: the last run failed (AccessDenied on sts:AssumeRole)" in sections["broken"]
    assert "Not audited yet: no run so far" in sections["never"]
    for name in ("broken", "never"):
        assert 'class="cards"' not in sections[name] and "open findings" not in sections[name]
    assert f'Run <a href="/runs/{half.id}">#{half.id}</a> is partial' in sections["half"]
    assert "1 check(s) could not be made — UNKNOWN, not passed" in sections["half"]
    assert f"<title>#{half.id} (partial): 0</title>" in sections["half"]  # its trend column says so too
    assert "The last run failed (the cluster&#39;s API did not answer)" in sections["prod"]
    assert 'figures below are from run <a href="/runs/2">#2</a>' in sections["prod"]
    assert "Not audited" not in sections["stage"] and "partial" not in sections["stage"]
    # the cost per cluster chart has no $0.00 bar for targets that were never measured
    per_cluster = html.split("</svg>", 1)[0]
    assert "broken" not in per_cluster and "never" not in per_cluster and "half" in per_cluster


def test_a_trend_of_zeros_reads_zero_not_one() -> None:
    from auditor.api.dashboard.charts import column_chart

    columns = str(column_chart([("#1", 0.0), ("#2", 0.0)], title="c", money=True))
    assert "$1.00" not in columns and '<text x="0" y="12" class="value">$0.00</text>' in columns
    assert '<text x="0" y="12" class="value">0</text>' in str(column_chart([("#1", 0.0)], title="f"))


def test_the_load_balancers_first_page_link_keeps_the_filters(api: Api) -> None:
    sign_in(api.client, _token(api.read))
    html = api.client.get("/load-balancers?cluster=prod&type=network&offset=1").text
    assert '<a href="/load-balancers?cluster=prod&amp;type=network" id="first">' in html
    assert 'id="first"' not in api.client.get("/load-balancers?cluster=prod").text
