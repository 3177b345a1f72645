"""The dashboard in a real headless browser (Debian's Chromium driven by Playwright) against a real
`auditor serve` process: sign in, filter, open a finding, suppress it as admin, be refused as read, sign out.

Screenshots of every step are kept: under ``$AUDITOR_TEST_ARTIFACTS`` when set, else ``tests/artifacts/``
(ignored by git), in ``dashboard/``. Needs ``/usr/bin/chromium`` (``apt-get install chromium``, which
``.ci/run`` does) and the ``playwright`` package; skipped without them, except under CI=true.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.store.db import make_engine, session_factory, transaction
from auditor.store.tokens import create_token
from tests.api.conftest import seed
from tests.support.serve import serving

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("AUDITOR_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts") / "dashboard"


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (required under CI=true)")
        pytest.skip(why)


def _seeded_history(tmp_path_factory: pytest.TempPathFactory, name: str) -> tuple[Path, str]:
    """After checking the browser and Playwright are there: a seeded SQLite history in a new directory (it, its URL)."""
    _need(CHROMIUM.exists(), f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    _need(importlib.util.find_spec("playwright") is not None, "playwright is not installed (the dev extra has it)")
    workdir = tmp_path_factory.mktemp(name)
    url = f"sqlite:///{workdir}/history.db"
    seed(url)
    return workdir, url


def _serve_env(url: str) -> dict[str, str]:
    """This environment without its AUDITOR_ settings, serving the history at ``url``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")} | {"AUDITOR_DATABASE_URL": url}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """`auditor serve --api-only` on a free port over a seeded SQLite history; (base URL, admin, read token)."""
    workdir, url = _seeded_history(tmp_path_factory, "dashboard")
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        _, admin = create_token(s, "ops", "admin")
        _, read = create_token(s, "viewer", "read")
    engine.dispose()
    log_path = workdir / "serve.log"
    with serving(["--api-only"], _serve_env(url), log_path) as base:
        yield base, admin, read
    served = log_path.read_text()
    assert admin not in served and read not in served
    assert "Traceback" not in served, served


def test_sign_in_filter_suppress_refuse_sign_out(server: tuple[str, str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, admin, read = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            page = context.new_page()
            external: list[str] = []
            page.on("request", lambda r: external.append(r.url) if not r.url.startswith(base) else None)

            # Not signed in: the sign-in page; a wrong token is an error message, not a traceback.
            page.goto(base + "/findings")
            expect(page).to_have_url(base + "/signin")
            page.fill("#token", "aud_wrong")
            page.click("button[type=submit]")
            expect(page.locator("#error")).to_have_text("Unknown or revoked token.")
            shot(page, "01-signin-error")

            # Admin: the overview with its charts.
            page.fill("#token", admin)
            page.click("button[type=submit]")
            expect(page).to_have_url(base + "/")
            expect(page.locator("header .who")).to_contain_text("ops (admin)")
            expect(page.locator("section.cluster")).to_have_count(2)
            assert page.locator("svg.chart").count() >= 9
            cookies = {c["name"]: c for c in context.cookies()}
            session = cookies["auditor_session"]
            assert session["httpOnly"] and session["sameSite"] == "Strict" and admin not in session["value"]
            assert admin not in page.url
            shot(page, "02-overview")

            # Filter: prod, high and medium.
            page.click("header nav >> text=Findings")
            page.select_option("#f-cluster", "prod")
            page.select_option("#f-severity", ["high", "medium"])
            page.click("#apply")
            expect(page).to_have_url(
                re.compile(r"/findings\?cluster=prod&namespace=&rule=&severity=high&severity=medium")
            )
            rows = page.locator("#findings tbody tr")
            expect(rows).to_have_count(2)
            expect(page.locator("#findings")).not_to_contain_text("rule-u")
            shot(page, "03-findings-filtered")

            # Open the high one: its history, then suppress it.
            page.click("#findings tbody tr:has-text('rule-a') a")
            expect(page.locator("#status")).to_have_text("open")
            expect(page.locator("#history tbody tr")).to_have_count(2)
            finding_url = page.url
            shot(page, "04-finding")
            page.fill("#reason", "internal tool behind the VPN")
            page.click("#suppress-button")
            expect(page).to_have_url(finding_url)
            expect(page.locator("#status")).to_have_text("suppressed")
            shot(page, "05-finding-suppressed")
            page.click("header nav >> text=Suppressions")
            expect(page.locator("#suppressions tbody tr")).to_have_count(1)
            expect(page.locator("#suppressions")).to_contain_text("internal tool behind the VPN")

            # Sign out: the session is gone.
            page.click("#signout")
            expect(page).to_have_url(base + "/signin")
            assert "auditor_session" not in {c["name"] for c in context.cookies()}
            page.goto(base + "/suppressions")
            expect(page).to_have_url(base + "/signin")

            # Read token: sees, but has no suppression form, and a forged one is refused by the server.
            page.fill("#token", read)
            page.click("button[type=submit]")
            expect(page.locator("header .who")).to_contain_text("viewer (read)")
            page.goto(base + "/findings?status=open&rule=rule-c")
            page.click("#findings tbody tr a")
            expect(page.locator("#read-only")).to_be_visible()
            expect(page.locator("#suppress")).to_have_count(0)
            csrf = page.input_value("header input[name=csrf]")
            page.evaluate(
                """csrf => {
                    const form = document.createElement("form");
                    form.method = "post";
                    form.action = "/suppressions";
                    for (const [k, v] of Object.entries({csrf, rule_id: "rule-c", reason: "not allowed"})) {
                        const input = document.createElement("input");
                        input.name = k; input.value = v; form.appendChild(input);
                    }
                    document.body.appendChild(form);
                    form.submit();
                }""",
                csrf,
            )
            expect(page.locator("#error")).to_contain_text("needs an admin token")
            shot(page, "06-read-refused")
            page.goto(base + "/suppressions")
            expect(page.locator("#suppressions tbody tr")).to_have_count(1)
            expect(page.locator("#read-only")).to_be_visible()
            page.click("#signout")
            expect(page).to_have_url(base + "/signin")
            assert external == [], external  # nothing fetched from anywhere but the auditor
        finally:
            browser.close()


# --------------------------------------------------------------------------- what clusters and AWS hand over

LONG = "k8s-" + "x" * 400  # no space, no hyphen after the first: nothing for the browser to break a line at
COST_BASIS = (
    "ALB 730 h × $0.0225/h = $16.43; 0.6 LCU average (CloudWatch ConsumedLCUs, 14-day window) × 730 h × "
    "$0.008/LCU-h = $3.50; prices: us-east-1 (AWS pricing pages https://aws.amazon.com/elasticloadbalancing/pricing/, "
    "https://aws.amazon.com/vpc/pricing/), transcribed into Price List product documents, as of 2026-12-06"
)


@pytest.fixture(scope="module")
def edge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The seeded history plus a target 'odd' whose run carries an unbroken 400-character name and message, a
    load balancer with a real-length cost basis, and a failed run with a long error; (base URL, read token)."""
    from auditor.config import TargetConfig
    from auditor.store import runs as store_runs
    from auditor.store.targets import create_target
    from tests.store.results import ARN, finding, lb, result

    workdir, url = _seeded_history(tmp_path_factory, "dashboard-edge")
    engine = make_engine(url)
    factory = session_factory(engine)
    with transaction(factory) as s:
        odd = create_target(s, TargetConfig(name="odd", regions=["eu-west-1"])).id
        _, read = create_token(s, "viewer", "read")
    long_finding = finding("rule-long", name="web").model_copy(update={"title": LONG, "message": LONG})
    balancer = lb(ARN).model_copy(update={"name": LONG, "cost_basis": COST_BASIS})
    run = store_runs.claim_run(factory, odd, trigger="cli", owner="seed")
    store_runs.record_result(factory, run.id, result([long_finding], load_balancers=[balancer], target="odd"))
    failed = store_runs.claim_run(factory, odd, trigger="cli", owner="seed")
    store_runs.fail_run(factory, failed.id, "collecting failed: " + LONG)
    engine.dispose()
    with serving(["--api-only"], _serve_env(url), workdir / "serve.log") as base:
        yield base, read


