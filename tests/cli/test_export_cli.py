"""`auditor export securityhub`, `audit --output ocsf|asff` and `iam-policy --securityhub-export` as a user runs them:
bad input is one line and an exit code, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from auditor.collect.permissions import securityhub_export_policy
from auditor.demo.motoserver import MotoServer, free_port
from tests.cli.test_audit_cli import run_cli, snapshot_with_problems

ROOT = Path(__file__).resolve().parents[2]


def one_line_error(proc, code: int) -> str:
    """The exit code and the one `error:` line that ends stderr (log lines may come before it), no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == lines[-1:], proc.stderr
    return lines[-1]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "give one of --snapshot, --run or --target"),
        (("--snapshot", "x.json", "--run", "1"), "give one of"),
        (("--snapshot", "/nonexistent/snap.json"), "cannot read snapshot"),
        (("--run", "999"), "no run 999"),
        (("--run", "2147483648"), "no run 2147483648"),  # past the id column: not found, as in the API
        (("--run", "99999999999999999999"), "no run 99999999999999999999"),
        (("--target", "nope"), "nope"),
        (("--snapshot", "x.json", "--role-arn", "not-an-arn"), "not an IAM role ARN"),
        (("--snapshot", "x.json", "--region", "../etc"), "not an AWS region name"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, says, tmp_path):
    proc = run_cli("export", "securityhub", *args, env={"AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"})
    assert says in one_line_error(proc, 2)


def test_run_zero_is_a_usage_error(tmp_path):
    proc = run_cli("export", "securityhub", "--run", "0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_a_snapshot_is_audited_and_its_findings_land_in_security_hub(aws: MotoServer, tmp_path):
    snapshot = snapshot_with_problems(tmp_path)  # its account is 111122223333: reached through a role there
    role = "arn:aws:iam::111122223333:role/exporter"
    proc = run_cli("export", "securityhub", "--snapshot", str(snapshot), "--role-arn", role)
    assert proc.returncode == 0, proc.stderr
    assert "sent to Security Hub" in proc.stderr and proc.stdout == ""
    creds = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="check")["Credentials"]
    hub = boto3.client(
        "securityhub",
        region_name="eu-west-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    stored = hub.get_findings()["Findings"]
    assert stored and {f["AwsAccountId"] for f in stored} == {"111122223333"}
    assert any(f["GeneratorId"] == "eks-exposure-auditor/http-without-redirect" for f in stored)
    assert {f["RecordState"] for f in stored} == {"ACTIVE"}


def test_security_hub_out_of_reach_is_exit_9_in_one_line(aws: MotoServer, tmp_path):
    snapshot = snapshot_with_problems(tmp_path)
    proc = run_cli(
        "export",
        "securityhub",
        "--snapshot",
        str(snapshot),
        env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AUDITOR_AWS__CONNECT_TIMEOUT": "1"},
    )
    line = one_line_error(proc, 9)
    assert "not accepted" in line and "not reachable" in line


def test_audit_output_ocsf_is_json_lines_of_detection_findings(tmp_path):
    proc = run_cli("audit", "--snapshot", str(snapshot_with_problems(tmp_path)), "--output", "ocsf")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and all(line.strip() for line in lines)
    for line in lines:
        event = json.loads(line)
        DetectionFinding.model_validate(event)
        assert event["class_uid"] == 2004


def test_audit_output_asff_is_one_array(tmp_path):
    proc = run_cli("audit", "--snapshot", str(snapshot_with_problems(tmp_path)), "--output", "asff")
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert isinstance(docs, list) and docs
    assert all(d["SchemaVersion"] == "2018-10-08" and d["RecordState"] == "ACTIVE" for d in docs)


def test_iam_policy_for_the_export_is_the_shipped_file():
    proc = run_cli("iam-policy", "--securityhub-export")
    assert proc.returncode == 0, proc.stderr
    shipped = json.loads((ROOT / "iam/auditor-securityhub-export.json").read_text(encoding="utf-8"))
    assert json.loads(proc.stdout) == shipped == securityhub_export_policy()
