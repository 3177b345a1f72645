"""The README against the code it describes: settings and their defaults, API routes, rules, exit codes.

Each test fails on the kind of drift found before it existed: a setting added without a README row (or a default
changed under it), a route the table does not list (or one it lists that is gone), an error whose exit code the
README gives another meaning."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from auditor import errors
from auditor.api.app import create_app
from auditor.cli import EXIT_CODES, EXIT_FINDINGS, EXIT_PARTIAL
from auditor.config import Settings
from auditor.rules.registry import catalog

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _settings(model: type[BaseModel], prefix: str = "AUDITOR_") -> dict[str, Any]:
    """Every environment variable of the settings model -> its default."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            out.update(_settings(field.annotation, f"{prefix}{name.upper()}__"))
        else:
            out[f"{prefix}{name.upper()}"] = field.get_default(call_default_factory=True)
    return out


def _readme_settings() -> dict[str, str]:
    rows = re.findall(r"^\| `(AUDITOR_[A-Z_]+)` \| ([^|]+) \|", _section("Settings"), re.M)
    return {name: cell.strip() for name, cell in rows}


def test_every_setting_has_a_readme_row_with_its_default() -> None:
    documented, defaults = _readme_settings(), _settings(Settings)
    assert sorted(documented) == sorted(defaults), "README's settings table and auditor/config.py list different ones"
    for name, default in defaults.items():
        cell = documented[name]
        if default is None:
            assert cell == "unset", (name, cell)
        elif isinstance(default, str):
            assert cell == f"`{default}`", (name, cell)
        else:  # numbers, booleans and lists as JSON, as the variable takes them
            assert json.loads(cell.strip("`")) == default, (name, cell)


def _readme_routes() -> set[tuple[str, str]]:
    table = README.split("| method and path | what |", 1)[1].split("\n\n", 1)[0]
    routes = set()
    for methods, path in re.findall(r"`((?:GET|POST|PUT|DELETE)(?:/(?:GET|POST|PUT|DELETE))*) (/[^`?]*)", table):
        routes.update((method, re.sub(r"\{[^}]+\}", "{}", path)) for method in methods.split("/"))
    return routes


def test_the_readme_api_table_lists_every_route_and_only_those() -> None:
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    served = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path)) for path, ops in spec["paths"].items() for method in ops
    }
    assert _readme_routes() == served


def test_the_readme_rule_table_is_the_registry() -> None:
    listed = re.findall(r"^\| `([a-z-]+)` \|", _section("What it checks"), re.M)
    assert sorted(listed) == sorted(m.id for m in catalog())


def test_every_error_exits_with_a_documented_code_that_is_not_an_audit_outcome() -> None:
    """1 (findings) and 7 (a partial audit) say how an audit went; an error exiting with one would be misread."""
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.AuditorError):
            assert cls.exit_code in EXIT_CODES, cls
            assert cls.exit_code not in (EXIT_FINDINGS, EXIT_PARTIAL), cls


@pytest.mark.parametrize("code", sorted(EXIT_CODES))
def test_the_readme_names_every_exit_code(code: int) -> None:
    listed = README.split("Exit codes: ", 1)[1].split("Every failure is one line", 1)[0]
    assert re.search(rf"(^|· ){code} ", listed), code
