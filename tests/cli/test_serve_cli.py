"""`auditor serve` that cannot start: one line and the documented exit code before the server starts, never the
traceback uvicorn logs for a failed application start-up (and its exit 3, "a target could not be read")."""

from __future__ import annotations

import subprocess
from pathlib import Path

from auditor.demo.motoserver import free_port
from tests.cli.test_audit_cli import assert_one_line, run_cli


def serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    ours = {"AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "AUDITOR_LOG_LEVEL": "WARNING", **(env or {})}
    return run_cli("serve", "--port", str(free_port()), *args, env=ours)


def test_a_bad_targets_file_is_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "targets.yaml"
    config.write_text("targets:\n  - name: a\n    regoins: [eu-west-1]\n")
    assert_one_line(serve(tmp_path, "--config", str(config)), 2, f"{config}: target 'a': regoins")
    config.write_bytes(b"targets:\n  - name: caf\xe9\n")
    assert_one_line(serve(tmp_path, "--config", str(config)), 2, f"config file {config} is not UTF-8")


def test_a_database_that_cannot_be_migrated_is_exit_4(tmp_path: Path) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_bytes(b"not a database\n" * 500)
    proc = serve(tmp_path, env={"AUDITOR_DATABASE_URL": f"sqlite:///{not_a_db}"})
    assert_one_line(proc, 4, "cannot migrate database", "file is not a database")


def test_an_unknown_scheduler_time_zone_is_a_bad_setting(tmp_path: Path) -> None:
    proc = serve(tmp_path, env={"AUDITOR_SCHEDULER__TIMEZONE": "Mars/Olympus_Mons"})
    assert_one_line(proc, 2, "bad setting AUDITOR_SCHEDULER__TIMEZONE", "'Mars/Olympus_Mons' is not known")
