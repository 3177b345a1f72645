"""`--rules` / `--skip-rules` on the command line: unknown names are exit 2 in one line; a snapshot is judged
by the selected rules only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.rules.registry import catalog
from tests.cli.test_audit_cli import run_cli, snapshot_with_problems


@pytest.mark.parametrize("command", [["audit"], ["collect", "--out", "snap.json"]])
@pytest.mark.parametrize("flag", ["--rules", "--skip-rules"])
def test_an_unknown_rule_is_exit_2_in_one_line(command: list[str], flag: str, tmp_path: Path) -> None:
    out = [*command[:-1], str(tmp_path / command[-1])] if command[0] == "collect" else command
    proc = run_cli(*out, "--no-kubernetes", flag, "tls", flag, "http-without-redirect,no-such-rule")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "unknown rule or category no-such-rule" in lines[0]
    assert "http-without-redirect" in lines[0] and "categories: " in lines[0]  # what would have been valid
    assert not (tmp_path / "snap.json").exists()


def test_a_snapshot_is_judged_by_the_selected_category_only(tmp_path: Path) -> None:
    snap = snapshot_with_problems(tmp_path)
    full = json.loads(run_cli("audit", "--snapshot", str(snap), "-o", "json", "--include-pass").stdout)
    proc = run_cli("audit", "--snapshot", str(snap), "-o", "json", "--include-pass", "--rules", "tls,waf")
    chosen = json.loads(proc.stdout)
    wanted = {m.id for m in catalog() if m.category in {"tls", "waf"}}
    assert {f["rule_id"] for f in chosen["findings"]} <= wanted
    assert {(f["fingerprint"], f["status"]) for f in chosen["findings"]} == {
        (f["fingerprint"], f["status"]) for f in full["findings"] if f["rule_id"] in wanted
    }
    skipped = json.loads(
        run_cli("audit", "--snapshot", str(snap), "-o", "json", "--include-pass", "--skip-rules", "tls").stdout
    )
    assert {f["rule_id"] for f in skipped["findings"]} == {f["rule_id"] for f in full["findings"]} - {
        m.id for m in catalog() if m.category == "tls"
    }
