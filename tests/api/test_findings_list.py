"""The findings list's fast path: the exact JSON of its schema, filters over several targets, database hiccups."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from auditor.api.schemas import FindingPage
from auditor.store.db import make_engine
from tests.api.conftest import Api

QUERIES = [
    "",
    "status=resolved",
    "status=unknown",
    "cluster=prod&severity=medium&severity=high&severity=critical",
    "namespace=ops&status=suppressed",
    "rule=rule-a&cluster=stage",
    "since=2030-01-01T10:30:00Z&with_total=true",
    "limit=1&with_total=true",
]


@pytest.mark.parametrize("query", QUERIES)
def test_list_body_is_the_schema_json_byte_for_byte(api: Api, query: str) -> None:
    # The list is encoded without building models: its bytes must be what the FindingPage schema gives.
    r = api.client.get(f"/api/v1/findings?{query}", headers=api.read)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert FindingPage.model_validate_json(r.content).model_dump_json().encode() == r.content


def test_postgres_lists_through_the_async_pool_and_sqlite_through_a_session(api: Api, database_url: str) -> None:
    pool = api.client.app.state.read_pool  # type: ignore[attr-defined]
    assert (pool is not None) == database_url.startswith("postgresql")
    item = api.client.get("/api/v1/findings?limit=1", headers=api.read).json()["items"][0]
    assert item["first_seen"].endswith("Z") and item["last_seen"].endswith("Z")  # UTC, whatever the server's zone


def test_pages_walk_every_finding_once_in_order(api: Api) -> None:
    everything = api.client.get("/api/v1/findings?limit=500&with_total=true", headers=api.read).json()
    seen: list[int] = []
    cursor = ""
    while True:
        page = api.client.get(f"/api/v1/findings?limit=3{cursor}", headers=api.read).json()
        seen += [f["id"] for f in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == [f["id"] for f in everything["items"]] and len(seen) == everything["total"] == 4


def _ids(api: Api, query: str) -> list[int]:
    r = api.client.get(f"/api/v1/findings?{query}", headers=api.read)
    assert r.status_code == 200, r.text
    return [f["id"] for f in r.json()["items"]]


def test_cluster_matching_several_targets_and_any_number_of_severities(api: Api) -> None:
    # 'prod-eks' is prod's cluster name, and now also a target's name and another target's cluster name:
    # three target ids (padded to four parameters) must select exactly prod's findings.
    for body in ({"name": "prod-eks", "regions": ["eu-west-1"]}, {"name": "blue", "cluster_name": "prod-eks"}):
        r = api.client.post("/api/v1/targets", headers=api.admin, json={"regions": ["eu-west-1"], **body})
        assert r.status_code == 201, r.text
    for status in ("open", "resolved"):
        prod = _ids(api, f"cluster=prod&status={status}")
        assert prod and _ids(api, f"cluster=prod-eks&status={status}") == prod
    assert _ids(api, "cluster=nothing") == []
    total = api.client.get("/api/v1/findings?cluster=nothing&with_total=true", headers=api.read).json()["total"]
    assert total == 0
    severities = ["critical", "high", "medium", "low", "info"]
    every = api.client.get("/api/v1/findings?limit=500", headers=api.read).json()["items"]
    assert len({f["severity"] for f in every}) >= 3
    for n in range(1, 6):
        picked = "&".join(f"severity={s}" for s in severities[-n:])
        wanted = [f["id"] for f in every if f["severity"] in severities[-n:]]
        assert _ids(api, picked) == wanted
        # a severity given twice does not change the answer
        assert _ids(api, f"{picked}&severity={severities[-1]}") == wanted
    assert _ids(api, "&".join(f"severity={s}" for s in severities)) == [f["id"] for f in every]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # the async pool is PostgreSQL's
def test_a_dropped_database_connection_is_one_503_then_the_list_recovers(api: Api, database_url: str) -> None:
    assert _ids(api, "")
    engine = make_engine(database_url)
    with engine.connect() as conn:  # as a database restart would: every other connection is cut
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        conn.commit()
    engine.dispose()
    statuses: list[Any] = []
    for _ in range(3):
        r = api.client.get("/api/v1/findings", headers=api.read)
        statuses.append(r.status_code)
        if r.status_code == 503:
            assert r.headers["Retry-After"] == "5" and r.json()["message"] == "database unavailable"
    assert set(statuses) <= {200, 503} and statuses[-1] == 200


def test_openapi_documents_the_list_parameters_security_and_422(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/findings"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert list(params) == [
        "cluster",
        "namespace",
        "rule",
        "severity",
        "status",
        "since",
        "limit",
        "cursor",
        "with_total",
    ]
    assert all(p["in"] == "query" and not p["required"] and p["description"] for p in params.values())
    assert params["limit"]["schema"]["anyOf"][0] == {"maximum": 500, "minimum": 1, "type": "integer"}
    severity_ref = params["severity"]["schema"]["anyOf"][0]["items"]["$ref"]
    assert severity_ref.rsplit("/", 1)[1] in spec["components"]["schemas"]
    assert op["security"] == [{"HTTPBearer": []}]
    invalid = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert invalid.rsplit("/", 1)[1] in spec["components"]["schemas"]


def test_repeated_parameters_take_the_last_value_and_unknown_ones_are_ignored(api: Api) -> None:
    assert _ids(api, "cluster=nothing&cluster=prod") == _ids(api, "cluster=prod")
    assert _ids(api, "status=open&status=resolved&colour=blue") == _ids(api, "status=resolved")
    r = api.client.get("/api/v1/findings?limit=x&severity=high&severity=bad", headers=api.read)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["query", "severity", 1], ["query", "limit"]]
    # authentication is checked before the parameters
    assert api.client.get("/api/v1/findings?limit=x").status_code == 401
