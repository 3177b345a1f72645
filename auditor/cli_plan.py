"""`auditor plan-consolidation`: which Ingresses can share an ALB and which HTTP Services can move behind one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from auditor.config import Settings, TargetConfig
from auditor.findings import AuditResult, ConsolidationPlan
from auditor.terminal import echo_printable


def plan_report(results: list[AuditResult]) -> dict[str, Any]:
    """The JSON form: one plan per audited target, and the totals over them."""
    plans = [(r.target, r.consolidation or ConsolidationPlan(cluster=r.cluster_name, complete=False)) for r in results]
    return {
        "plans": [{"target": target, **plan.model_dump(mode="json")} for target, plan in plans],
        "load_balancers_before": sum(p.load_balancers_before for _, p in plans),
        "load_balancers_after": sum(p.load_balancers_after for _, p in plans),
        "monthly_usd_before": round(sum(p.monthly_usd_before for _, p in plans), 2),
        "monthly_usd_after": round(sum(p.monthly_usd_after for _, p in plans), 2),
        "monthly_saving_usd": round(sum(p.monthly_saving_usd for _, p in plans), 2),
        "complete": all(p.complete for _, p in plans),
    }


def make_command(
    target_options: Callable[[Callable[..., Any]], Callable[..., Any]],
    resolve_targets: Callable[..., list[TargetConfig]],
    snapshot_result: Callable[..., AuditResult],
    exit_partial: int,
) -> click.Command:
    """The ``plan-consolidation`` command with the CLI's target flags and snapshot audit (passed in: auditor.cli imports
    this)."""

    @click.command("plan-consolidation")
    @target_options
    @click.option("--snapshot", type=click.Path(path_type=Path), help="Plan from a saved snapshot offline.")
    @click.option("--output", "-o", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
    @click.option(
        "--allow-partial", is_flag=True, help=f"Exit 0 even when some inputs were not read (else {exit_partial})."
    )
    @click.pass_obj
    def plan_consolidation(
        settings: Settings, /, snapshot: Path | None, fmt: str, allow_partial: bool, **flags: Any
    ) -> None:
        """Propose moves that cut load balancers: Ingresses that join one IngressGroup within the ALB limits
        (100 rules, 25 certificates, 100 target groups) and with the same group-wide settings, and HTTP
        LoadBalancer Services that move behind an ALB of their scheme — as kubectl commands and manifest
        changes, with the load balancers and monthly cost before and after. Never changes a scheme or drops a
        WAF; what was not read is not planned (exit 7 unless --allow-partial)."""
        from auditor.pipeline import audit_targets  # every collector: not for `--help`

        if snapshot is not None:
            results = [snapshot_result(snapshot, settings, **flags)]
        else:
            results = audit_targets(resolve_targets(settings, **flags), settings)
        report = plan_report(results)
        _print(report, fmt)
        if not report["complete"] and not allow_partial:
            raise SystemExit(exit_partial)

    return plan_consolidation


def _money(value: float | None) -> str:
    return "?" if value is None else f"${value:,.2f}"


def _print(report: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
        return
    for plan in report["plans"]:
        echo_printable(f"{plan['target']}: {len(plan['moves'])} moves")
        for i, move in enumerate(plan["moves"], 1):
            what = ", ".join(move["moves"])
            echo_printable(
                f"  {i}. {what} -> group {move['group']} on {move['load_balancer']} ({move['scheme']}); "
                f"retires {', '.join(move['retires'])}; saves {_money(move['monthly_saving_usd'])}/month"
            )
            echo_printable(
                f"     after: {move['rules']} rules, {move['certificates']} certificates, "
                f"{move['target_groups']} target groups"
            )
            for command in move["commands"]:
                echo_printable(f"     $ {command}")
            if move["manifest"]:
                echo_printable("     " + move["manifest"].replace("\n", "\n     "))
            for note in move["notes"]:
                echo_printable(f"     note: {note}")
        for left in plan["not_planned"]:
            echo_printable(f"  not planned: {left['object']}: {left['reason']}")
        echo_printable(
            f"  load balancers {plan['load_balancers_before']} -> {plan['load_balancers_after']}, "
            f"monthly {_money(plan['monthly_usd_before'])} -> {_money(plan['monthly_usd_after'])} "
            f"(saves {_money(plan['monthly_saving_usd'])})"
        )
    if len(report["plans"]) > 1:
        echo_printable(
            f"total: load balancers {report['load_balancers_before']} -> {report['load_balancers_after']}, "
            f"monthly {_money(report['monthly_usd_before'])} -> {_money(report['monthly_usd_after'])}"
        )
