"""`auditor audit` as a user runs it: offline snapshots, JSON on stdout only, CI gates, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from auditor.demo.motoserver import free_port
from tests.support import builders as b


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "auditor.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def snapshot_with_problems(tmp_path: Path) -> Path:
    alb = b.load_balancer(
        "k8s-shop-web",
        tags=b.ingress_tags("shop/web"),
        listeners=[b.listener(80, "HTTP", default=b.forward("tg"))],
    )
    inv = b.inventory(lbs=[alb], ingresses=[b.ingress("shop", "web", lb=alb)], controllers=[b.controller()])
    path = tmp_path / "snap.json"
    inv.save(path)
    return path


def test_snapshot_audit_prints_only_json_on_stdout(tmp_path):
    snap = snapshot_with_problems(tmp_path)
    proc = run_cli("audit", "--snapshot", str(snap), "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # nothing but the document on stdout
    assert {"load_balancers", "findings", "coverage"} <= doc.keys()
    lb = doc["load_balancers"][0]
    assert lb["owner"] == {"kind": "Ingress", "namespace": "shop", "name": "web"}
    assert {"arn", "name", "type", "scheme", "dns_name", "region", "listeners"} <= lb.keys()
    redirect = [f for f in doc["findings"] if f["rule_id"] == "http-without-redirect"]
    assert redirect and redirect[0]["status"] == "FAIL"
    assert redirect[0]["kubernetes"] == {"kind": "Ingress", "namespace": "shop", "name": "web"}
    assert "ssl-redirect" in redirect[0]["remediation"]
    for finding in doc["findings"]:
        assert {
            "rule_id",
            "severity",
            "status",
            "resource_arn",
            "kubernetes",
            "evidence",
            "remediation",
        } <= finding.keys()


def test_fail_on_sets_the_exit_code(tmp_path):
    snap = snapshot_with_problems(tmp_path)
    assert run_cli("audit", "--snapshot", str(snap), "-q", "--fail-on", "high").returncode == 1
    assert run_cli("audit", "--snapshot", str(snap), "-q", "--fail-on", "critical").returncode == 0


def test_table_output_names_owner_and_fix(tmp_path):
    snap = snapshot_with_problems(tmp_path)
    proc = run_cli("audit", "--snapshot", str(snap))
    assert proc.returncode == 0, proc.stderr
    assert "shop/web" in proc.stdout and "http-without-redirect" in proc.stdout


def test_collect_then_audit_round_trip_equals_direct_analysis(tmp_path):
    snap = snapshot_with_problems(tmp_path)
    a = json.loads(run_cli("audit", "--snapshot", str(snap), "-o", "json").stdout)
    b_ = json.loads(run_cli("audit", "--snapshot", str(snap), "-o", "json").stdout)
    strip = lambda d: sorted((f["fingerprint"], f["status"]) for f in d["findings"])  # noqa: E731
    assert strip(a) == strip(b_)


def test_bad_input_gets_one_clear_line(tmp_path):
    missing = run_cli("audit", "--snapshot", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "cannot read snapshot" in missing.stderr and "Traceback" not in missing.stderr

    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"schema_version": 1}')
    bad = run_cli("audit", "--snapshot", str(garbage))
    assert bad.returncode == 2 and "is not an auditor snapshot" in bad.stderr and "Traceback" not in bad.stderr

    role = run_cli("audit", "--no-kubernetes", "--role-arn", "not-an-arn")
    assert role.returncode == 2 and "not an IAM role ARN" in role.stderr and "Traceback" not in role.stderr

    target = run_cli("audit", "--target", "prod")
    assert target.returncode == 2 and "--target needs --config" in target.stderr

    config = tmp_path / "targets.yaml"
    config.write_text("targets:\n  - name: a\n    regoins: [eu-west-1]\n")
    cfg = run_cli("audit", "--config", str(config))
    assert cfg.returncode == 2 and "regoins" in cfg.stderr and "Traceback" not in cfg.stderr

    flag = run_cli("audit", "--output", "xml")
    assert flag.returncode == 2 and "Traceback" not in flag.stderr


def test_unreachable_target_is_one_line_and_exit_3(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    env = {
        "AWS_ENDPOINT_URL": dead,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_MAX_ATTEMPTS": "1",
        "AUDITOR_AWS__CONNECT_TIMEOUT": "1",
    }
    proc = run_cli(
        "audit",
        "--kubeconfig",
        str(tmp_path / "missing-kubeconfig"),
        "--cluster-name",
        "x",
        "--region",
        "eu-west-1",
        env=env,
    )
    assert proc.returncode == 3, proc.stderr
    assert "could not be read at all" in proc.stderr and "Traceback" not in proc.stderr
