"""`auditor install-alb`: install, repair or upgrade the AWS Load Balancer Controller, plan first."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from rich.console import Console

from auditor.config import Settings, get_settings
from auditor.controller.versions import DEFAULT_VERSION, SUPPORTED_VERSIONS
from auditor.errors import AuditorError, InstallError, InstallRefused
from auditor.findings import Status
from auditor.install.model import DEFAULT_POLICY_NAME, Action, ApplyReport, InstallOptions, Plan
from auditor.install.runner import CheckResult, check, make_plan, open_session, resolve_options, run_plan
from auditor.progress import ProgressEvent, ProgressFn
from auditor.terminal import say

log = logging.getLogger(__name__)

_MARK = {
    Action.CREATE: "[green]+ create   [/]",
    Action.UPDATE: "[yellow]~ update   [/]",
    Action.UNCHANGED: "[dim]= unchanged[/]",
    Action.WAIT: "[cyan]… wait     [/]",
}


def render_plan(console: Console, the_plan: Plan) -> None:
    console.print("[bold]Plan[/]")
    for step in the_plan.steps:
        console.print(f"  {_MARK[step.action]} [bold]{step.name}[/] ", end="")
        say(console, f"{step.target}: {step.summary}")
        for line in step.details:
            say(console, f"        - {line}")
        if step.diff:
            for line in step.diff.splitlines():
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                say(console, f"        {line}", style=style)
    for note in the_plan.notes:
        say(console, f"  note: {note}")
    for refusal in the_plan.refusals:
        say(console, f"  refused: {refusal}", style="red")
    counts = the_plan.counts()
    console.print(
        f"[bold]{the_plan.changes} to change[/] ({counts['create']} to create, {counts['update']} to update, "
        f"{counts['unchanged']} unchanged)"
    )


def render_report(console: Console, report: ApplyReport) -> None:
    for change in report.changes:
        say(console, f"  changed: {change}")
    if not report.ok:
        failed = next(r for r in report.results if r.status == "failed")
        console.print(f"[red]step {failed.name} failed:[/] ", end="")
        say(console, failed.error)
        say(console, f"  finished: {', '.join(report.finished) or '-'}")
        say(console, f"  failed: {', '.join(report.failed)}")
        say(console, f"  not started: {', '.join(report.not_started) or '-'}")
        console.print("  re-run the same command to resume: finished steps will show as unchanged")


def render_check(console: Console, result: CheckResult) -> None:
    console.print("[bold]Verification[/]")
    for finding in result.findings:
        style = {"FAIL": "red", "PASS": "green"}.get(finding.status.value, "yellow")
        console.print(f"  {finding.status.value:7} {finding.rule_id}: ", style=style, end="")
        say(console, finding.message)
    for note in result.notes:
        say(console, f"  note: {note}")


def progress_to(console: Console) -> ProgressFn:
    """Progress on stderr: the waiting step shows each poll, other steps their outcome."""

    def show(event: ProgressEvent) -> None:
        if event.status == "running" and event.stage != "install:rollout":
            return
        console.print(f"  [dim]{event.stage}[/] ", end="")
        say(console, event.message, one_line=True)

    return show


@click.command("install-alb")
@click.option("--cluster-name", required=True, help="EKS cluster name.")
@click.option("--region", required=True, help="AWS region of the cluster.")
@click.option("--context", help="kubeconfig context (default: current context).")
@click.option("--kubeconfig", type=click.Path(path_type=Path), help="kubeconfig file.")
@click.option(
    "--controller-version",
    default=DEFAULT_VERSION,
    show_default=True,
    help=f"Controller version ({', '.join(SUPPORTED_VERSIONS)}; newer patches are accepted, a minor or major line "
    f"past {SUPPORTED_VERSIONS[-1]}'s is refused: its IAM policy is not known).",
)
@click.option("--chart-version", help="Override the chart version pinned for the controller version.")
@click.option(
    "--chart-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Local chart directory (air-gapped): rendered offline and applied through the Kubernetes API.",
)
@click.option("--pod-identity", is_flag=True, help="Use an EKS Pod Identity association instead of IRSA.")
@click.option("--role-name", help="IAM role name (default <cluster>-aws-load-balancer-controller).")
@click.option("--policy-name", default=DEFAULT_POLICY_NAME, show_default=True, help="IAM policy name.")
@click.option("--vpc-id", help="VPC of the cluster (default: discovered).")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Go ahead on EKS Auto Mode or over a controller installed by other means.")
@click.option("--allow-downgrade", is_flag=True, help="Allow installing an older controller than the running one.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for the rollout.")
@click.pass_context
def install_alb(ctx: click.Context, /, **flags: object) -> None:
    """Install, repair or upgrade the AWS Load Balancer Controller: plan, confirm, apply, verify.

    Safe to re-run at any time: every step is idempotent and a failed run resumes.
    """
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    settings = ctx.obj if isinstance(ctx.obj, Settings) else None
    try:
        code = _run(out, err, settings or get_settings(), flags)
    except AuditorError as exc:
        say(err, f"error: {exc}", style="red")
        code = exc.exit_code
    ctx.exit(code)


def _run(out: Console, err: Console, settings: Settings, flags: dict[str, object]) -> int:
    options = resolve_options(
        InstallOptions(
            cluster_name=str(flags["cluster_name"]),
            region=str(flags["region"]),
            controller_version=str(flags["controller_version"]),
            chart_version=flags["chart_version"] or None,  # type: ignore[arg-type]
            chart_dir=flags["chart_dir"],  # type: ignore[arg-type]
            pod_identity=bool(flags["pod_identity"]),
            role_name=flags["role_name"] or None,  # type: ignore[arg-type]
            policy_name=str(flags["policy_name"]),
            vpc_id=flags["vpc_id"] or None,  # type: ignore[arg-type]
            force=bool(flags["force"]),
            allow_downgrade=bool(flags["allow_downgrade"]),
            timeout=float(flags["timeout"]),  # type: ignore[arg-type]
            kubeconfig=flags["kubeconfig"],  # type: ignore[arg-type]
            context=flags["context"] or None,  # type: ignore[arg-type]
        )
    )
    session = open_session(options, settings)
    err.print(f"Reading the current state of {options.cluster_name} ({options.region}), {session.chart.describe()}")
    _, the_plan = make_plan(session)
    render_plan(out, the_plan)
    if the_plan.refusals:
        raise InstallRefused(f"{len(the_plan.refusals)} safety check(s) refused the install (see above)")
    if flags["dry_run"]:
        return 0
    if the_plan.changes and not flags["yes"]:
        if not sys.stdin.isatty():
            raise InstallRefused("not confirmed: pass --yes to apply without a terminal")
        if not click.confirm(f"Apply {the_plan.changes} change(s)?", default=False, err=True):
            raise InstallRefused("not confirmed")
    report = run_plan(session, the_plan, progress=progress_to(err))
    render_report(out, report)
    if not report.ok:
        failed = report.failed[0]
        raise InstallError(f"step {failed} failed; {len(report.finished)} finished, re-run to resume")
    result = check(session, settings, progress=progress_to(err))
    render_check(out, result)
    failed_checks = [f for f in result.findings if f.status is Status.FAIL]
    if failed_checks:
        raise InstallError(f"installed, but {len(failed_checks)} check(s) still fail (see above)")
    out.print("[green]done[/]: the controller is installed and verified")
    return 0
