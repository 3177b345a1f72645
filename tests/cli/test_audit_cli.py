"""`auditor audit` as a user runs it: offline snapshots, JSON on stdout only, CI gates, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.config import load_targets
from auditor.demo.motoserver import free_port
from auditor.errors import ConfigError
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
    kubeconfig = tmp_path / "kubeconfig"  # a readable kubeconfig of a server that is not there
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: x, cluster: {{server: '{dead}'}}}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\nusers: [{name: x, user: {token: t}}]\n"
    )
    proc = run_cli(
        "audit",
        "--kubeconfig",
        str(kubeconfig),
        "--cluster-name",
        "x",
        "--region",
        "eu-west-1",
        env=env,
    )
    assert proc.returncode == 3, proc.stderr
    assert "could not be read at all" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ bad input: one line and the documented exit code


def assert_one_line(proc: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def test_install_alb_exit_code_reaches_the_shell():
    # install-alb ends with ctx.exit(code); the console entry point (not only CliRunner) must exit with it
    proc = run_cli(
        "install-alb", "--cluster-name", "x", "--region", "eu-west-1", "--dry-run", "--controller-version", "vbogus"
    )
    assert_one_line(proc, 2, "--controller-version 'vbogus' is not a version")


@pytest.mark.parametrize(
    ("flag", "value", "phrase"),
    [
        # botocore's InvalidRegionError / "Invalid endpoint: https://sts..amazonaws.com" were internal errors (exit 8)
        ("--region", "eu west", "region 'eu west' is not an AWS region name"),
        ("--region", "", "region '' is not an AWS region name"),
        ("--region", "eu-west-1\n", "region 'eu-west-1\\n' is not an AWS region name"),
        # an empty name was a KeyError in discovery (exit 8); a bad one a DescribeCluster error (exit 5)
        ("--cluster-name", "", "--cluster-name '' is not an EKS cluster name"),
        ("--cluster-name", "../prod", "--cluster-name '../prod' is not an EKS cluster name"),
        ("--cluster-name", "c" * 101, "is not an EKS cluster name"),
        ("--cluster-name", "prod\n", "--cluster-name 'prod\\n' is not an EKS cluster name"),
        # names IAM refuses and a VPC id that is none: planned without a word (--dry-run exit 0)
        ("--role-name", "bad name!", "--role-name 'bad name!' is not an IAM name"),
        ("--role-name", "r" * 65, "is not an IAM name: 1-64"),
        ("--policy-name", "", "--policy-name '' is not an IAM name"),
        ("--policy-name", "p" * 129, "is not an IAM name: 1-128"),
        ("--vpc-id", "garbage", "--vpc-id 'garbage' is not a VPC id"),
        # int() of more than 4300 digits: a ValueError out of parse_version, an internal error (exit 8)
        ("--controller-version", "v" + "9" * 5000 + ".0.0", "is not a version"),
        # a minor line this auditor has no IAM policy for: planned with the newest known line's policy (exit 0)
        ("--controller-version", "v99.0.0", "controller v99.0.0 is newer than this auditor knows"),
        ("--controller-version", "v3.6.0", "its IAM policy is not known here"),
        # planned without a word (exit 0), then the rollout wait gave up at once or never
        ("--timeout", "nan", "--timeout nan is not a number of seconds above 0"),
        ("--timeout", "-1", "--timeout -1.0 is not a number of seconds above 0"),
        ("--timeout", "0", "--timeout 0.0 is not"),
        ("--timeout", "inf", "--timeout inf is not"),
    ],
)
def test_install_alb_bad_flags_are_one_line_and_exit_2(flag, value, phrase):
    flags = {"--cluster-name": "x", "--region": "eu-west-1", flag: value}
    proc = run_cli("install-alb", *[part for item in flags.items() for part in item], "--dry-run")
    assert_one_line(proc, 2, phrase)


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        # botocore reads these when the first client is made: ValueError / InvalidMaxRetryAttemptsError, exit 8
        ({"AWS_ENDPOINT_URL": "not a url"}, "AWS client settings for sts in eu-west-1: Invalid endpoint: not a url"),
        ({"AWS_MAX_ATTEMPTS": "abc"}, "AWS client settings for sts in eu-west-1: invalid literal for int()"),
        ({"AWS_MAX_ATTEMPTS": "0"}, 'AWS client settings for sts in eu-west-1: Value provided to "max_attempts": 0'),
    ],
)
def test_install_alb_bad_aws_environment_is_one_line_and_exit_2(env, phrase):
    aws = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    proc = run_cli("install-alb", "--cluster-name", "x", "--region", "eu-west-1", "--dry-run", env={**aws, **env})
    assert_one_line(proc, 2, phrase)


def test_a_bad_endpoint_of_one_service_fails_the_collectors_that_need_it(moto_server):
    """AWS_ENDPOINT_URL_EKS: botocore reads it when the EKS client is made, after STS answered. The eks collector is
    an error (the audit partial, exit 7), the rest is read; a service no selected rule needs costs nothing."""
    env = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_ENDPOINT_URL": moto_server.url}
    proc = run_cli(
        "audit", "--no-kubernetes", "--region", "eu-west-1", env={**env, "AWS_ENDPOINT_URL_EKS": "not a url"}
    )
    assert proc.returncode == 7, proc.stderr
    assert "eks/eu-west-1 error (ClientSettings)" in proc.stderr
    assert "AWS client settings for eks in eu-west-1: Invalid endpoint: not a url" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    bad_ce = {**env, "AWS_ENDPOINT_URL_COST_EXPLORER": "not a url"}
    proc = run_cli("audit", "--no-kubernetes", "--region", "eu-west-1", "--rules", "tls", env=bad_ce)
    assert proc.returncode == 0, proc.stderr


def test_bad_region_flag_is_exit_2():
    proc = run_cli("audit", "--no-kubernetes", "--region", "not-a-region!")
    assert_one_line(proc, 2, "region 'not-a-region!' is not an AWS region name")


def test_a_list_or_object_setting_that_is_not_json_is_exit_2():
    proc = run_cli("rules", env={"AUDITOR_REPORTS__FORMATS": "markdown"})
    assert_one_line(proc, 2, "bad setting", 'field "reports"', "takes JSON")
    proc = run_cli("rules", env={"AUDITOR_AWS": "{not json"})
    assert_one_line(proc, 2, "bad setting", 'field "aws"')


def test_log_format_is_text_or_json_in_any_case(tmp_path):
    assert_one_line(run_cli("rules", env={"AUDITOR_LOG_FORMAT": "xml"}), 2, "AUDITOR_LOG_FORMAT", "'xml'")
    proc = run_cli("audit", "--snapshot", str(snapshot_with_problems(tmp_path)), env={"AUDITOR_LOG_FORMAT": "JSON"})
    logs = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert any(log["logger"] == "auditor.pipeline" and "audit of" in log["msg"] for log in logs), proc.stderr


def test_non_utf8_snapshot_config_and_kubeconfig_are_exit_2(tmp_path):
    snap = tmp_path / "snap.json"
    snap.write_bytes(b'{"schema_version": 1, "target": {"name": "caf\xe9"}}')
    assert_one_line(run_cli("audit", "--snapshot", str(snap)), 2, str(snap), "is not UTF-8", "byte 0xe9 at offset 45")

    config = tmp_path / "targets.yaml"
    config.write_bytes(b"targets:\n  - name: caf\xe9\n")
    assert_one_line(run_cli("audit", "--config", str(config)), 2, str(config), "is not UTF-8")

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_bytes(b"apiVersion: v1\nkind: Config\ncurrent-context: caf\xe9\n")
    proc = run_cli("audit", "--kubeconfig", str(kubeconfig), "--cluster-name", "x", "--region", "eu-west-1")
    assert_one_line(proc, 2, "target 'x'", f"kubeconfig {kubeconfig} is not UTF-8")
    proc = run_cli("audit", "--kubeconfig", str(tmp_path / "nope"), "--cluster-name", "x", "--region", "eu-west-1")
    assert_one_line(proc, 2, "target 'x': cannot read kubeconfig", "No such file or directory")


def test_a_kubeconfig_path_with_a_nul_in_a_targets_file_is_exit_2(tmp_path):
    config = tmp_path / "targets.yaml"
    config.write_text('targets:\n  - name: a\n    kubeconfig: "/tmp/kube\\0config"\n')
    assert_one_line(run_cli("audit", "--config", str(config)), 2, "target 'a': cannot read kubeconfig", "null byte")


def test_targets_file_errors_name_the_target(tmp_path):
    config = tmp_path / "targets.yaml"
    config.write_text('targets:\n  - name: dev\n  - name: prod\n    schedule: "61 * * * *"\n')
    proc = run_cli("audit", "--config", str(config))
    assert_one_line(proc, 2, f"{config}: target 'prod': schedule '61 * * * *' is not a valid 5-field cron expression")


def test_collect_to_an_unwritable_path_fails_before_collecting(tmp_path):
    # no AWS endpoint is reachable in this test: the path check must come first, or this would be exit 3
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    for out, reason in (
        (tmp_path / "missing" / "snap.json", "does not exist"),
        (tmp_path, "it is a directory"),
        (Path("/proc/auditor-snapshot.json"), "cannot write the snapshot to /proc/auditor-snapshot.json"),
    ):
        proc = run_cli("collect", "--no-kubernetes", "--region", "eu-west-1", "-o", str(out), env=env)
        assert_one_line(proc, 2, reason)


def test_collect_keeps_the_snapshot_when_writing_fails_after_collecting(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import auditor.pipeline
    from auditor.cli import cli

    monkeypatch.setattr(auditor.pipeline, "collect", lambda *a, **k: b.inventory())
    out = tmp_path / "snap.json"
    real_write = Path.write_text

    def disk_full(self: Path, *args: object, **kwargs: object) -> int:
        if self == out:
            raise OSError(28, "No space left on device")
        return real_write(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", disk_full)
    result = CliRunner().invoke(cli, ["collect", "--no-kubernetes", "--region", "eu-west-1", "-o", str(out), "-q"])
    assert isinstance(result.exception, SystemExit) or result.exception is not None
    message = str(result.exception)
    assert "No space left on device; the snapshot was saved to " in message
    kept = Path(message.rsplit(" ", 1)[-1])
    try:
        assert json.loads(kept.read_text())["target"]["name"] == "demo"
    finally:
        kept.unlink()


def test_snapshot_of_a_future_schema_version_is_exit_2(tmp_path):
    snap = tmp_path / "snap.json"
    doc = json.loads(b.inventory().dump_json())
    snap.write_text(json.dumps({**doc, "schema_version": 99, "something_new": {}}))
    assert_one_line(run_cli("audit", "--snapshot", str(snap)), 2, f"{snap} has schema version 99; this auditor reads")


def test_snapshot_with_bad_timestamps_is_exit_2(tmp_path):
    snap = tmp_path / "snap.json"
    doc = json.loads(b.inventory().dump_json())
    snap.write_text(json.dumps({**doc, "collected_at": "2026-11-23T12:00:00"}))
    assert_one_line(run_cli("audit", "--snapshot", str(snap)), 2, "collected_at", "has no time zone")
    snap.write_text(json.dumps({**doc, "collected_at": "last tuesday"}))
    assert_one_line(run_cli("audit", "--snapshot", str(snap)), 2, "collected_at", "valid datetime")


def test_deep_json_annotation_in_a_snapshot_is_an_invalid_annotation_fail(tmp_path):
    deep = "[" * 5000 + "]" * 5000
    bad = b.ingress("shop", "deep", annotations={"alb.ingress.kubernetes.io/actions.x": deep})
    snap = tmp_path / "snap.json"
    b.inventory(ingresses=[bad, b.ingress("shop", "fine")], controllers=[b.controller()]).save(snap)
    proc = run_cli("audit", "--snapshot", str(snap), "-o", "json", "-q")
    assert proc.returncode == 0, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    invalid = [f for f in findings if f["rule_id"] == "invalid-annotation" and f["status"] == "FAIL"]
    assert [f["kubernetes"] for f in invalid] == [{"kind": "Ingress", "namespace": "shop", "name": "deep"}]
    assert "nested deeper than" in invalid[0]["message"]
    assert any(f["kubernetes"] == {"kind": "Ingress", "namespace": "shop", "name": "fine"} for f in findings)


def test_an_unexpected_exception_is_one_line_and_exit_8(monkeypatch, capsys):
    import auditor.rules.registry
    from auditor.cli import main

    def bug() -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(auditor.rules.registry, "catalog", bug)
    monkeypatch.setattr(sys, "argv", ["auditor", "rules"])
    try:
        main()
    except SystemExit as exc:
        assert exc.code == 8
    else:
        raise AssertionError("main() did not exit")
    err = capsys.readouterr().err
    assert err.strip() == ("internal error: KeyError: 'a bug'; run with --log-level DEBUG for the traceback"), err


def test_one_target_crashing_does_not_stop_the_others(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import auditor.pipeline
    from auditor.cli import cli

    config = tmp_path / "targets.yaml"
    config.write_text("targets:\n  - name: first\n    kubernetes: false\n  - name: second\n    kubernetes: false\n")

    def run_audit(target, settings, **kwargs):  # type: ignore[no-untyped-def]
        if target.name == "first":
            raise RuntimeError("a bug on this target")
        return auditor.pipeline.analyze(b.inventory(cluster="second", lbs=[b.load_balancer("web")]), settings)

    monkeypatch.setattr(auditor.pipeline, "run_audit", run_audit)
    result = CliRunner().invoke(cli, ["audit", "--config", str(config), "-o", "json", "-q"])
    assert result.exit_code == 8, result.output
    assert "internal error: target 'first': RuntimeError: a bug on this target" in result.stderr
    assert json.loads(result.stdout)["target"] == "second"
    # a crashed target outranks the other target's findings: exit 8, not the findings code
    gated = CliRunner().invoke(cli, ["audit", "--config", str(config), "-o", "json", "-q", "--fail-on", "info"])
    doc = json.loads(gated.stdout)
    assert doc["status"] == "complete" and any(f["status"] == "FAIL" for f in doc["findings"])
    assert gated.exit_code == 8, gated.output


def test_the_demo_audits_without_the_client_side_rate_limit(monkeypatch):
    """moto shares no bucket with anyone: the demo turns the rate limit off (README), whatever settings the CLI read
    before the demo environment set AUDITOR_AWS__CALLS_PER_SECOND=0 (its audits waited ~14 s each)."""
    from click.testing import CliRunner

    import auditor.pipeline
    from auditor.cli import cli

    class Seen(Exception):
        pass

    def run_audit(target, settings, **kwargs):  # type: ignore[no-untyped-def]
        raise Seen(settings.aws.calls_per_second)

    monkeypatch.delenv("AUDITOR_AWS__CALLS_PER_SECOND", raising=False)
    monkeypatch.setattr(auditor.pipeline, "run_audit", run_audit)
    result = CliRunner().invoke(cli, ["demo", "-o", "json"])
    assert isinstance(result.exception, Seen), result.output
    assert result.exception.args == (0.0,)


def test_target_flags_with_a_snapshot_are_exit_2_naming_them(tmp_path):
    """A snapshot is one collected target: --config, --target, --cluster-name (what to collect) would be ignored."""
    snap = snapshot_with_problems(tmp_path)
    for command in ("audit", "cost", "plan-consolidation"):
        proc = run_cli(command, "--snapshot", str(snap), "--config", "t.yaml", "--target", "a", "--cluster-name", "b")
        assert_one_line(proc, 2, "--config, --target, --cluster-name do not go with --snapshot")
        proc = run_cli(command, "--snapshot", str(snap), "--region", "eu-west-1")
        assert_one_line(proc, 2, "--region does not go with --snapshot")
    # the rule flags do: they narrow what the snapshot is judged by, for cost and plan-consolidation as for audit
    proc = run_cli("cost", "--snapshot", str(snap), "--rules", "nonsense")
    assert_one_line(proc, 2, "nonsense")


def test_one_target_flags_with_a_targets_file_are_exit_2_naming_them(tmp_path):
    """The targets file says what to audit: --cluster-name or --region beside it (or beside AUDITOR_CONFIG_FILE, as a
    CronJob's extra args could be) would be ignored without a word."""
    config = tmp_path / "targets.yaml"
    config.write_text("targets:\n  - name: x\n    regions: [eu-west-1]\n")
    for command in ("audit", "collect -o snap.json", "cost", "plan-consolidation"):
        words = command.split()
        proc = run_cli(*words, "--config", str(config), "--cluster-name", "b", "--region", "eu-west-1")
        assert_one_line(proc, 2, "--cluster-name, --region do not go with --config", "--target")
    proc = run_cli("audit", "--no-kubernetes", env={"AUDITOR_CONFIG_FILE": str(config)})
    assert_one_line(proc, 2, f"--no-kubernetes does not go with AUDITOR_CONFIG_FILE ({config})")


def test_a_duplicate_key_in_a_targets_file_is_exit_2_naming_the_key_and_line(tmp_path):
    config = tmp_path / "targets.yaml"
    config.write_text("targets:\n  - name: x\n    regions: [eu-west-1]\n    name: y\n")
    assert_one_line(
        run_cli("audit", "--config", str(config)), 2, f"{config}: duplicate key 'name' on line 4 (first on line 2)"
    )
    for text, says in (
        ("targets:\n  - {name: x, name: y}\n", "duplicate key 'name' on line 2 (first on line 2)"),
        ("targets:\n  - name: x\ntargets:\n  - name: y\n", "duplicate key 'targets' on line 3 (first on line 1)"),
        ("targets:\n  - !!python/object/apply:os.system [echo hi]\n", "not valid YAML"),  # still a safe loader
    ):
        config.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(says)):
            load_targets(config)
    # a merge key may be overridden, as YAML means it
    config.write_text("targets:\n  - {<<: {name: b, regions: [eu-west-1]}, name: a}\n")
    assert [(t.name, t.regions) for t in load_targets(config)] == [("a", ["eu-west-1"])]


