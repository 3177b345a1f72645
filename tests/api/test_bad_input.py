"""Bad input gets the same 4xx on SQLite and PostgreSQL, with the documented error body — never a 500.

PostgreSQL refuses what SQLite takes (an id beyond its 4-byte integer, NUL in text, a string too long for a
column), so each case here runs on both databases (the ``api`` fixture); ``test_openapi_fuzz`` looks for
the cases nobody listed.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from auditor.api.schemas import ErrorOut
from tests.api.conftest import Api

BEYOND_INTEGER = 2**31  # one past PostgreSQL's `integer`
LONG_NAME = "t" * 300
SUPPRESSION = {"rule_id": "rule-a", "reason": "accepted by the security team"}


def _error(r: httpx.Response, status: int) -> ErrorOut:
    """The response's body as the documented ErrorOut, after checking the status."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = ErrorOut.model_validate_json(r.content)
    assert body.message
    return body


def _invalid_fields(r: httpx.Response) -> list[list[str | int]]:
    """The locations a 422 names."""
    detail = _error(r, 422).detail
    assert isinstance(detail, list) and detail, detail
    return [e.loc for e in detail]


# --- the three reported bugs


def test_a_run_id_beyond_the_integer_column_is_404(api: Api) -> None:
    body = _error(api.client.get(f"/api/v1/runs/{BEYOND_INTEGER}", headers=api.read), 404)
    assert body.detail == f"no run {BEYOND_INTEGER}"


def test_nul_in_the_cluster_filter_is_422(api: Api) -> None:
    assert _invalid_fields(api.client.get("/api/v1/findings?cluster=a%00b", headers=api.read)) == [["query", "cluster"]]


def test_a_300_character_target_name_is_422_naming_the_field(api: Api) -> None:
    r = api.client.post("/api/v1/targets", headers=api.admin, json={"name": LONG_NAME, "regions": ["eu-west-1"]})
    assert _invalid_fields(r) == [["body", "name"]]
    assert api.client.get("/api/v1/targets", headers=api.read).json()[-1]["name"] != LONG_NAME


# --- ids: anything no row can have is a 404, on every {id} path


ID_PATHS = [
    ("get", "/api/v1/runs/{}", "run"),
    ("get", "/api/v1/runs/{}/report?format=json", "run"),
    ("get", "/api/v1/findings/{}", "finding"),
    ("delete", "/api/v1/suppressions/{}", "suppression"),
]


def test_ids_no_row_can_have_are_404_and_non_numbers_422(api: Api) -> None:
    for method, path, noun in ID_PATHS:
        for value in (0, -1, 999, BEYOND_INTEGER, 2**63, 10**30):
            r = api.client.request(method, path.format(value), headers=api.admin)
            assert _error(r, 404).detail == f"no {noun} {value}", (method, path, value)
        r = api.client.request(method, path.format("1.5"), headers=api.admin)
        assert _invalid_fields(r) == [["path", f"{noun}_id"]]


# --- strings: NUL and over-long values in query, path and body are 422 naming the field

FILTERS = [
    ("/api/v1/findings?{}", "cluster", 200),
    ("/api/v1/findings?{}", "namespace", 253),
    ("/api/v1/findings?{}", "rule", 100),
    ("/api/v1/runs?{}", "cluster", 200),
    ("/api/v1/load-balancers?{}", "cluster", 200),
    ("/api/v1/load-balancers?{}", "namespace", 253),
    ("/api/v1/summary?{}", "cluster", 200),
    ("/api/v1/reports/latest?format=json&{}", "cluster", 200),
]


def test_times_that_leave_the_calendar_in_utc_are_422(api: Api) -> None:
    # Valid ISO 8601 with a zone, but year 0 or 10000 once in UTC: datetime cannot hold it.
    for moment in ("0001-01-01T00:00:00%2B01:00", "9999-12-31T23:59:59-01:00"):
        r = api.client.get(f"/api/v1/findings?since={moment}", headers=api.read)
        assert _invalid_fields(r) == [["query", "since"]], moment
    for moment in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00"):
        body = {**SUPPRESSION, "expires_at": moment}
        r = api.client.post("/api/v1/suppressions", headers=api.admin, json=body)
        assert _invalid_fields(r) == [["body", "expires_at"]], moment
    body = {**SUPPRESSION, "expires_at": "9999-12-31T23:59:59Z"}  # the last moment there is
    assert api.client.post("/api/v1/suppressions", headers=api.admin, json=body).status_code == 201


