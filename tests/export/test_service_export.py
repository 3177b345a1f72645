"""The service's Security Hub export after each run (AUDITOR_EXPORT__SECURITYHUB): what it sends, what it archives,
and that a refused or broken export is logged and recorded in the run's coverage without failing the run."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from sqlalchemy.orm import Session, sessionmaker

from auditor.api.routes.runs import run_out
from auditor.api.schemas import RunDetail
from auditor.collect.aws.session import DENIED_CODES
from auditor.config import AwsSettings, ExportSettings, Settings, TargetConfig
from auditor.demo.motoserver import MotoServer
from auditor.findings import AuditResult, Status
from auditor.output.asff import finding_id
from auditor.service import AuditService, export_run
from auditor.store import runs as store_runs
from auditor.store.db import make_engine, session_factory, transaction, upgrade
from auditor.store.targets import sync_targets
from tests.store.results import ARN2, finding, result

REGION = "eu-west-1"
READONLY = json.loads((Path(__file__).resolve().parents[2] / "iam/auditor-readonly.json").read_text("utf-8"))


def service(tmp_path: Path, *, export: bool = True) -> AuditService:
    url = f"sqlite:///{tmp_path}/runs.db"
    settings = Settings(database_url=url, aws=AwsSettings(max_attempts=1), export=ExportSettings(securityhub=export))
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        sync_targets(s, [TargetConfig(name="prod", kubernetes=False, regions=[REGION])])
    return AuditService(settings, factory)


def audits(monkeypatch: pytest.MonkeyPatch, *results: AuditResult) -> None:
    """The pipeline returns these results in turn (collection is tested elsewhere; here the runs' findings matter)."""
    queue = list(results)
    monkeypatch.setattr(
        "auditor.pipeline.run_audit", lambda target, settings, **_: SimpleNamespace(result=queue.pop(0))
    )


def hub() -> dict[str, dict[str, Any]]:
    return {f["Id"]: f for f in boto3.client("securityhub", region_name=REGION).get_findings()["Findings"]}


def export_coverage(factory: sessionmaker[Session], run_id: int) -> list[dict[str, Any]]:
    with factory() as s:
        run = store_runs.get_run(s, run_id)
        return [c for c in run.coverage or [] if c["source"] == "export"]


def test_each_run_is_exported_and_what_it_resolved_is_archived(aws: MotoServer, tmp_path: Path, monkeypatch):
    web, api, gone = (
        finding("http-without-redirect"),
        finding("public-alb-without-waf"),
        finding("weak-tls-policy", arn=ARN2),
    )
    audits(
        monkeypatch,
        result([web, api, gone], n=0),
        # api passes now; gone is absent from a complete run: both resolved
        result([web, api.model_copy(update={"status": Status.PASS})], n=1),
    )
    svc = service(tmp_path)
    first = svc.run_now("prod", trigger="api")
    assert first.status == "complete"
    assert {f["RecordState"] for f in hub().values()} == {"ACTIVE"} and len(hub()) == 3
    second = svc.run_now("prod", trigger="api")
    stored = hub()
    assert stored[finding_id("prod", web)]["RecordState"] == "ACTIVE"
    for resolved in (api, gone):
        doc = stored[finding_id("prod", resolved)]
        assert (doc["RecordState"], doc["Compliance"]["Status"]) == ("ARCHIVED", "PASSED")
    # CreatedAt is when the finding first failed (the store's first_seen), not this run's start
    assert stored[finding_id("prod", web)]["CreatedAt"].startswith("2030-01-01T10:00:00")
    (cov,) = export_coverage(svc.factory, second.id)
    assert (cov["collector"], cov["status"], cov["calls"]) == ("securityhub", "ok", 1)
    assert second.status == "complete"
    svc.shutdown()


def test_a_denied_export_is_logged_and_recorded_and_the_run_stands(
    aws: MotoServer, tmp_path: Path, monkeypatch, caplog
):
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="readonly")
    iam.put_user_policy(UserName="readonly", PolicyName="ro", PolicyDocument=json.dumps(READONLY))
    key = iam.create_access_key(UserName="readonly")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    audits(monkeypatch, result([finding()]))
    svc = service(tmp_path)
    aws.set_iam_enforcement(True)
    try:
        with caplog.at_level(logging.INFO):
            run = svc.run_now("prod", trigger="schedule")
    finally:
        aws.set_iam_enforcement(False)
    assert run.status == "complete" and run.error is None and run.findings_failed == 1
    (cov,) = export_coverage(svc.factory, run.id)
    assert cov["status"] == "error" and cov["error_code"] in DENIED_CODES
    assert "BatchImportFindings" in cov["message"]
    with svc.factory() as s:  # what GET /api/v1/runs/{id} answers: the run with its coverage, the export's included
        shown = RunDetail.model_validate(run_out(store_runs.get_run(s, run.id), detail=True))
    assert [c.error_code for c in shown.coverage or [] if c.source == "export"] == [cov["error_code"]]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("Security Hub export incomplete" in r.getMessage() for r in errors)
    assert hub() == {}
    svc.shutdown()


def test_an_export_that_crashes_is_logged_with_its_traceback_and_recorded(tmp_path: Path, monkeypatch, caplog):
    audits(monkeypatch, result([finding()]))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("exporter bug")

    monkeypatch.setattr("auditor.export.securityhub.export_findings", broken)
    svc = service(tmp_path)
    with caplog.at_level(logging.ERROR, logger="auditor.service"):
        run = svc.run_now("prod", trigger="api")
    assert run.status == "complete"
    (cov,) = export_coverage(svc.factory, run.id)
    assert (cov["status"], cov["error_code"]) == ("error", "RuntimeError")
    assert "exporter bug" in cov["message"]
    (record,) = [r for r in caplog.records if "Security Hub export of run" in r.getMessage()]
    assert record.exc_info is not None
    svc.shutdown()


def test_without_the_setting_nothing_is_exported(aws: MotoServer, tmp_path: Path, monkeypatch):
    audits(monkeypatch, result([finding()]))
    svc = service(tmp_path, export=False)
    run = svc.run_now("prod", trigger="api")
    assert run.status == "complete" and export_coverage(svc.factory, run.id) == [] and hub() == {}
    # exporting the stored run later (the CLI's --run) records it then; a second export replaces the first entry
    export_run(svc.settings, svc.factory, run.id)
    export_run(svc.settings, svc.factory, run.id)
    (cov,) = export_coverage(svc.factory, run.id)
    assert cov["status"] == "ok" and len(hub()) == 1
    svc.shutdown()
