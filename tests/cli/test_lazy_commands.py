"""The CLI imports a subsystem's command only when it is run or listed: `auditor audit` starts without the
service, the database layer or the installer."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from auditor.cli import cli

LAZY = ("cost", "db", "export", "install-alb", "plan-consolidation", "serve", "token")


def test_the_audit_path_imports_no_service_database_or_installer() -> None:
    probe = (
        "import sys, auditor.cli\n"
        "heavy = [m for m in ('sqlalchemy', 'fastapi', 'auditor.store.db', 'auditor.install.apply', 'auditor.service')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == ""


def test_every_command_is_listed_and_each_lazy_one_loads_and_runs() -> None:
    runner = CliRunner()
    listing = runner.invoke(cli, ["--help"])
    assert listing.exit_code == 0
    for name in (*LAZY, "audit", "collect", "demo", "rules", "iam-policy"):
        assert f"  {name} " in listing.output, name
    for name in LAZY:
        shown = runner.invoke(cli, [name, "--help"])
        assert shown.exit_code == 0, (name, shown.output)
        assert "Usage:" in shown.output
    unknown = runner.invoke(cli, ["no-such-command"])
    assert unknown.exit_code == 2 and "No such command" in unknown.output
