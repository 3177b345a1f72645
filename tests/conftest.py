"""Shared fixtures: one moto server per test session (reset per test), fake credentials, env hygiene."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from auditor.demo.kubeapi import KubeApiServer
from auditor.demo.motoserver import MotoServer

# Property tests and the API fuzzing explore new examples on every local run; in CI (CI=true) they replay a
# fixed sequence, so a landing is never decided by the luck of the draw. A failure found locally prints the
# example to reproduce (and Hypothesis keeps it in .hypothesis/ for the next run).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """A clean moto account reached the way a user's AWS is: through AWS_ENDPOINT_URL."""
    moto_server.set_iam_enforcement(False)
    moto_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # moto answers unimplemented calls with 500: do not retry
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    yield moto_server


@pytest.fixture(autouse=True)
def _no_ambient_settings(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests never read the developer's AUDITOR_* settings or write auditor.db into the work tree."""
    import os

    for key in list(os.environ):
        if key.startswith("AUDITOR_") and key != "AUDITOR_TEST_POSTGRES_URL":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AUDITOR_DATABASE_URL", f"sqlite:///{tmp_path_factory.mktemp('db')}/auditor.db")
    # moto has no bucket shared with a controller: no client-side rate limit, in subprocesses (the variable) and
    # here, whatever settings a test builds (the buckets; tests marked rate_limit keep them)
    monkeypatch.setenv("AUDITOR_AWS__CALLS_PER_SECOND", "0")
    if request.node.get_closest_marker("rate_limit") is None:
        from auditor.collect.aws.ratelimit import RATE_LIMITS

        monkeypatch.setattr(RATE_LIMITS, "bucket", lambda *_args, **_kwargs: None)


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeApiServer]:
    """A Kubernetes API emulator reached the way a user's cluster is: through a kubeconfig file.

    ``kube.kubeconfig`` is the file (context "test", bearer token checked by the server; also
    exported as KUBECONFIG), ``kube.url`` the HTTPS endpoint; seed with ``kube.seed({...})``.
    """
    server = KubeApiServer(token="test-token").start()
    server.write_kubeconfig(tmp_path / "kubeconfig", context="test")
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig))
    yield server
    server.stop()
