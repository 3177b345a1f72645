"""Access is closed by default: no token 401, wrong token 401, read token on an admin route 403."""

from __future__ import annotations

import logging

import pytest

from tests.api.conftest import Api

READ_ROUTES = [
    "/api/v1/findings",
    "/api/v1/findings/1",
    "/api/v1/load-balancers",
    "/api/v1/runs",
    "/api/v1/runs/1",
    "/api/v1/runs/1/report?format=markdown",
    "/api/v1/targets",
    "/api/v1/suppressions",
    "/api/v1/summary",
    "/api/v1/reports/latest?cluster=prod",
    "/metrics",
]


@pytest.mark.parametrize("path", READ_ROUTES)
def test_no_token_is_401_with_a_clear_body(api: Api, path: str) -> None:
    r = api.client.get(path)
    assert r.status_code == 401
    assert "Bearer" in r.headers["www-authenticate"]
    assert "auditor token create" in r.json()["detail"]


def test_wrong_or_malformed_token_is_401(api: Api) -> None:
    r = api.client.get("/api/v1/findings", headers={"Authorization": "Bearer aud_not-a-real-token"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid token: unknown or revoked"
    r = api.client.get("/api/v1/findings", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/runs", {"target": "prod"}),
        ("post", "/api/v1/suppressions", {"rule_id": "rule-a", "reason": "accepted risk"}),
        ("delete", "/api/v1/suppressions/1", None),
        ("post", "/api/v1/targets", {"name": "x"}),
        ("delete", "/api/v1/targets/prod", None),
    ],
)
def test_read_token_on_admin_route_is_403(api: Api, method: str, path: str, body: object) -> None:
    r = api.client.request(method, path, headers=api.read, json=body)
    assert r.status_code == 403
    assert r.json()["detail"] == "this needs a token with the 'admin' scope; token 'reader' has 'read'"


def test_health_and_docs_need_no_token_and_work_offline(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready"}
    assert api.client.get("/openapi.json").json()["info"]["title"] == "EKS exposure auditor"
    page = api.client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert api.client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert "/docs-assets/redoc.standalone.js" in api.client.get("/redoc").text


def test_revoked_token_stops_working_and_no_token_is_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    from click.testing import CliRunner

    from auditor.cli_service import token

    caplog.set_level(logging.DEBUG)
    api.client.app.state.verifier.forget()  # type: ignore[attr-defined]
    secret = api.read["Authorization"].split()[1]
    assert api.client.get("/api/v1/runs", headers=api.read).status_code == 200
    runner = CliRunner()
    env = {"AUDITOR_DATABASE_URL": api.settings.database_url}
    out = runner.invoke(token, ["revoke", "reader"], env=env)
    assert out.exit_code == 0, out.output
    api.client.app.state.verifier.forget()  # type: ignore[attr-defined]
    assert api.client.get("/api/v1/runs", headers=api.read).status_code == 401
    assert secret not in caplog.text
    assert secret[:20] not in caplog.text
