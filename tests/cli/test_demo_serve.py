"""`auditor demo --serve` (the README's service demo): two runs of history, the diff visible over HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx

from auditor.demo.motoserver import free_port


def test_demo_serve_shows_two_runs_and_what_changed(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor.cli", "demo", "--serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        token = None
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        for line in proc.stdout:
            if "admin token" in line:
                token = line.split()[-1]
            if "HTML reports" in line or time.monotonic() > deadline:
                break
        assert token, "the demo never printed its admin token"
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        runs = httpx.get(f"{base}/api/v1/runs", headers=headers, timeout=10).json()
        demo_runs = [r for r in runs["items"] if r["cluster"] == "demo"]
        assert len(demo_runs) == 2 and all(r["status"] == "complete" for r in demo_runs)

        report = httpx.get(
            f"{base}/api/v1/reports/latest",
            params={"cluster": "demo", "format": "markdown"},
            headers=headers,
            timeout=30,
        ).text
        assert "**1 new**, **1 resolved**" in report
        new_section = report.split("### New", 1)[1].split("### Resolved", 1)[0]
        assert "public-sensitive-port" in new_section and "data/mysql" in new_section
        resolved_section = report.split("### Resolved", 1)[1].split("## Findings", 1)[0]
        assert "http-without-redirect" in resolved_section and "blog/blog" in resolved_section

        assert httpx.get(f"{base}/api/v1/findings", timeout=10).status_code == 401

        # the dashboard, signed in with the printed token, shows every demo cluster
        with httpx.Client(base_url=base, timeout=30) as browser:
            csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/signin").text)
            assert csrf is not None
            assert browser.post("/signin", data={"token": token, "csrf": csrf.group(1)}).status_code == 303
            overview = browser.get("/").text
            assert all(f"<h2>{cluster}" in overview for cluster in ("demo", "staging", "sandbox")), overview[:2000]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
