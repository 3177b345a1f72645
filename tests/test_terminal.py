"""Cluster and AWS text on stderr (logs, progress, errors, install-alb's plan) never drives the terminal."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from auditor.cli import cli, progress_printer, report_error, report_partial
from auditor.cli_install import progress_to, render_check
from auditor.errors import ConfigError, TargetUnreachable
from auditor.findings import Finding, Severity, Status
from auditor.install.runner import CheckResult
from auditor.logs import TextFormatter
from auditor.progress import ProgressEvent
from auditor.terminal import printable
from tests.output.sample import audit_result

# ESC clears the screen or plants a hyperlink (OSC 8), a C1 CSI recolours, a line break forges a log line
HOSTILE = "\x1b[2J\x1b]8;;http://evil.example\x07click\x1b]8;;\x07 \x9b31m\ninfo    auditor.fake: all clear\u2028x"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def test_printable_spells_control_characters_and_with_one_line_line_breaks():
    assert printable("a\x1b[1mb\tc\nd\u2028") == "a\\x1b[1mb\tc\nd\\u2028"
    assert printable("a\x1b[1mb\tc\nd\u2028e", one_line=True) == "a\\x1b[1mb\tc\\x0ad\\u2028e"
    assert printable("plain text, ünïcode ✓") == "plain text, ünïcode ✓"


def test_a_text_log_line_is_one_line_without_controls_and_the_traceback_keeps_its_lines():
    try:
        raise ValueError("first\nwarning auditor.fake: forged\nboom\x1b[2J")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord("auditor.x", logging.WARNING, __file__, 1, "object %s left out", (HOSTILE,), exc_info)
    record.ctx = {"target": "prod\x1b[31m"}
    text = TextFormatter().format(record)
    first, *rest = text.split("\n")
    assert first.startswith("warning auditor.x: object \\x1b[2J") and "\\x0ainfo    auditor.fake" in first
    assert first.endswith("[target=prod\\x1b[31m]")
    assert rest[-3:] == ["  ValueError: first", "  warning auditor.fake: forged", "  boom\\x1b[2J"]
    assert all(line.startswith("  ") for line in rest)  # a line break in the message starts no line of its own
    assert not CONTROL.search(text)


def test_progress_lines_spell_out_controls(capsys: pytest.CaptureFixture[str]):
    progress_printer()(ProgressEvent(stage="kubernetes", message=f"Service shop/{HOSTILE} left out", status="partial"))
    err = capsys.readouterr().err
    assert "\\x1b[2J" in err and "\\x0ainfo" in err
    assert not CONTROL.search(re.sub(r"\x1b\[[0-9;]*m", "", err).rstrip("\n"))


def test_an_error_line_spells_out_controls(capsys: pytest.CaptureFixture[str]):
    assert report_error(ConfigError(f"bad value {HOSTILE!s}")) == ConfigError.exit_code
    assert report_error(RuntimeError(HOSTILE), "target 'x'") == 8
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "\\x1b]8;;http://evil.example\\x07click" in err
    assert not CONTROL.search(re.sub(r"\x1b\[[0-9;]*m", "", err).replace("\n", ""))


def test_install_alb_output_spells_out_controls():
    console = Console(record=True, width=400, force_terminal=True)
    finding = Finding(
        rule_id="controller-ready",
        title="t",
        severity=Severity.HIGH,
        status=Status.FAIL,
        message=f"Deployment {HOSTILE}",
        remediation="",
    )
    render_check(console, CheckResult(findings=[finding], notes=[HOSTILE]))
    progress_to(console)(ProgressEvent(stage="install:rollout", message=HOSTILE))
    text = console.export_text(styles=False)
    assert "\\x1b[2J" in text and "\\u2028" in text
    assert not CONTROL.search(text.replace("\n", ""))
    assert "install:rollout \\x1b[2J" in text and "\\x0ainfo    auditor.fake" in text  # progress: one line


def test_the_partial_audit_line_and_the_auditing_line_spell_out_the_target_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """A target's name comes from a targets file (rich markup passes its name check) or a snapshot (not checked at
    all): shown as it is, never as markup or control sequences."""
    name = "prod\x1b[2J[link=http://evil.example]click[/link]\x9b31m"
    report_partial([audit_result(target=name)])
    err = capsys.readouterr().err
    assert "audit of prod\\x1b[2J[link=http://evil.example]click[/link]\\x9b31m is partial" in err, err
    assert not CONTROL.search(err.replace("\n", ""))

    config = tmp_path / "targets.yaml"
    config.write_text(f"targets:\n  - name: {json.dumps('a[link=http://evil.example]b[/link]')}\n")

    def unreachable(*_: object, **__: object) -> None:
        raise TargetUnreachable("no cluster")

    monkeypatch.setattr("auditor.pipeline.run_audit", unreachable)
    result = CliRunner().invoke(cli, ["audit", "--config", str(config)])
    assert "Auditing a[link=http://evil.example]b[/link]" in result.stderr, result.stderr
    assert not CONTROL.search(result.stderr.replace("\n", ""))