def _page_width_overflow(base: str, read: str, paths: list[str]) -> dict[str, tuple[int, int]]:
    """Each path whose page is wider than the 1280-pixel window (scrollWidth, window width): the paths that
    make the reader scroll sideways to see the rest of every row."""
    from playwright.sync_api import sync_playwright

    wide: dict[str, tuple[int, int]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(base + "/signin")
            page.fill("#token", read)
            page.click("button[type=submit]")
            for path in paths:
                page.goto(base + path)
                if path.startswith("/findings?"):  # the long finding's own page, through its link
                    page.click("#findings tbody tr a")
                scroll, window = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
                if scroll > window:
                    wide[path] = (scroll, window)
        finally:
            browser.close()
    return wide


def test_a_load_balancers_cost_basis_wraps_under_its_figure(edge_server: tuple[str, str]) -> None:
    """The cost column keeps its figure on one line; the basis under it (a long sentence on every priced
    load balancer) wraps rather than stretching the table to thousands of pixels."""
    base, read = edge_server
    assert _page_width_overflow(base, read, ["/load-balancers", "/load-balancers?cluster=odd"]) == {}


def test_a_long_unbroken_name_message_or_error_wraps_instead_of_widening_the_page(
    edge_server: tuple[str, str],
) -> None:
    """A finding's title and message and a run's error are text from clusters and AWS, outside any table cell:
    one without a space wraps in its paragraph."""
    base, read = edge_server
    assert _page_width_overflow(base, read, ["/findings?cluster=odd", "/runs/5"]) == {}  # run 5: odd's failed one


def test_no_page_logs_a_console_error(edge_server: tuple[str, str]) -> None:
    """Every page of the nav, as a browser loads it: no console error (a 404 for the /favicon.ico that browsers
    ask for without an icon link was one), no script error, no CSP violation."""
    from playwright.sync_api import sync_playwright

    base, read = edge_server
    logged: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_context().new_page()
            page.on("console", lambda m: logged.append(f"{page.url}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: logged.append(f"{page.url}: {e}"))
            page.goto(base + "/signin")
            page.fill("#token", read)
            page.click("button[type=submit]")
            for path in ["/", "/findings", "/findings/1", "/load-balancers", "/runs", "/runs/1", "/suppressions"]:
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert logged == []
