"""`auditor cost`: what the audited load balancers cost a month, per owner, namespace, cluster or team."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from auditor.config import Settings, TargetConfig
from auditor.cost.allocate import GROUP_BY, cost_summary
from auditor.findings import AuditResult, CostShareView
from auditor.terminal import echo_printable


def cost_report(results: list[AuditResult], group_by: str) -> dict[str, Any]:
    """The JSON form: monthly USD per group, the total, and how shared load balancers were split."""
    shares: list[CostShareView] = [s for r in results for lb in r.load_balancers for s in lb.cost_shares]
    unpriced = sum(1 for r in results for lb in r.load_balancers if lb.monthly_cost_usd is None)
    return {
        **cost_summary(shares, group_by),
        "load_balancers_without_price": unpriced,
        # a partial audit's total counts only the load balancers that were read: exit 7 unless --allow-partial
        "complete": all(r.status == "complete" for r in results),
    }


def make_command(
    target_options: Callable[[Callable[..., Any]], Callable[..., Any]],
    resolve_targets: Callable[..., list[TargetConfig]],
    snapshot_result: Callable[..., AuditResult],
    report_partial: Callable[[list[AuditResult]], None],
    exit_partial: int,
) -> click.Command:
    """The ``cost`` command with the CLI's target flags, snapshot audit and partial-audit report (passed in:
    auditor.cli imports this)."""

    @click.command()
    @target_options
    @click.option("--group-by", type=click.Choice(GROUP_BY), default="namespace", show_default=True)
    @click.option("--snapshot", type=click.Path(path_type=Path), help="Cost a saved snapshot offline.")
    @click.option("--output", "-o", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
    @click.option(
        "--allow-partial", is_flag=True, help=f"Exit 0 even when some inputs were not read (else {exit_partial})."
    )
    @click.pass_obj
    def cost(
        settings: Settings, /, group_by: str, snapshot: Path | None, fmt: str, allow_partial: bool, **flags: Any
    ) -> None:
        """Monthly cost of the audited load balancers per owner, namespace, cluster or team (AUDITOR_COST__TEAM_KEY).

        A shared ALB is split across the Ingresses of its group by their target groups' RequestCount where it
        was read, else evenly across their rules; the output says which. A partial audit's total counts only
        what was read (exit 7 unless --allow-partial)."""
        from auditor.pipeline import audit_targets  # every collector: not for `--help`

        if snapshot is not None:
            results = [snapshot_result(snapshot, settings, **flags)]
        else:
            results = audit_targets(resolve_targets(settings, **flags), settings)
        report = cost_report(results, group_by)
        _print(report, fmt)
        if not report["complete"]:
            report_partial(results)
            if not allow_partial:
                raise SystemExit(exit_partial)

    return cost


def _print(report: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
        return
    group_by = report["group_by"]
    width = max([len(group_by), *(len(k) for k in report["monthly_usd"])])
    echo_printable(f"{group_by:<{width}}  monthly USD")
    for key, usd in report["monthly_usd"].items():
        echo_printable(f"{key:<{width}}  {usd:>11.2f}")
    echo_printable(f"{'total':<{width}}  {report['total_monthly_usd']:>11.2f}")
    methods = ", ".join(f"{n} by {m}" for m, n in report["split_methods"].items())
    if methods:
        echo_printable(f"shares: {methods}")