@pytest.mark.parametrize(("path", "name", "longest"), FILTERS)
def test_filters_refuse_nul_and_over_long_values(api: Api, path: str, name: str, longest: int) -> None:
    for value in ("a%00b", "%00", "x" * (longest + 1)):
        r = api.client.get(path.format(f"{name}={value}"), headers=api.read)
        assert _invalid_fields(r) == [["query", name]], value
    r = api.client.get(path.format(f"{name}={'x' * longest}"), headers=api.read)  # the longest allowed
    assert r.status_code in (200, 404), r.text


def test_cursors_no_page_can_have_are_422(api: Api) -> None:
    for query in (
        "findings?cursor=7.2147483648",  # an id beyond the integer column
        "findings?cursor=7.99999999999999999",
        "findings?cursor=7.1%00",
        "findings?cursor=7.1%0A",
        f"runs?cursor={BEYOND_INTEGER}",
    ):
        r = api.client.get(f"/api/v1/{query}", headers=api.read)
        assert _invalid_fields(r) == [["query", "cursor"]], query


def test_target_names_in_paths_refuse_nul_and_over_long_values(api: Api) -> None:
    for method in ("get", "put", "delete"):
        for name in ("a%00b", LONG_NAME):  # %00: NUL
            body = {"name": name, "regions": ["eu-west-1"]} if method == "put" else None
            r = api.client.request(method, f"/api/v1/targets/{name}", headers=api.admin, json=body)
            assert ["path", "name"] in _invalid_fields(r), (method, name)


def test_suppression_fields_refuse_nul_and_over_long_values(api: Api) -> None:
    for field, value in [
        ("cluster", "pr\x00od"),
        ("cluster", LONG_NAME),
        ("rule_id", "rule\x00a"),
        ("rule_id", "r" * 101),
        ("resource_arn", "arn:aws:elasticloadbalancing:\x00"),
        ("resource_arn", "arn:" + "a" * 2048),
        ("namespace", "ops\x00"),
        ("namespace", "n" * 254),
        ("fingerprint", "f\x00"),
        ("fingerprint", "f" * 65),
        ("reason", "because\x00"),
    ]:
        r = api.client.post("/api/v1/suppressions", headers=api.admin, json={**SUPPRESSION, field: value})
        assert _invalid_fields(r) == [["body", field]], (field, value[:10])
    assert api.client.get("/api/v1/suppressions", headers=api.read).json() == []


def test_a_run_of_a_bad_target_name_is_422(api: Api) -> None:
    for target in ("pr\x00od", LONG_NAME, ""):
        r = api.client.post("/api/v1/runs", headers=api.admin, json={"target": target})
        assert _invalid_fields(r) == [["body", "target"]], target[:10]


# --- targets through the API are checked as targets of the config file are

