"""A real `auditor serve` process for end-to-end tests: started on a free port, ready when /readyz answers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from auditor.demo.motoserver import free_port

READY_SECONDS = 30


def start_serve(args: list[str], env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``auditor serve --port <free> *args`` with its output appended to ``log``; (process, base URL) once ready."""
    port = free_port()
    with log.open("a") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "auditor.cli_service", "serve", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_SECONDS
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "auditor serve did not become ready:\n" + log.read_text()
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate, and kill what does not stop within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def serving(args: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """The base URL of a ready `auditor serve`, stopped on exit."""
    proc, base = start_serve(args, env, log)
    try:
        yield base
    finally:
        stop(proc)
