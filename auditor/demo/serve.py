"""`auditor demo --serve`: the audit service, live, on the built-in demo environment.

It audits every demo cluster, applies a realistic change (one finding fixed, one introduced),
audits again — so there are two runs of history and the "what changed" diff is visible — then
serves the REST API with a fresh admin token. The database and reports live in a temporary
directory, so the demo never touches the user's own history database.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from auditor.config import ReportSettings, Settings
from auditor.demo.environment import DemoEnvironment
from auditor.progress import ProgressFn

log = logging.getLogger(__name__)


def serve_demo(
    settings: Settings,
    *,
    host: str,
    port: int,
    progress: ProgressFn,
    announce: Callable[[str], None],
    serve: bool = True,
) -> list[int]:
    """Seed, run twice with a change in between, then serve until interrupted; returns the run ids."""
    import uvicorn

    from auditor.api.app import create_app
    from auditor.service import AuditService
    from auditor.store.db import make_engine, session_factory, transaction, upgrade
    from auditor.store.tokens import create_token

    with tempfile.TemporaryDirectory(prefix="auditor-demo-") as tmp, DemoEnvironment(progress=progress) as env:
        workdir = Path(tmp)
        report_dir = workdir / "reports"
        settings = settings.model_copy(
            update={
                "config_file": env.config_file,
                "database_url": f"sqlite:///{workdir / 'demo.db'}",
                "reports": ReportSettings(report_dir=report_dir),
            }
        )
        engine = make_engine(settings.database_url)
        upgrade(engine)
        factory = session_factory(engine)
        service = AuditService(settings, factory)
        service.sync_config_targets()
        run_ids: list[int] = []
        for round_no, label in enumerate(("first run", "second run, after a change"), start=1):
            if round_no == 2:
                announce("Changing the demo: blog/blog gets its HTTPS redirect; a public MySQL Service appears")
                env.evolve()
            for target in env.targets:
                announce(f"Auditing {target.name} ({label})")
                run = service.run_now(target.name, trigger="cli")
                run_ids.append(run.id)
                announce(f"  run {run.id}: {run.status}")
        with transaction(factory) as session:
            _, token = create_token(session, "demo", "admin")
        if not serve:
            service.shutdown()
            engine.dispose()
            return run_ids
        base = f"http://{host}:{port}"
        main = env.target.name
        auth = f"curl -H 'Authorization: Bearer {token}'"
        announce(
            "\nThe audit service is live on the demo environment (Ctrl-C to stop):\n"
            f"  dashboard      {base}/ (sign in with the token below)\n"
            f"  API docs       {base}/docs\n"
            f"  admin token    {token}\n"
            f"  findings       {auth} '{base}/api/v1/findings?cluster={main}&status=open'\n"
            f"  summary        {auth} '{base}/api/v1/summary'\n"
            f"  latest report  {auth} '{base}/api/v1/reports/latest?cluster={main}&format=markdown'\n"
            f"  HTML reports   {report_dir}/ (new and resolved since the first run at the top)\n"
        )
        app = create_app(settings, migrate=False, sync_targets=False, run_scheduler=False)
        try:
            uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, server_header=False)
        finally:
            service.shutdown()
            engine.dispose()
        return run_ids
