"""What reaches the moto server, seen from its side: the requests a client sent, not the calls it counted."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

# A WSGI answer of its own for the request numbered n (1: the first recorded), or None to let moto answer it.
OnRequest = Callable[[int, dict[str, Any], Callable[..., Any]], Iterable[bytes] | None]

_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


def record_requests(monkeypatch: pytest.MonkeyPatch, on_request: OnRequest | None = None) -> list[str]:
    """From now until the test ends, each request the in-process moto server receives, as the signing name of its
    SigV4 credential scope (``sts``, ``elasticloadbalancing``...), in the order they arrived."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    seen: list[str] = []
    lock = threading.Lock()
    dispatch = DomainDispatcherApplication.__call__

    def recorded(app: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        with lock:
            seen.append(scope.group(1) if scope else environ.get("PATH_INFO", "?"))
            number = len(seen)
        if on_request is not None:
            answer = on_request(number, environ, start_response)
            if answer is not None:
                return answer
        return dispatch(app, environ, start_response)

    monkeypatch.setattr(DomainDispatcherApplication, "__call__", recorded)
    return seen
