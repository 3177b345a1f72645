"""`auditor db` and `auditor token` on a database URL that cannot work: one line and exit 4, never an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_audit_cli import assert_one_line, run_cli


@pytest.mark.parametrize("command", [("db", "current"), ("db", "upgrade"), ("token", "list")])
def test_a_file_that_is_not_a_database_is_exit_4(tmp_path: Path, command: tuple[str, ...]) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_bytes(b"these are not the rows you are looking for\n" * 200)
    proc = run_cli("--log-level", "WARNING", *command, env={"AUDITOR_DATABASE_URL": f"sqlite:///{not_a_db}"})
    assert_one_line(proc, 4, f"database sqlite:///{not_a_db}", "file is not a database")


@pytest.mark.parametrize("command", [("db", "upgrade"), ("token", "list")])
def test_a_sqlite_directory_that_cannot_be_made_is_exit_4(tmp_path: Path, command: tuple[str, ...]) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("x")
    url = f"sqlite:///{in_the_way / 'auditor.db'}"
    proc = run_cli("--log-level", "WARNING", *command, env={"AUDITOR_DATABASE_URL": url})
    assert_one_line(proc, 4, f"cannot create the directory of database {url}")


@pytest.mark.parametrize("name", ["99999999999999999999", "2147483648", "\u00b2"])
def test_revoking_an_id_no_token_can_have_says_no_such_token(tmp_path: Path, name: str) -> None:
    env = {"AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    proc = run_cli("--log-level", "WARNING", "token", "revoke", name, env=env)
    assert_one_line(proc, 2, f"no token named {name!r}")


@pytest.mark.parametrize("name", ["two\nlines", "x" * 5000, " padded", "nul\x01", "csi\x9b31m", "line\u2028sep"])
def test_a_token_name_the_api_would_refuse_is_exit_2_and_creates_nothing(tmp_path: Path, name: str) -> None:
    env = {"AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    proc = run_cli("--log-level", "WARNING", "token", "create", "--name", name, env=env)
    assert_one_line(proc, 2, "is not a token name: 1-200 characters, no control characters or surrounding spaces")
    listed = run_cli("--log-level", "WARNING", "token", "list", env=env)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 1, listed.stdout  # the header alone


@pytest.mark.parametrize("command", [("db", "upgrade"), ("export", "securityhub", "--target", "prod")])
def test_the_migration_library_says_nothing_at_info(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = {"AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    proc = run_cli("--log-level", "INFO", *command, env=env)
    assert "at revision" in proc.stdout + proc.stderr  # the auditor's own line on the migration
    assert " alembic." not in proc.stderr, proc.stderr  # e.g. "info    alembic.runtime.plugins: setup plugin"


@pytest.mark.parametrize("form", ["{}", "{}?mode=memory", "file:{}?uri=true", "file://{}?uri=true"])
def test_db_current_on_a_database_that_does_not_exist_creates_nothing(tmp_path: Path, form: str) -> None:
    url = "sqlite:///" + form.format(tmp_path / "no" / "such" / "dir" / "x.db")
    proc = run_cli("--log-level", "WARNING", "db", "current", env={"AUDITOR_DATABASE_URL": url})
    assert_one_line(proc, 4, "x.db", "does not exist; `auditor db upgrade` creates it")
    assert list(tmp_path.iterdir()) == []
    if "uri=true" in url:
        return  # a URI's directory is sqlite's to find: db upgrade does not make it either
    # the commands that write still make it: db upgrade, then db current reads it
    assert run_cli("db", "upgrade", env={"AUDITOR_DATABASE_URL": url}).returncode == 0
    current = run_cli("db", "current", env={"AUDITOR_DATABASE_URL": url})
    assert current.returncode == 0 and "(this auditor needs" in current.stdout and ": empty" not in current.stdout


def test_a_sqlite_uri_makes_no_directory_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uri=true: the path is sqlite's to read ("file:/x/y.db"); taken as a file name, its parent was "./file:"."""
    from auditor.store.db import make_engine, upgrade

    monkeypatch.chdir(tmp_path)
    engine = make_engine(f"sqlite:///file:{tmp_path}/u.db?uri=true")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.db"]


def test_a_token_id_in_other_scripts_digits_is_no_id(tmp_path: Path) -> None:
    """'１' (full-width) is not token 1, as the API and the dashboard read ids: ASCII digits only."""
    env = {"AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    assert run_cli("--log-level", "WARNING", "token", "create", "--name", "first", env=env).returncode == 0
    proc = run_cli("--log-level", "WARNING", "token", "revoke", "\uff11", env=env)
    assert_one_line(proc, 2, "no token named '\uff11'")
    assert run_cli("--log-level", "WARNING", "token", "revoke", "1", env=env).returncode == 0


def test_a_token_name_taken_is_exit_2_not_a_partial_audit(tmp_path: Path) -> None:
    """The README's exit 7 is a partial audit; a name already taken is a bad flag (2), like an unknown one."""
    env = {"AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    assert run_cli("--log-level", "WARNING", "token", "create", "--name", "ci", env=env).returncode == 0
    proc = run_cli("--log-level", "WARNING", "token", "create", "--name", "ci", env=env)
    assert_one_line(proc, 2, "a token named 'ci' exists already")
