"""Slack-compatible webhook: a real HTTP server on 127.0.0.1 receives the message; errors never leak the URL path."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from auditor.config import ReportSettings, Settings, TargetConfig
from auditor.errors import AuditorError
from auditor.findings import AuditResult, Severity, Status
from auditor.notify import post_webhook, slack_message
from auditor.output import RunDiff, diff_results
from auditor.service import AuditService
from auditor.store.db import make_engine, session_factory, transaction, upgrade
from auditor.store.targets import sync_targets
from tests.output.sample import STARTED, WEB, audit_result, finding, findings
from tests.store.results import finding as store_finding
from tests.store.results import result as store_result

SECRET_PATH = "/services/T0001/B0002/XyZsEcReTtOkEn"


class Hook(ThreadingHTTPServer):
    """A webhook receiver: records each POST; answers with ``status`` after ``delay`` seconds."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HookHandler)
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{SECRET_PATH}"


class HookHandler(BaseHTTPRequestHandler):
    server: Hook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, dict(self.headers), body))
        time.sleep(self.server.delay)
        # Slack answers "ok"; on errors, echo the path to prove the error message scrubs it
        reply = b"ok" if self.server.status < 300 else f"no_service at {self.path}".encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def diff() -> tuple[AuditResult, RunDiff]:
    fixed = findings()[0].model_copy(update={"rule_id": "OLD001", "message": "An old problem, now fixed."})
    previous = audit_result(
        findings=[*findings()[1:], fixed], started_at=STARTED - timedelta(days=1), status="complete"
    )
    current = audit_result(status="complete")
    return current, diff_results(previous, current)


def test_posts_slack_json(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result, changes = diff()
    post_webhook(hook.url, result, changes)

    [(path, headers, body)] = hook.received
    assert path == SECRET_PATH
    assert headers["Content-Type"] == "application/json"
    message = json.loads(body)
    assert message["text"].startswith("EKS exposure audit: prod: 5 open findings")
    assert "1 new, 1 resolved since the last run" in message["text"]
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["type"] == "plain_text"
    text = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "*Failed:* 1 critical, 1 high, 1 medium, 1 low, 1 info" in text
    assert "1 new, 1 resolved, 4 still open" in text
    assert "An old problem, now fixed." in text  # resolved listed
    assert ":warning: *Data missing" in text and "AccessDeniedException" in text
    top = next(b["text"]["text"] for b in blocks if b["type"] == "section" and "Top findings" in b["text"]["text"])
    first = top.splitlines()[1]
    assert "`EXP001`" in first and "Ingress shop/web" in first  # worst first, with its owner
    # Slack mrkdwn: <, >, & must be escaped or Slack treats them as links/markup
    assert "&lt;script&gt;" in top and "<script>" not in top
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    # httpx logs the request at INFO; the secret path must not reach the logs
    assert SECRET_PATH not in caplog.text
    assert "T0001" not in caplog.text
    assert f"webhook http://127.0.0.1:{hook.server_address[1]}" in caplog.text


def test_first_run_and_no_diff(hook: Hook) -> None:
    result = audit_result()
    post_webhook(hook.url, result, diff_results(None, result))
    post_webhook(hook.url, result, None)
    first, plain = (json.loads(body) for _, _, body in hook.received)
    assert "First run of this target" in json.dumps(first["blocks"])
    assert "since" not in plain["text"]


def test_server_error_is_clear_and_hides_the_path(hook: Hook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hook.status = 500
    with pytest.raises(AuditorError) as err:
        post_webhook(hook.url, audit_result(), None)
    message = str(err.value)
    assert message.startswith(f"webhook http://127.0.0.1:{hook.server_address[1]} answered HTTP 500")
    assert "no_service" in message  # the receiver's reason is kept
    assert "\n" not in message
    assert "T0001" not in message and "XyZsEcReTtOkEn" not in message
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert "XyZsEcReTtOkEn" not in caplog.text


def test_closed_port_is_clear_and_hides_the_path(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AuditorError) as err:
        post_webhook(f"http://127.0.0.1:{port}{SECRET_PATH}?token=abc", audit_result(), None, timeout=2)
    message = str(err.value)
    assert message.startswith(f"webhook http://127.0.0.1:{port} unreachable:")
    assert "XyZsEcReTtOkEn" not in message and "token=abc" not in message
    assert err.value.__suppress_context__  # httpx's exception (which holds the URL) is not chained
    assert "XyZsEcReTtOkEn" not in caplog.text


def test_timeout_is_clear(hook: Hook) -> None:
    hook.delay = 1.0
    with pytest.raises(AuditorError, match=r"did not answer within 0.2s") as err:
        post_webhook(hook.url, audit_result(), None, timeout=0.2)
    assert "XyZsEcReTtOkEn" not in str(err.value)


@pytest.mark.parametrize("url", ["hooks.slack.com/services/x", "ftp://example.com/services/x", "http://"])
def test_bad_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(AuditorError) as err:
        post_webhook(url, audit_result(), None)
    assert "services" not in str(err.value)


def test_cluster_text_cannot_mention_link_or_spoof() -> None:
    """Slack parses what <, > and & introduce, and with ``verbatim`` false (its default) it also turns plain
    @mentions, #channels and URLs into live ones: an annotation value must stay words."""
    hostile = "<!channel> <@U123> <http://evil.example|click here> @here @channel #general http://evil.example &amp;"
    evil = finding("EXP011", Severity.CRITICAL, Status.FAIL, hostile, kube=WEB)
    message = slack_message(audit_result(findings=[*findings(), evil]), None)
    texts = [b["text"] for b in message["blocks"] if b["type"] == "section"]
    top = next(t for t in texts if "EXP011" in t["text"])
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil.example|click here&gt;" in top["text"]
    assert "&amp;amp;" in top["text"] and "<" not in top["text"].replace("&lt;", "")
    assert all(t["type"] == "mrkdwn" and t["verbatim"] is True for t in texts)


def test_a_run_whose_webhook_and_reports_fail_says_so_in_its_coverage(
    hook: Hook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a scheduled run the webhook answers 500 and the report directory cannot be made: the run stays recorded
    as it was, and its coverage (the API's and the dashboard's run) names both failures — they were only logged,
    so nobody looking at the run could tell its reports never arrived. The webhook's secret path is not stored."""
    url = f"sqlite:///{tmp_path}/runs.db"
    (tmp_path / "blocked").write_text("a file where the report directory should be")
    reports = ReportSettings(report_dir=tmp_path / "blocked", webhook_url=hook.url, formats=["json"])
    engine = make_engine(url)
    upgrade(engine)
    service = AuditService(Settings(database_url=url, reports=reports), session_factory(engine))
    with transaction(service.factory) as s:
        sync_targets(s, [TargetConfig(name="prod", kubernetes=False, regions=["eu-west-1"])])
    audited = SimpleNamespace(result=store_result([store_finding("rule-a")]))
    monkeypatch.setattr("auditor.pipeline.run_audit", lambda target, settings, **_: audited)
    hook.status = 500
    run = service.run_now("prod", trigger="schedule")
    assert len(hook.received) == 1
    assert (run.status, run.findings_failed) == ("complete", 1)
    failures = {c["collector"]: c for c in run.coverage or [] if c["source"] == "export"}
    assert sorted(failures) == ["reports", "webhook"]
    assert failures["webhook"]["status"] == "error" and "HTTP 500" in failures["webhook"]["message"]
    assert SECRET_PATH not in json.dumps(run.coverage)
    assert failures["reports"]["status"] == "error" and failures["reports"]["error_code"] == "NotADirectoryError"
    service.shutdown()
    engine.dispose()
