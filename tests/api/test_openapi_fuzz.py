"""Schemathesis against the API's own OpenAPI document, on SQLite and PostgreSQL: no 5xx, and every response
(status, content type, body) is one the document declares for its route.

Each operation gets the examples and boundary values of its schema (schemathesis' coverage phase: ids past
2^31, NUL, strings one longer than allowed, ...) and a bounded number of random valid and invalid requests,
as an admin, against the seeded history of ``conftest.seed`` (two targets, runs with findings). /metrics is
Prometheus text, not JSON, and is checked by ``test_bad_input`` (valid exposition, database up and down).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from auditor.api.app import create_app
from auditor.config import Settings
from auditor.store.db import make_engine, session_factory, transaction
from auditor.store.tokens import create_token
from tests.api.conftest import seed

# The document the app serves at /openapi.json; building it needs no database.
schema = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite://")).openapi())
# Random requests per operation on top of the coverage phase's: ~1 minute for both databases on this machine.
schema.config.generation.update(max_examples=50)

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture
def app_and_admin(database_url: str) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """A fresh app on freshly seeded history, and an admin's headers. Schemathesis starts the app's lifespan
    on the first request and its pytest plugin ends it after the test."""
    seed(database_url)
    engine = make_engine(database_url)
    with transaction(session_factory(engine)) as s:
        _, token = create_token(s, "fuzzer", "admin")
    engine.dispose()
    yield create_app(Settings(database_url=database_url)), {"Authorization": f"Bearer {token}"}


@schema.exclude(path="/metrics").parametrize()
# The fixture is built once per operation, not per example, on purpose; slow or filtered generation is not
# the API's fault.
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_openapi_document(
    case: schemathesis.Case, app_and_admin: tuple[FastAPI, dict[str, str]]
) -> None:
    app, admin = app_and_admin
    case.call_and_validate(app=app, headers=admin, checks=CHECKS)
