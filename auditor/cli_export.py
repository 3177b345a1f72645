"""`auditor export securityhub`: send findings to AWS Security Hub, from a snapshot or a stored run.

The service does the same after each run with ``AUDITOR_EXPORT__SECURITYHUB=true`` (``auditor.service``); the
findings are ``auditor.output.asff``'s, the sending is ``auditor.export.securityhub``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from auditor.config import AccountConfig, Settings, check_region, validation_message
from auditor.errors import ConfigError, ExportFailed, NotFound

if TYPE_CHECKING:
    from auditor.export.securityhub import ExportResult


@click.group()
def export() -> None:
    """Send findings to another system: AWS Security Hub."""


@export.command("securityhub")
@click.option("--snapshot", type=click.Path(path_type=Path), help="Audit this snapshot offline and send its findings.")
@click.option(
    "--run",
    "run_id",
    type=click.IntRange(min=1),
    help="Send this stored run's findings (AUDITOR_DATABASE_URL) and archive the ones it resolved.",
)
@click.option("--target", "target_name", help="Like --run, for the latest finished run of this stored target.")
@click.option(
    "--role-arn",
    "role_arns",
    multiple=True,
    help="Send with this role, one per account (repeatable; default: a stored run's target accounts, "
    "else the ambient credentials).",
)
@click.option(
    "--region", help="Where findings about Kubernetes objects alone go (default: the region the audit read most)."
)
@click.option(
    "--include-pass",
    is_flag=True,
    help="Also send passed checks, archived: closes what an earlier export opened (a stored run archives the "
    "findings it resolved without it).",
)
@click.pass_obj
def securityhub(
    settings: Settings,
    /,
    snapshot: Path | None,
    run_id: int | None,
    target_name: str | None,
    role_arns: tuple[str, ...],
    region: str | None,
    include_pass: bool,
) -> None:
    """Send FAIL findings to Security Hub (BatchImportFindings, ≤ 100 per call) and archive resolved ones.

    Each finding goes to its own account and region; it needs iam/auditor-securityhub-export.json there. Exit 9
    when any finding was not accepted (the message says where and why)."""
    if sum(x is not None for x in (snapshot, run_id, target_name)) != 1:
        raise ConfigError("give one of --snapshot, --run or --target")
    try:
        accounts = [AccountConfig(role_arn=arn) for arn in role_arns] or None
        if region is not None:
            check_region(region)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc)) from exc
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if snapshot is not None:
        from auditor.export.securityhub import export_findings
        from auditor.pipeline import audit_snapshot

        result = audit_snapshot(snapshot, settings)
        outcome = export_findings(result, settings, accounts=accounts, include_pass=include_pass, region=region)
    else:
        outcome = _export_stored(settings, run_id, target_name, accounts=accounts, include_pass=include_pass)
    if not outcome.complete:
        raise ExportFailed(outcome.summary())
    click.echo(outcome.summary(), err=True)


def _export_stored(
    settings: Settings,
    run_id: int | None,
    target_name: str | None,
    *,
    accounts: list[AccountConfig] | None,
    include_pass: bool,
) -> ExportResult:
    from auditor.service import export_run
    from auditor.store import runs as store_runs
    from auditor.store.db import make_engine, session_factory, upgrade
    from auditor.store.queries import row_id
    from auditor.store.targets import get_target

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        factory = session_factory(engine)
        if run_id is not None and row_id(run_id) is None:  # as the API: an id no row can have is not found
            raise NotFound(f"no run {run_id}")
        if run_id is None:
            with factory() as session:
                target = get_target(session, str(target_name))
                latest = store_runs.latest_finished_ids(session, [target.id]).get(target.id)
            if latest is None:
                raise NotFound(f"target {target_name!r} has no finished run to export")
            run_id = latest
        return export_run(settings, factory, run_id, accounts=accounts, include_pass=include_pass)
    finally:
        engine.dispose()
