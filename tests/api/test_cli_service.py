"""`auditor db upgrade|current` and `auditor token create|list|revoke` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from auditor.cli_service import db, serve, token


def test_db_and_token_commands(tmp_path: Path) -> None:
    env = {"AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    runner = CliRunner()
    out = runner.invoke(db, ["upgrade"], env=env)
    assert out.exit_code == 0 and "at revision" in out.output
    assert "this auditor needs" in runner.invoke(db, ["current"], env=env).output
    created = runner.invoke(token, ["create", "--name", "ci", "--scope", "admin"], env=env)
    secret = created.stdout.splitlines()[0]
    assert created.exit_code == 0 and secret.startswith("aud_") and len(secret) > 40
    listed = runner.invoke(token, ["list"], env=env).output
    assert "ci" in listed and "admin" in listed and secret not in listed
    assert runner.invoke(token, ["create", "--name", "ci"], env=env).exit_code != 0  # name taken
    assert "revoked" in runner.invoke(token, ["revoke", "ci"], env=env).output
    assert "revoked" in runner.invoke(token, ["list"], env=env).output
    assert runner.invoke(token, ["revoke", "nobody"], env=env).exit_code != 0


def test_serve_refuses_contradicting_flags() -> None:
    out = CliRunner().invoke(serve, ["--api-only", "--scheduler-only"])
    assert out.exit_code == 2 and "exclude each other" in out.output