def test_a_targets_file_without_targets_says_so(tmp_path):
    config = tmp_path / "targets.yaml"
    config.write_text("")
    assert_one_line(run_cli("audit", "--config", str(config)), 2, f"config file {config} is empty")
    for text, says in (
        ("# only a comment\n", "is empty: it needs a `targets:` list"),
        ("targets: []\n", "has no targets"),
        ("targets:\n", "has no targets"),
    ):
        config.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(says)):
            load_targets(config)


def test_a_schedule_that_never_fires_is_exit_2(tmp_path):
    config = tmp_path / "targets.yaml"
    config.write_text('targets:\n  - name: x\n    schedule: "0 0 31 2 *"\n')
    assert_one_line(run_cli("audit", "--config", str(config)), 2, "target 'x': schedule '0 0 31 2 *' never fires")
    config.write_text('targets:\n  - name: x\n    schedule: "0 0 29 2 *"\n')  # every leap year: it fires
    assert load_targets(config)[0].schedule == "0 0 29 2 *"


def test_quiet_leaves_only_warnings_in_the_log_unless_a_log_level_is_asked_for(tmp_path):
    snap = str(snapshot_with_problems(tmp_path))
    quiet = run_cli("audit", "--snapshot", snap, "-q")  # no AUDITOR_LOG_LEVEL here: conftest clears AUDITOR_*
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert "audit of" in run_cli("audit", "--snapshot", snap).stderr  # the info line without --quiet
    # asked for (the Helm chart's CronJob sets AUDITOR_LOG_LEVEL and runs `audit --quiet`): the level asked for
    assert "audit of" in run_cli("--log-level", "INFO", "audit", "--snapshot", snap, "-q").stderr
    assert "audit of" in run_cli("audit", "--snapshot", snap, "-q", env={"AUDITOR_LOG_LEVEL": "INFO"}).stderr


