"""The `auditor` command line: parse flags, call the pipeline, render, map errors to exit codes.

Exit codes (``EXIT_CODES``; the README lists them): 0 fine; 1 findings at or above --fail-on; 2 bad
flags/config/snapshot/paths; 3 target unreachable; 4 database; 5/6 install failed/refused; 7 partial audit
(a collector failed or a rule crashed; --allow-partial accepts it); 8 other errors, an unexpected
exception included (one line; the traceback is logged at DEBUG); 9 `export securityhub`: not every finding was
accepted.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from auditor import __version__
from auditor.config import (
    AccountConfig,
    Settings,
    TargetConfig,
    get_settings,
    load_targets,
    read_text_file,
    validation_message,
)
from auditor.errors import (
    AuditorError,
    ConfigError,
    ExportFailed,
    InstallError,
    InstallRefused,
    StoreError,
    TargetUnreachable,
)
from auditor.findings import AuditResult, Severity, Status
from auditor.inventory.models import Inventory
from auditor.logs import configure_logging
from auditor.progress import ProgressEvent, ProgressFn
from auditor.terminal import printable, say

log = logging.getLogger(__name__)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

AUDIT_FORMATS = ("table", "json", "sarif", "markdown", "html", "csv", "ocsf", "asff")
DEMO_INSTALL = "pip install 'eks-exposure-auditor[demo]'"  # what `auditor demo` needs beyond a production install
EXIT_FINDINGS = 1
EXIT_PARTIAL = 7
EXIT_CODES: dict[int, str] = {
    0: "fine",
    EXIT_FINDINGS: "a finding at or above --fail-on (with --fail-on-unknown: an UNKNOWN one too)",
    ConfigError.exit_code: "bad flags, config or snapshot",
    TargetUnreachable.exit_code: "a target could not be read at all",
    StoreError.exit_code: "database",
    InstallError.exit_code: "install-alb failed",
    InstallRefused.exit_code: "install-alb refused",
    EXIT_PARTIAL: "partial audit: a collector failed or a rule crashed (accepted with --allow-partial)",
    ExportFailed.exit_code: "export securityhub: findings not all accepted (denied, unreachable, refused)",
    AuditorError.exit_code: "other error",
}
_STATUS_MARK = {
    "ok": "[green]ok[/]",
    "partial": "[yellow]partial[/]",
    "error": "[red]error[/]",
    "skipped": "[dim]skipped[/]",
}


# ------------------------------------------------------------------ helpers


def progress_printer(quiet: bool = False) -> ProgressFn:
    """Progress to stderr: one line per finished step (stdout stays clean for --output json)."""

    def show(event: ProgressEvent) -> None:
        if quiet or event.status == "running":
            return
        mark = _STATUS_MARK.get(event.status, event.status)
        stderr.print(f"  {mark} ", end="", markup=True)
        say(stderr, f"{event.stage}: {event.message}", one_line=True)

    return show


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The flags that say what to audit (shared by audit and collect)."""
    options = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(path_type=Path),
            help="Targets file (YAML; default: AUDITOR_CONFIG_FILE).",
        ),
        click.option("--target", "target_names", multiple=True, help="Only these targets of the config file."),
        click.option("--context", help="kubeconfig context (default: current context)."),
        click.option("--kubeconfig", type=click.Path(path_type=Path), help="kubeconfig file."),
        click.option("--in-cluster", is_flag=True, help="Use the pod's service account."),
        click.option("--no-kubernetes", is_flag=True, help="Audit AWS only."),
        click.option("--cluster-name", help="EKS cluster name (as the controller's clusterName)."),
        click.option("--region", "regions", multiple=True, help="AWS region (repeatable)."),
        click.option("--role-arn", "role_arns", multiple=True, help="Role to assume, one per account (repeatable)."),
        click.option(
            "--rules",
            "rule_names",
            multiple=True,
            help="Only these rule ids or categories (comma list, repeatable; replaces a target's `rules`). "
            "Only what they need is collected. Opt-in rules run only when named; `all` is every rule.",
        ),
        click.option(
            "--skip-rules",
            "skip_rule_names",
            multiple=True,
            help="Not these rule ids or categories (comma list, repeatable; adds to a target's `skip_rules`).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def resolve_targets(settings: Settings, **flags: Any) -> list[TargetConfig]:
    """The targets the flags or the targets file name, validated (ConfigError, one line, before any collection)."""
    config_file: Path | None = flags.get("config_file") or settings.config_file
    names: tuple[str, ...] = flags.get("target_names") or ()
    if config_file is not None:
        # the targets file says what to audit: a flag for one target would be ignored without a word
        _refuse_flags_beside(
            flags,
            _ONE_TARGET_FLAGS,
            "--config" if flags.get("config_file") else f"AUDITOR_CONFIG_FILE ({config_file})",
            "the targets file says what to audit (choose its targets with --target), or leave the file out to audit "
            "one target",
        )
        targets = load_targets(config_file)
        if names:
            unknown = sorted(set(names) - {t.name for t in targets})
            if unknown:
                raise ConfigError(f"no target named {', '.join(unknown)} in {config_file}")
            targets = [t for t in targets if t.name in names]
    elif names:
        raise ConfigError("--target needs --config (or AUDITOR_CONFIG_FILE)")
    else:
        try:
            accounts = [AccountConfig(role_arn=arn) for arn in flags.get("role_arns") or ()] or [AccountConfig()]
            targets = [
                TargetConfig(
                    name=flags.get("cluster_name") or flags.get("context") or "default",
                    cluster_name=flags.get("cluster_name"),
                    context=flags.get("context"),
                    kubeconfig=flags.get("kubeconfig"),
                    in_cluster=bool(flags.get("in_cluster")),
                    kubernetes=not flags.get("no_kubernetes"),
                    regions=list(flags.get("regions") or ()),
                    accounts=accounts,
                )
            ]
        except ValidationError as exc:  # a malformed flag value (--region, --role-arn, --cluster-name)
            raise ConfigError(validation_message(exc)) from exc
    targets = [_with_rule_flags(target, flags) for target in targets]
    for target in targets:
        _check_kubeconfig(target)
    return targets


# The flags that describe the one target audited without a targets file, and how each is spelled.
_ONE_TARGET_FLAGS = {
    "context": "--context",
    "kubeconfig": "--kubeconfig",
    "in_cluster": "--in-cluster",
    "no_kubernetes": "--no-kubernetes",
    "cluster_name": "--cluster-name",
    "regions": "--region",
    "role_arns": "--role-arn",
}
# The target flags that say what to collect: a snapshot was collected already.
_COLLECTION_FLAGS = {"config_file": "--config", "target_names": "--target", **_ONE_TARGET_FLAGS}


def _refuse_flags_beside(flags: dict[str, Any], table: dict[str, str], beside: str, why: str) -> None:
    """ConfigError (exit 2, one line) naming each flag of ``table`` that was given, which does not go with ``beside``
    and would be ignored without a word."""
    given = [flag for name, flag in table.items() if flags.get(name) not in (None, (), False)]
    if given:
        raise ConfigError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not go with {beside}: {why}")


def snapshot_result(snapshot: Path, settings: Settings, **flags: Any) -> AuditResult:
    """A saved snapshot audited offline, narrowed by ``--rules`` / ``--skip-rules`` (audit, cost, plan-consolidation).

    A snapshot is the one target it was collected for: a flag saying what to collect (``--config``, ``--target``,
    ``--cluster-name``, ...) would be ignored, so it is a ConfigError (exit 2, one line) naming those given."""
    from auditor.pipeline import run_audit, snapshot_target

    _refuse_flags_beside(
        flags,
        _COLLECTION_FLAGS,
        "--snapshot",
        "a snapshot is the one target it was collected for (only --rules and --skip-rules apply to it)",
    )
    inv = Inventory.load(snapshot)
    return run_audit(_with_rule_flags(snapshot_target(inv), flags), settings, snapshot=inv).result


def _with_rule_flags(target: TargetConfig, flags: dict[str, Any]) -> TargetConfig:
    """The target narrowed by ``--rules`` / ``--skip-rules``; ConfigError (exit 2, one line) when a name is
    unknown or nothing is left to run."""
    from auditor.rules.selection import Narrowing  # loads every rule: not for `auditor --help`

    return Narrowing(flags.get("rule_names"), flags.get("skip_rule_names")).apply(target)


def _check_kubeconfig(target: TargetConfig) -> None:
    """A kubeconfig named by a flag or a targets file is readable UTF-8, or a ConfigError (exit 2) before collecting.

    (Without this check the collector records an unreadable kubeconfig as a failed Kubernetes collection and the
    audit goes on with AWS only; a file the user named is a mistake in the command, not in the cluster.)"""
    if not target.kubernetes or target.in_cluster or target.kubeconfig is None:
        return
    try:
        read_text_file(target.kubeconfig.expanduser(), "kubeconfig")
    except ConfigError as exc:
        raise ConfigError(f"target {target.name!r}: {exc}") from exc


def emit(results: list[AuditResult], fmt: str, *, include_pass: bool) -> None:
    """Write the results to stdout in the chosen format."""
    from auditor.output import render

    if fmt == "json" and len(results) > 1:
        docs = [json.loads(render(r, "json", include_pass=include_pass)) for r in results]
        click.echo(json.dumps({"targets": docs}, indent=2))
        return
    if fmt == "asff" and len(results) > 1:  # one array, as BatchImportFindings takes it
        merged = [f for r in results for f in json.loads(render(r, "asff", include_pass=include_pass))]
        click.echo(json.dumps(merged, indent=2, ensure_ascii=False))
        return
    if fmt == "ocsf":  # JSON lines: each rendered line ends in a newline, no blank line between targets
        for result in results:
            click.echo(render(result, "ocsf", include_pass=include_pass), nl=False)
        return
    color = fmt == "table" and sys.stdout.isatty()
    width = Console().width if color else 120
    for result in results:
        click.echo(render(result, fmt, include_pass=include_pass, color=color, width=width))


def gate(
    results: list[AuditResult],
    fail_on: str | None,
    *,
    fail_on_unknown: bool = False,
    allow_partial: bool = False,
    unreachable: int = 0,
) -> int:
    """The audit's exit code: a target not read at all (3) before a partial audit (7) before findings (1).

    ``--fail-on`` counts FAIL findings at or above its severity; ``--fail-on-unknown`` counts UNKNOWN ones
    too (alone: any UNKNOWN). A partial audit never exits 0 unless ``--allow-partial``."""
    if unreachable:
        return TargetUnreachable.exit_code
    if not allow_partial and any(r.status == "partial" for r in results):
        return EXIT_PARTIAL
    statuses = ({Status.FAIL} if fail_on is not None else set()) | ({Status.UNKNOWN} if fail_on_unknown else set())
    if not statuses:
        return 0
    threshold = Severity.parse(fail_on) if fail_on is not None else Severity.INFO
    counted = (f for r in results for f in r.findings if f.status in statuses)
    return EXIT_FINDINGS if any(f.severity.rank >= threshold.rank for f in counted) else 0


def report_partial(results: list[AuditResult]) -> None:
    """One stderr line per partial result: what was not read, and how to accept it."""
    for result in results:
        if result.status != "partial":
            continue
        broken = [c for c in result.coverage if c.status.incomplete]
        named = ", ".join(
            f"{c.collector}{'/' + c.region if c.region else ''} {c.status.value}"
            + (f" ({c.error_code})" if c.error_code else "")
            for c in broken[:5]
        ) + (f" and {len(broken) - 5} more" if len(broken) > 5 else "")
        stderr.print(
            f"[yellow]audit of {escape(printable(result.target, one_line=True))} is partial[/]: "
            f"{escape(printable(named, one_line=True))}; the checks resting on it "
            "are UNKNOWN "
            f"(exit {EXIT_PARTIAL} unless --allow-partial)",
            markup=True,
            highlight=False,
        )


_LOG_LEVEL_ASKED = "auditor.log_level_asked"  # ctx.meta: --log-level or AUDITOR_LOG_LEVEL chose the log level
QUIET_HELP = "No progress on stderr, and no logs below WARNING unless --log-level or AUDITOR_LOG_LEVEL asks for them."


def quiet_logs() -> None:
    """``--quiet``: the log says only warnings and errors, unless a log level was asked for (the Helm chart's CronJob
    runs ``audit --quiet`` with AUDITOR_LOG_LEVEL: its JSON logs stay as configured)."""
    if not click.get_current_context().meta.get(_LOG_LEVEL_ASKED):
        root = logging.getLogger()
        root.setLevel(max(logging.WARNING, root.level))


# ------------------------------------------------------------------ commands


class LazyGroup(click.Group):
    """A group whose subsystem commands are imported when one of them is run or listed (click's documented lazy
    loading: https://click.palletsprojects.com/en/stable/complex/#lazily-loading-subcommands): ``auditor audit``
    does not import the service, the database layer or the installer (about 0.8 s of start-up)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, Callable[[], click.Command]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        load = self.lazy.pop(cmd_name, None)
        if load is not None:
            self.add_command(load(), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
@click.option(
    "--log-level", default=None, help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: AUDITOR_LOG_LEVEL, else INFO)."
)
@click.pass_context
def cli(ctx: click.Context, log_level: str | None) -> None:
    """Audit how EKS clusters are exposed through AWS load balancers, and what it costs."""
    settings = get_settings()
    level = (log_level or settings.log_level).upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError(f"log level {level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    configure_logging(level, settings.log_format)
    ctx.meta[_LOG_LEVEL_ASKED] = log_level is not None or "log_level" in settings.model_fields_set
    ctx.obj = settings


@cli.command()
@target_options
@click.option("--snapshot", type=click.Path(path_type=Path), help="Audit a saved snapshot offline.")
@click.option("--output", "-o", "fmt", type=click.Choice(AUDIT_FORMATS), default="table", show_default=True)
@click.option("--fail-on", type=click.Choice([s.value for s in Severity]), help="Exit 1 on a failed check this bad.")
@click.option(
    "--fail-on-unknown",
    is_flag=True,
    help="Count UNKNOWN checks as failed for --fail-on (alone: exit 1 on any UNKNOWN check).",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help=f"Do not exit {EXIT_PARTIAL} when a collector failed or a rule crashed (the checks stay UNKNOWN).",
)
@click.option("--include-pass", is_flag=True, help="Also list checks that passed.")
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
@click.pass_obj
def audit(
    settings: Settings,
    /,
    snapshot: Path | None,
    fmt: str,
    fail_on: str | None,
    fail_on_unknown: bool,
    allow_partial: bool,
    include_pass: bool,
    quiet: bool,
    **flags: Any,
) -> None:
    """Collect, correlate and report findings with their Kubernetes owner and fix."""
    from auditor.pipeline import run_audit

    results: list[AuditResult] = []
    unreachable = 0
    crashed: list[int] = []  # exit codes of targets whose audit raised anything else (a bug: exit 8)
    if quiet:
        quiet_logs()
    if snapshot is not None:
        results.append(snapshot_result(snapshot, settings, **flags))
    else:
        from auditor.collect.aws.shared import shared_inventory

        targets = resolve_targets(settings, **flags)
        # the clusters of one account × region share its read
        shared = shared_inventory(settings.aws.shared_inventory_seconds, settings.cost.billed_refresh_hours)
        for target in targets:
            if not quiet:
                stderr.print(f"[bold]Auditing {escape(printable(target.name, one_line=True))}[/]")
            try:
                outcome = run_audit(target, settings, progress=progress_printer(quiet), shared=shared)
                results.append(outcome.result)
            except TargetUnreachable as exc:  # the other targets are still audited
                unreachable += 1
                click.echo(click.style("error: ", fg="red") + printable(str(exc), one_line=True), err=True)
            except Exception as exc:  # likewise: one line naming the target, the others still audited
                if len(targets) == 1:
                    raise  # main() reports it
                crashed.append(report_error(exc, f"target {target.name!r}"))
    emit(results, fmt, include_pass=include_pass)
    report_partial(results)
    code = gate(results, fail_on, fail_on_unknown=fail_on_unknown, allow_partial=allow_partial, unreachable=unreachable)
    # a target not audited at all outranks what the audited ones found: unreachable (3), then crashed (8)
    sys.exit(code if unreachable or not crashed else crashed[0])


@cli.command()
@target_options
@click.option("--out", "-o", "out", type=click.Path(path_type=Path), required=True, help="Snapshot file to write.")
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
@click.pass_obj
def collect(settings: Settings, /, out: Path, quiet: bool, **flags: Any) -> None:
    """Collect a snapshot (JSON) to audit later with `auditor audit --snapshot`."""
    from auditor.pipeline import collect as collect_inventory

    if quiet:
        quiet_logs()
    targets = resolve_targets(settings, **flags)
    if len(targets) != 1:
        raise ConfigError("collect writes one snapshot: choose one target with --target")
    _check_writable(out)  # before collecting, which can take minutes
    inv = collect_inventory(targets[0], settings, progress=progress_printer(quiet))
    document = inv.dump_json()
    try:
        out.write_text(document, encoding="utf-8")
    except OSError as exc:
        # the collection is done: keep it rather than make the user collect again
        fd, kept = tempfile.mkstemp(prefix="auditor-snapshot-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(document)
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}; the snapshot was saved to {kept}") from exc
    stderr.print(f"snapshot written to {out} ({len(inv.aws.load_balancers)} load balancers)")


def _check_writable(out: Path) -> None:
    """ConfigError (exit 2) when ``out`` cannot be written: a directory, a missing or read-only directory, a
    read-only file. Probed by creating a temporary file next to it, so nothing is left behind."""
    if out.is_dir():
        raise ConfigError(f"cannot write the snapshot to {out}: it is a directory")
    parent = out.parent
    if not parent.is_dir():
        raise ConfigError(f"cannot write the snapshot to {out}: directory {parent} does not exist")
    if out.exists() and not os.access(out, os.W_OK):
        raise ConfigError(f"cannot write the snapshot to {out}: permission denied")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".auditor-write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write the snapshot to {out}: {exc.strerror or exc}") from exc


@cli.command()
@click.option("--output", "-o", "fmt", type=click.Choice(AUDIT_FORMATS), default="table", show_default=True)
@click.option("--include-pass", is_flag=True, help="Also list checks that passed.")
@click.option("--snapshot-out", type=click.Path(path_type=Path), help="Also save the main cluster's snapshot.")
@click.option(
    "--serve", "serve_api", is_flag=True, help="Run the audit service live on the demo (two runs of history)."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="With --serve: port.")
@click.pass_obj
def demo(
    settings: Settings,
    /,
    fmt: str,
    include_pass: bool,
    snapshot_out: Path | None,
    serve_api: bool,
    host: str,
    port: int,
) -> None:
    """Audit the built-in demo environment (embedded moto + Kubernetes API emulator, no AWS needed)."""
    # The demo's test doubles come with the [demo] extra, not with a production install: imported here only.
    try:
        from auditor.demo.environment import DemoEnvironment
        from auditor.demo.serve import serve_demo
    except ModuleNotFoundError as exc:
        if (exc.name or "auditor").partition(".")[0] == "auditor":
            raise  # a module of the auditor itself is missing: a broken install, not the extra
        raise ConfigError(f"`auditor demo` needs the demo extra ({exc.name} is not installed): {DEMO_INSTALL}") from exc
    from auditor.pipeline import run_audit

    # moto shares no AWS bucket with a controller: the demo audits without the client-side rate limit. The environment
    # sets AUDITOR_AWS__CALLS_PER_SECOND=0 for what it starts, but these settings were read before it.
    settings = settings.model_copy(update={"aws": settings.aws.model_copy(update={"calls_per_second": 0.0})})
    if serve_api:
        stderr.print("[bold]Starting the demo environment and the audit service[/]")
        serve_demo(settings, host=host, port=port, progress=progress_printer(), announce=click.echo)
        return

    if snapshot_out is not None:
        _check_writable(snapshot_out)  # before starting the environment, not after the audit
    stderr.print("[bold]Starting the demo environment[/] (moto server + Kubernetes API emulators on 127.0.0.1)")
    results: list[AuditResult] = []
    with DemoEnvironment(progress=progress_printer()) as env:
        for target in env.targets:
            stderr.print(f"[bold]Auditing cluster {target.name}[/] over HTTP, as a real cluster")
            outcome = run_audit(target, settings, progress=progress_printer())
            results.append(outcome.result)
            if snapshot_out is not None and target.name == env.target.name:
                outcome.inventory.save(snapshot_out)
    emit(results, fmt, include_pass=include_pass)


@cli.command()
def rules() -> None:
    """List every rule with its severity and title; opt-in rules (run only when named in --rules) say so."""
    from auditor.rules.registry import catalog

    metas = catalog()
    width = max(len(meta.id) for meta in metas) + 1  # one column, however long the longest id
    for meta in metas:
        opt_in = " (opt-in)" if meta.opt_in else ""
        click.echo(f"{meta.id:{width}} {meta.severity.value:9} {meta.title}{opt_in}")


@cli.command("iam-policy")
@click.option(
    "--securityhub-export",
    is_flag=True,
    help="The policy `export securityhub` and AUDITOR_EXPORT__SECURITYHUB need instead (a write: attach it apart).",
)
def iam_policy(securityhub_export: bool) -> None:
    """Print the least-privilege IAM policy the auditor needs (generated from the collectors)."""
    from auditor.collect.permissions import aws_readonly_policy, securityhub_export_policy

    click.echo(json.dumps(securityhub_export_policy() if securityhub_export else aws_readonly_policy(), indent=2))


def _service(name: str) -> click.Command:
    from auditor import cli_service

    return cast(click.Command, getattr(cli_service, name))


def _install_alb() -> click.Command:
    from auditor.cli_install import install_alb

    return install_alb


def _export() -> click.Command:
    from auditor.cli_export import export

    return export


def _cost() -> click.Command:
    from auditor.cli_cost import make_command

    return make_command(target_options, resolve_targets, snapshot_result, report_partial, EXIT_PARTIAL)


def _plan() -> click.Command:
    from auditor.cli_plan import make_command

    return make_command(target_options, resolve_targets, snapshot_result, EXIT_PARTIAL)


def _register_commands() -> None:
    """Commands that live next to their subsystem (the service, the database, tokens, the installer, exports, cost,
    the consolidation plan), imported only when run or listed."""
    assert isinstance(cli, LazyGroup)
    cli.lazy.update(
        {
            "serve": lambda: _service("serve"),
            "db": lambda: _service("db"),
            "token": lambda: _service("token"),
            "install-alb": _install_alb,
            "export": _export,
            "cost": _cost,
            "plan-consolidation": _plan,
        }
    )


_register_commands()


def report_error(exc: BaseException, what: str = "") -> int:
    """One line on stderr for an error that ends the command (or one target of it); returns its exit code.

    An AuditorError says what is wrong; anything else is a bug: its type and message, with the traceback in the
    log at DEBUG (``--log-level DEBUG``), never on the user's terminal unasked."""
    prefix = f"{what}: " if what else ""
    if isinstance(exc, AuditorError):
        click.echo(click.style("error: ", fg="red") + prefix + _one_line(str(exc)), err=True)
        return exc.exit_code
    log.debug("internal error", exc_info=exc)
    click.echo(
        click.style("internal error: ", fg="red")
        + f"{prefix}{type(exc).__name__}: {_one_line(str(exc))}; run with --log-level DEBUG for the traceback",
        err=True,
    )
    return AuditorError.exit_code


def _one_line(text: str, limit: int = 1000) -> str:  # room for every valid rule id in a selection error
    flat = printable(" ".join(text.split()), one_line=True)
    return flat if len(flat) <= limit else flat[:limit] + "…"


def main() -> None:
    """Console entry point: every error is one clear line and an exit code, never a traceback."""
    try:
        # Without standalone mode click returns the code of a ``ctx.exit(code)`` (install-alb's) instead of exiting
        code = cli.main(standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        stderr.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except BrokenPipeError:  # stdout closed early (`| head`): nothing left to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        sys.exit(1)
    except Exception as exc:  # an AuditorError (its exit code) or a bug (8): one line either way
        sys.exit(report_error(exc))


if __name__ == "__main__":
    main()
