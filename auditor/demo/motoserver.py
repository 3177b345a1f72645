"""Run moto in server mode in this process (demo and tests), with the gaps of moto filled in.

moto lacks calls the product uses; they are filled here by patching moto's backends, never by a
different code path in the product (see tests/README.md and ../shared/facts/test-doubles.md):
- ``wafv2:ListResourcesForWebACL`` is not implemented by moto: answered from moto's own
  association table (the same data ``GetWebACLForResource`` reads).
"""

from __future__ import annotations

import json
import socket
from typing import Any

import requests  # moto[server] depends on it
from moto.server import ThreadedMotoServer

_PATCHED = False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _patch_moto() -> None:
    """Fill moto gaps in-process (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    from moto.wafv2.responses import WAFV2Response

    def list_resources_for_web_acl(self: Any) -> str:
        body = json.loads(self.body)
        arn = body["WebACLArn"]
        backend = self.wafv2_backend
        acl = backend.wacls.get(arn)
        if acl is None:
            self.current_status = 400  # type: ignore[attr-defined]
            return json.dumps({"__type": "WAFNonexistentItemException", "message": "web ACL not found"})
        resources = [res for res, acl_arn in _associations(backend).items() if acl_arn == arn]
        return json.dumps({"ResourceArns": sorted(resources)})

    WAFV2Response.list_resources_for_web_acl = list_resources_for_web_acl  # type: ignore[attr-defined]
    _PATCHED = True


def _associations(backend: Any) -> dict[str, str]:
    """resource ARN -> web ACL ARN, read from moto's wafv2 backend (its own association table)."""
    found: dict[str, str] = {}
    for acl_arn, acl in backend.wacls.items():
        for res in getattr(acl, "associated_resources", []) or []:
            found[res] = acl_arn
    return found


class MotoServer:
    """A moto server on 127.0.0.1:<free port>; ``url`` goes into AWS_ENDPOINT_URL."""

    def __init__(self, port: int | None = None) -> None:
        _patch_moto()
        self.port = port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def set_iam_enforcement(self, on: bool) -> None:
        """Switch moto's IAM policy enforcement on (every request checked) or off."""
        requests.post(
            f"{self.url}/moto-api/reset-auth",
            data="0" if on else "inf",
            headers={"Content-Type": "text/plain"},
            timeout=10,
        ).raise_for_status()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
