"""`auditor plan-consolidation` as a user runs it: on a snapshot and on the demo, JSON and table, exit codes
(0 planned; 7 when some inputs were not read, unless --allow-partial; 2 for bad input, one line, no traceback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import EXIT_PARTIAL, cli
from auditor.demo.environment import DemoEnvironment
from tests.cli.test_audit_cli import run_cli
from tests.cli.test_export_cli import one_line_error
from tests.cost.test_consolidation import cluster


def _snapshot(tmp_path: Path, **kw) -> Path:
    snap = tmp_path / "snap.json"
    snap.write_text(cluster(**kw).dump_json())
    return snap


def test_a_snapshot_is_planned_as_json(tmp_path):
    result = CliRunner().invoke(cli, ["plan-consolidation", "--snapshot", str(_snapshot(tmp_path)), "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (plan,) = doc["plans"]
    assert [(m["kind"], m["group"], m["moves"]) for m in plan["moves"]] == [
        ("join-group", "shared", ["Ingress shop/api", "Ingress shop/web"]),
        ("service-behind-alb", "shared", ["Service blog/front"]),
        ("service-behind-alb", "ops/admin", ["Service ops/ui"]),
    ]
    assert (doc["load_balancers_before"], doc["load_balancers_after"]) == (8, 4)
    assert doc["complete"] is True
    assert doc["monthly_usd_after"] == pytest.approx(doc["monthly_usd_before"] - doc["monthly_saving_usd"], abs=0.01)


def test_the_table_shows_commands_manifests_and_the_counts(tmp_path):
    result = CliRunner().invoke(cli, ["plan-consolidation", "--snapshot", str(_snapshot(tmp_path))])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "$ kubectl -n shop annotate ingress web alb.ingress.kubernetes.io/group.name='shared' --overwrite" in out
    assert "type: ClusterIP" in out
    assert "load balancers 8 -> 4" in out


def test_unread_inputs_exit_7_unless_allowed(tmp_path):
    snap = _snapshot(tmp_path, failed={"wafv2": "AccessDeniedException"})
    result = CliRunner().invoke(cli, ["plan-consolidation", "--snapshot", str(snap)])
    assert result.exit_code == EXIT_PARTIAL == 7
    assert "not planned: Ingress shop/web (k8s-shop-web): WAF associations were not read" in result.stdout
    allowed = CliRunner().invoke(cli, ["plan-consolidation", "--snapshot", str(snap), "--allow-partial"])
    assert allowed.exit_code == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--snapshot", "/nonexistent/snap.json"), "cannot read snapshot"),
        (("--region", "../etc"), "not an AWS region name"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, says):
    assert says in one_line_error(run_cli("plan-consolidation", *args), 2)


def test_a_snapshot_that_is_not_one_is_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "x"')
    proc = run_cli("plan-consolidation", "--snapshot", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_an_unknown_output_format_is_a_usage_error():
    proc = run_cli("plan-consolidation", "-o", "yaml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ the demo


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoEnvironment]:
    with DemoEnvironment() as env:
        yield env


def test_the_demo_shows_a_plan(demo: DemoEnvironment):
    result = CliRunner().invoke(
        cli, ["plan-consolidation", "--config", str(demo.config_file), "--target", "demo", "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    (plan,) = json.loads(result.stdout)["plans"]
    moves = {(m["kind"], tuple(m["moves"]), m["group"], tuple(m["retires"])) for m in plan["moves"]}
    names = {lb: lb for m in plan["moves"] for lb in m["retires"]}
    assert {(kind, objs, group) for kind, objs, group, _ in moves} == {
        # the two internal dashboards ALBs of namespace data become one group (the rule ungrouped-ingresses)
        ("join-group", ("Ingress data/dashboards", "Ingress data/grafana"), "data"),
        # the HTTP Services on their own NLBs (http-service-on-own-lb), each behind an ALB of its scheme
        ("service-behind-alb", ("Service payments/api",), "shop"),
        ("service-behind-alb", ("Service shop/cart",), "data"),
    }
    assert len(names) == 4  # two ALBs and two NLBs go away
    assert plan["load_balancers_after"] == plan["load_balancers_before"] - 3  # two ALBs become one; two NLBs go
    assert plan["monthly_saving_usd"] > 0
    assert plan["monthly_usd_after"] == pytest.approx(plan["monthly_usd_before"] - plan["monthly_saving_usd"], abs=0.01)
    for move in plan["moves"]:
        assert move["rules"] <= 100 and move["certificates"] <= 25 and move["target_groups"] <= 100


def test_the_readme_shows_the_demo_plan_as_it_is(demo: DemoEnvironment):
    """The README's transcript of this command: its lines, in order, are the table's ("…" elides some)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ auditor plan-consolidation --config <the demo's targets.yaml> --target demo\n", 1)[1]
    shown = [line for line in block.split("```", 1)[0].splitlines() if "…" not in line]
    result = CliRunner().invoke(cli, ["plan-consolidation", "--config", str(demo.config_file), "--target", "demo"])
    assert result.exit_code == 0, result.output
    printed = [line.rstrip() for line in result.stdout.splitlines()]
    at = 0
    for line in shown:
        assert line.rstrip() in printed[at:], f"README line not printed (in this order): {line!r}"
        at = printed.index(line.rstrip(), at) + 1


def test_cost_of_a_partial_audit_exits_7_unless_allowed(tmp_path):
    """A total that counts only the load balancers that were read is no total to act on: the same gate as here."""
    snap = _snapshot(tmp_path, failed={"elbv2": "AccessDenied"})
    result = CliRunner().invoke(cli, ["cost", "--snapshot", str(snap), "-o", "json"])
    assert result.exit_code == EXIT_PARTIAL
    assert json.loads(result.stdout)["complete"] is False
    assert "is partial" in result.stderr and "elbv2" in result.stderr
    allowed = CliRunner().invoke(cli, ["cost", "--snapshot", str(snap), "--allow-partial"])
    assert allowed.exit_code == 0 and "total" in allowed.stdout
    complete = CliRunner().invoke(cli, ["cost", "--snapshot", str(_snapshot(tmp_path)), "-o", "json"])
    assert complete.exit_code == 0 and json.loads(complete.stdout)["complete"] is True


def test_text_output_spells_out_control_characters(capsys):
    """A reason quoting cluster text (an annotation value) must not clear the screen or plant a terminal link."""
    from auditor.cli_cost import _print as print_cost
    from auditor.cli_plan import _print as print_plan

    plan = {
        "target": "prod\x1b[2J",
        "moves": [],
        "not_planned": [{"object": "Ingress shop/web", "reason": "value \x1b]8;;http://evil\x1b\\click\x9b"}],
        "load_balancers_before": 1,
        "load_balancers_after": 1,
        "monthly_usd_before": 1.0,
        "monthly_usd_after": 1.0,
        "monthly_saving_usd": 0.0,
    }
    print_plan({"plans": [plan]}, "table")
    cost = {"group_by": "team", "monthly_usd": {"ops\x1b[31m": 2.0}, "total_monthly_usd": 2.0, "split_methods": {}}
    print_cost(cost, "table")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out
    assert "prod\\x1b[2J" in out and "value \\x1b]8;;http://evil" in out and "ops\\x1b[31m" in out