TARGET = {"name": "dev", "regions": ["us-east-1"], "kubernetes": False}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"schedule": "every hour"}, "schedule"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"schedule": "0 0 * * *\x00"}, "schedule"),
        ({"regions": ["eu-west-1", "Europe"]}, "regions"),
        ({"regions": ["eu-west-1\x00"]}, "regions"),
        ({"regions": ["eu-west-1\n"]}, "regions"),  # "$" matches before a final newline: stored, then every run failed
        ({"name": " dev"}, "name"),
        ({"name": "d\x00ev"}, "name"),
        ({"cluster_name": "prod eks"}, "cluster_name"),
        ({"cluster_name": "c" * 300}, "cluster_name"),
        ({"cluster_name": "prod\n"}, "cluster_name"),
        ({"kubeconfig": "/home/ops/.kube/config\x00"}, "kubeconfig"),
        ({"accounts": [{"profile": "ops\x00"}]}, "accounts"),
        ({"accounts": [{"role_arn": "arn:aws:iam::111122223333:role/a\x00"}]}, "accounts"),
        ({"accounts": [{"id": "1" * 40}]}, "accounts"),  # AWS account ids are 12 digits
        ({"accounts": [{"id": "１２３４５６７８９０１２"}]}, "accounts"),  # full-width digits
        ({"accounts": [{"role_arn": "arn:aws:iam::111122223333:role/" + "r" * 3000}]}, "accounts"),
        ({"accounts": [{"role_arn": "arn:aws:iam::1111:role/a"}]}, "accounts"),
        ({"accounts": [{"role_arn": "arn:aws:iam::111122223333:user/a"}]}, "accounts"),
        ({"accounts": [{"external_id": "x"}]}, "accounts"),
        ({"regions": ["us-east-1"] * 100_000}, "regions"),
        ({"context": "c" * 100_000}, "context"),
    ],
)
def test_targets_are_validated_like_the_config_files(api: Api, change: dict[str, Any], field: str) -> None:
    c = api.client
    r = c.post("/api/v1/targets", headers=api.admin, json={**TARGET, **change})
    assert [loc[:2] for loc in _invalid_fields(r)] == [["body", field]]  # ["body", "regions", 1] names the item too
    assert c.get("/api/v1/targets/dev", headers=api.read).status_code == 404
    assert c.post("/api/v1/targets", headers=api.admin, json=TARGET).status_code == 201
    r = c.put("/api/v1/targets/dev", headers=api.admin, json={**TARGET, **change})
    assert [loc[:2] for loc in _invalid_fields(r)] == [["body", field]]
    assert c.get("/api/v1/targets/dev", headers=api.read).json()["definition"] == TARGET | {
        "cluster_name": None,
        "context": None,
        "kubeconfig": None,
        "in_cluster": False,
        "accounts": [{"id": None, "role_arn": None, "external_id": None, "profile": None}],
        "schedule": None,
        "rules": None,  # TargetConfig's rule selection (every rule)
        "skip_rules": None,
    }  # unchanged


def test_accounts_of_every_partition_with_role_paths_and_external_ids_are_taken(api: Api) -> None:
    accounts = [
        {"id": "111122223333", "role_arn": "arn:aws:iam::111122223333:role/ops/team-a/auditor", "external_id": "a:b/c"},
        {"role_arn": "arn:aws-us-gov:iam::444455556666:role/auditor+ro@x"},
        {"role_arn": "arn:aws-cn:iam::777788889999:role/auditor"},
    ]
    r = api.client.post("/api/v1/targets", headers=api.admin, json={**TARGET, "accounts": accounts})
    assert r.status_code == 201, r.text


# --- every error status has the documented body


def test_every_error_status_has_the_documented_body(api: Api) -> None:
    c = api.client
    _error(c.get("/api/v1/findings"), 401)
    _error(c.get("/api/v1/findings", headers={"Authorization": "Bearer aud_nope"}), 401)
    _error(c.post("/api/v1/runs", headers=api.read, json={"target": "prod"}), 403)
    _error(c.get("/api/v1/targets/nope", headers=api.read), 404)
    _error(c.get("/api/v1/no-such-route", headers=api.read), 404)
    _error(c.post("/api/v1/targets", headers=api.admin, json={"name": "prod"}), 409)
    as_json = {**api.admin, "content-type": "application/json"}
    _error(c.post("/api/v1/runs", headers=as_json, content=b"{not json"), 422)
    _error(c.post("/api/v1/runs", headers=as_json, content=b'{"target": "\xff"}'), 400)  # not UTF-8


def test_the_openapi_document_declares_the_error_body_for_each_error_status(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's own 422 body is never sent
    error_ref = "#/components/schemas/ErrorOut"
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status, response in responses.items():
                if status.startswith(("4", "5")) and path != "/readyz":
                    assert response["content"]["application/json"]["schema"] == {"$ref": error_ref}, (path, status)
            if path.startswith("/api/"):
                assert {"401", "503"} <= responses.keys(), (method, path)
                if operation.get("parameters") or "requestBody" in operation:
                    assert "422" in responses, (method, path)
            if method in ("post", "put", "delete"):
                assert "403" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
