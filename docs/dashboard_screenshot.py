"""Take the README's dashboard screenshot (docs/dashboard.png) from `auditor demo --serve`.

Starts the demo service (moto + Kubernetes API emulators, two runs per demo cluster) on a free port, signs in
with the admin token it prints, and saves the overview as seen by Debian's Chromium through Playwright.

    python docs/dashboard_screenshot.py            # needs /usr/bin/chromium and the dev extra
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).parent / "dashboard.png"


def main() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITOR_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditor.cli", "demo", "--serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        token = None
        deadline = time.monotonic() + 600
        assert proc.stdout is not None
        for line in proc.stdout:
            match = re.search(r"admin token\s+(\S+)", line)
            if match:
                token = match.group(1)
                break
            if time.monotonic() > deadline:
                break
        if token is None:
            raise SystemExit("auditor demo --serve printed no token")
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for _ in range(100):  # uvicorn starts after the announcement
                try:
                    page.goto(base + "/signin")
                    break
                except Exception:
                    time.sleep(0.3)
            page.fill("#token", token)
            page.click("button[type=submit]")
            page.wait_for_url(base + "/")
            page.screenshot(path=str(OUT), full_page=True)
            browser.close()
        print(f"wrote {OUT}")
    finally:
        proc.terminate()
        proc.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
