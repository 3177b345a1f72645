"""Terminal table: a user must see missing data, the fix, and the counts."""

from __future__ import annotations

import re

import pytest

from auditor.errors import ConfigError
from auditor.findings import Severity, Status
from auditor.output import FORMATS, diff_results, render
from tests.output.sample import WEB, audit_result, finding, findings

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_coverage_error_is_shown_in_the_header():
    out = render(audit_result(), "table", width=160)
    head = out[: out.index("Load balancers")]
    assert "DATA MISSING" in head
    assert "wafv2" in head
    assert "AccessDeniedException" in head
    assert "Status: partial" in head


def test_no_coverage_panel_when_everything_was_collected():
    result = audit_result(coverage=[c for c in audit_result().coverage if c.collector != "wafv2"], status="complete")
    assert "DATA MISSING" not in render(result, "table")


def test_findings_show_rule_owner_message_and_fix():
    out = render(audit_result(), "table", width=400)
    assert "EXP001" in out
    assert "Set alb.ingress.kubernetes.io/inbound-cidrs: 10.0.0.0/8 on Ingress shop/web." in out
    assert "Admin paths of Ingress shop/web are reachable from 0.0.0.0/0." in out
    # TLS001 has no Kubernetes reference of its own: the owner of its load balancer is shown
    tls001 = next(line for line in out.splitlines() if "TLS001" in line)
    assert "Ingress shop/web" in tls001
    assert "CRITICAL (1)" in out and "INFO (1)" in out


def test_severity_sections_are_worst_first():
    out = render(audit_result(), "table", width=200)
    positions = [out.index(f"{s.value.upper()} (1)") for s in Severity]
    assert positions == sorted(positions)


def test_unknown_findings_have_their_own_section():
    out = render(audit_result(), "table", width=300)
    assert "COULD NOT BE CHECKED (1)" in out
    assert "could not be checked: wafv2 data was not collected in eu-west-1 (AccessDeniedException)." in out


def test_pass_findings_only_when_asked():
    assert "TLS003" not in render(audit_result(), "table")
    assert "TLS003" in render(audit_result(), "table", include_pass=True)


def test_load_balancer_table_shows_cost_owner_and_counts():
    out = render(audit_result(), "table", width=200)
    web = next(line for line in out.splitlines() if "k8s-shop-web-1a2b3c4d5e" in line and "$" in line)
    assert "Ingress shop/web" in web and "$22.51" in web and "1 critical, 1 high, 1 medium" in web
    api = next(line for line in out.splitlines() if "k8s-shop-api" in line and "network" in line)
    assert "unknown" in api
    assert "(orphan: owner-gone)" in out


def test_closing_line_counts():
    out = render(audit_result(), "table", width=300).rstrip().splitlines()[-1]
    assert out.startswith("5 failed (1 critical, 1 high, 1 medium, 1 low, 1 info)")
    assert "1 could not be checked" in out
    assert "$40.91/month (+1 unpriced)" in out


def test_narrow_terminal_wraps_instead_of_cutting_text():
    out = render(audit_result(), "table", width=80)
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_color_only_when_asked_and_markup_in_data_is_literal():
    hostile = finding(
        "EXP009", Severity.HIGH, Status.FAIL, "[bold red]not markup[/bold red] [link=x]y[/link]", kube=WEB
    )
    result = audit_result(findings=[*findings(), hostile])
    plain = render(result, "table", width=300)
    assert not ANSI.search(plain)
    assert "[bold red]not markup[/bold red] [link=x]y[/link]" in plain
    colored = render(result, "table", width=300, color=True)
    assert ANSI.search(colored)
    assert "[bold red]not markup[/bold red]" in ANSI.sub("", colored)


def test_diff_is_shown_when_given():
    previous = audit_result(findings=findings()[1:])
    current = audit_result()
    out = render(current, "table", diff=diff_results(previous, current), width=200)
    assert "Since the last run (2024-05-01 12:00 UTC): 1 new, 0 resolved, 4 still open" in out


def test_every_format_renders_and_unknown_format_is_a_config_error():
    for fmt in FORMATS:
        assert render(audit_result(), fmt).strip()
    with pytest.raises(ConfigError, match="unknown output format 'yaml'"):
        render(audit_result(), "yaml")


def test_control_sequences_in_data_are_spelled_out_not_sent_to_the_terminal():
    # an annotation value quoted in a message, a load balancer name from AWS: ESC would let them clear the screen,
    # recolour the report or hide a hyperlink (OSC 8); a C1 CSI (0x9b) does the same on some terminals
    hostile = "\x1b[2J\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \x9b31m red \x07"
    evil = finding("EXP010", Severity.HIGH, Status.FAIL, f"value {hostile}", kube=WEB, remediation=hostile)
    lbs = audit_result().load_balancers
    lbs[0] = lbs[0].model_copy(update={"name": f"lb{hostile}"})
    result = audit_result(findings=[*findings(), evil], load_balancers=lbs)
    for color in (False, True):
        out = ANSI.sub("", render(result, "table", width=400, color=color))
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", out)
        assert r"value \x1b[2J\x1b]8;;http://evil.example\x1b\click" in out
        assert r"\x9b31m red \x07" in out
        assert r"lb\x1b[2J" in out