def test_a_snapshot_whose_schema_version_is_not_a_number_is_exit_2(tmp_path):
    snap = tmp_path / "snap.json"
    doc = json.loads(b.inventory().dump_json())
    for version, shown in ((True, "true"), (1.0, "1.0"), ("1", '"1"')):
        snap.write_text(json.dumps({**doc, "schema_version": version}))
        proc = run_cli("audit", "--snapshot", str(snap))
        assert_one_line(proc, 2, f"{snap} has schema version {shown}, not a version number; this auditor reads")


def test_python_dash_m_auditor_is_the_auditor_command():
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "auditor", *args], check=False, capture_output=True, text=True)

    listed = run("rules")
    assert listed.returncode == 0 and listed.stdout == run_cli("rules").stdout != ""
    # the console script's main(): one line and the documented exit code, not click's own handling of an error
    assert_one_line(run("audit", "--target", "prod"), 2, "--target needs --config")


def test_an_unknown_report_format_is_a_bad_setting_at_start():
    """Not the service's first finished run failing to write its reports (the README: a bad value is exit 2)."""
    proc = run_cli("rules", env={"AUDITOR_REPORTS__FORMATS": '["html", "pdf"]'})
    assert_one_line(proc, 2, "bad setting AUDITOR_REPORTS__FORMATS", "'pdf' is not one of markdown, html")
