"""Fleets: the clusters of one account × region share one read of it (auditor.collect.aws.shared) — in one
`auditor audit --config` run and in one service process — with the same verdicts as reading it each time."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from auditor.collect.aws.shared import SHAREABLE, SharedInventory, shared_inventory
from auditor.config import Settings, TargetConfig
from auditor.demo.motoserver import MotoServer
from auditor.inventory.models import Coverage, CoverageStatus
from auditor.pipeline import run_audit
from tests.cli.test_audit_cli import run_cli
from tests.collect.test_aws_seed import REGION, network

# --------------------------------------------------------------------------- the cache itself


def _read(status: CoverageStatus = CoverageStatus.OK) -> tuple[dict[str, list[int]], Coverage]:
    return {"lbs": [1, 2]}, Coverage(source="aws", collector="elbv2", region=REGION, status=status, calls=7)


def test_one_read_per_key_handed_out_as_copies() -> None:
    shared, calls = SharedInventory(60), []

    def collect() -> Any:
        calls.append(1)
        return _read()

    (first, cov1), reused1 = shared.read("k", collect)
    (second, cov2), reused2 = shared.read("k", collect)
    assert len(calls) == 1 and (reused1, reused2) == (False, True)
    assert second == first and second is not first  # a copy: one audit never changes another's objects
    assert (cov1.calls, cov2.calls) == (7, 0)  # the calls are the first audit's
    shared.read("other key", collect)
    assert len(calls) == 2


def test_a_failed_read_is_not_kept_and_a_stale_one_is_read_again() -> None:
    calls: list[int] = []

    def collect(status: CoverageStatus) -> Any:
        calls.append(1)
        return _read(status)

    shared = SharedInventory(60)
    for status in (CoverageStatus.ERROR, CoverageStatus.PARTIAL):
        shared.read(status, lambda s=status: collect(s))
        assert shared.read(status, lambda s=status: collect(s))[1] is False
    assert len(calls) == 4
    stale = SharedInventory(0.05)
    stale.read("k", lambda: collect(CoverageStatus.OK))
    time.sleep(0.1)
    assert stale.read("k", lambda: collect(CoverageStatus.OK))[1] is False
    off = SharedInventory(0)
    off.read("k", lambda: collect(CoverageStatus.OK))
    assert off.read("k", lambda: collect(CoverageStatus.OK))[1] is False
    assert len(calls) == 8


def test_the_billed_cost_is_kept_for_its_own_time_whatever_the_regional_sharing() -> None:
    """Cost Explorer bills every request and its data is daily: kept ``cost.billed_refresh_hours`` (even with
    regional sharing off), while the regional reads follow ``aws.shared_inventory_seconds``."""
    calls: list[str] = []

    def collect(name: str) -> Any:
        calls.append(name)
        return _read()

    shared = shared_inventory(0.05, billed_refresh_hours=24)
    for name in ("costexplorer", "elbv2"):
        shared.read(("account", None, name), lambda n=name: collect(n), name)
    time.sleep(0.1)
    assert shared.read(("account", None, "costexplorer"), lambda: collect("costexplorer"), "costexplorer")[1] is True
    assert shared.read(("account", None, "elbv2"), lambda: collect("elbv2"), "elbv2")[1] is False
    off = shared_inventory(0, billed_refresh_hours=24)  # regional sharing off: the billed cost is still kept
    off.read("ce", lambda: collect("costexplorer"), "costexplorer")
    assert off.read("ce", lambda: collect("costexplorer"), "costexplorer")[1] is True
    never = shared_inventory(300, billed_refresh_hours=0)  # 0: read with every audit
    never.read("ce", lambda: collect("costexplorer"), "costexplorer")
    assert never.read("ce", lambda: collect("costexplorer"), "costexplorer")[1] is False
    assert calls == ["costexplorer", "elbv2", "elbv2", "costexplorer", "costexplorer", "costexplorer"]


def test_audits_reading_the_same_key_at_once_read_it_once() -> None:
    shared, calls = SharedInventory(60), []
    gate = threading.Event()

    def slow() -> Any:
        calls.append(1)
        gate.wait(5)
        return _read()

    got: list[bool] = []
    threads = [threading.Thread(target=lambda: got.append(shared.read("k", slow)[1])) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and sorted(got) == [False, True, True, True]


def test_a_reader_that_raises_lets_the_next_one_read() -> None:
    shared = SharedInventory(60)

    def boom() -> Any:
        raise RuntimeError("defect")

    with pytest.raises(RuntimeError):
        shared.read("k", boom)
    assert shared.read("k", _read)[1] is False


# --------------------------------------------------------------------------- audits of a fleet


def _seed_region() -> None:
    net = network()
    elbv2 = boto3.client("elbv2", region_name=REGION)
    for i in range(3):
        lb = elbv2.create_load_balancer(Name=f"web-{i}", Subnets=net.subnets)["LoadBalancers"][0]
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )


def _targets(n: int) -> list[TargetConfig]:
    return [TargetConfig(name=f"cluster-{i}", kubernetes=False, regions=[REGION]) for i in range(n)]


def _regional_calls(api_calls: dict[str, int]) -> int:
    services = ("elasticloadbalancing:", "wafv2:", "ec2:", "acm:")
    return sum(n for op, n in api_calls.items() if op.startswith(services))


def _verdicts(findings: list[Any]) -> set[tuple[str, str, str]]:
    return {(f.rule_id, f.resource_arn or "", f.status.value) for f in findings}


def test_the_clusters_of_one_region_share_one_read(aws: MotoServer) -> None:
    _seed_region()
    settings = Settings()
    alone = [run_audit(t, settings).result for t in _targets(3)]
    shared = SharedInventory(settings.aws.shared_inventory_seconds)
    together = [run_audit(t, settings, shared=shared).result for t in _targets(3)]
    assert all(_regional_calls(r.api_calls) > 0 for r in alone)
    assert _regional_calls(together[0].api_calls) == _regional_calls(alone[0].api_calls)
    assert [_regional_calls(r.api_calls) for r in together[1:]] == [0, 0]
    assert shared.reused == 2 * len(SHAREABLE)
    for a, b in zip(alone, together, strict=True):
        assert _verdicts(a.findings) == _verdicts(b.findings)
        assert {c.collector: c.status for c in a.coverage} == {c.collector: c.status for c in b.coverage}
    # a different rule selection is a different read (it reads other facets)
    narrowed = run_audit(_targets(1)[0].model_copy(update={"rules": ["weak-tls-policy"]}), settings, shared=shared)
    assert _regional_calls(narrowed.result.api_calls) > 0


def test_audit_config_shares_between_its_targets(aws: MotoServer, tmp_path: Path) -> None:
    _seed_region()
    config = tmp_path / "targets.yaml"
    config.write_text(yaml.safe_dump({"targets": [t.model_dump(mode="json", exclude_none=True) for t in _targets(2)]}))
    # sharing off: only the billed cost is still reused (kept for cost.billed_refresh_hours, it is billed per request)
    for seconds, shared_reads in (("300", len(SHAREABLE)), ("0", 1)):
        proc = run_cli("audit", "--config", str(config), env={"AUDITOR_AWS__SHARED_INVENTORY_SECONDS": seconds})
        assert proc.returncode in (0, 1), proc.stderr
        # the second cluster's progress names each read it took from the first one
        assert proc.stderr.count("read by an earlier audit of this account and region") == shared_reads, proc.stderr


def test_the_scheduled_runs_of_one_service_process_share(aws: MotoServer, tmp_path: Path) -> None:
    from auditor.service import AuditService
    from auditor.store.db import make_engine, session_factory, transaction, upgrade
    from auditor.store.runs import run_result
    from auditor.store.targets import sync_targets

    url = f"sqlite:///{tmp_path}/fleet.db"
    engine = make_engine(url)
    upgrade(engine)
    service = AuditService(Settings(database_url=url), session_factory(engine))
    with transaction(service.factory) as s:
        sync_targets(s, _targets(2))
    _seed_region()
    scheduled = [service.run_now(t.name, trigger="schedule") for t in _targets(2)]
    now = service.run_now(_targets(2)[1].name, trigger="api")  # asked for now: reads everything fresh
    with service.factory() as s:
        results = [run_result(s, run) for run in (*scheduled, now)]
    assert [r.status for r in (*scheduled, now)] == ["complete"] * 3
    assert [_regional_calls(r.api_calls) > 0 for r in results] == [True, False, True]
    service.shutdown()


def test_two_selections_of_the_same_rules_reading_other_facets_do_not_share(aws: MotoServer) -> None:
    """`--skip-rules hardening` runs the default audit's rules but reads only what they declare (no billed costs);
    a default audit after it must not take that read for its own."""
    _seed_region()
    settings = Settings()
    alone = {c.collector: c.status for c in run_audit(_targets(1)[0], settings).result.coverage}
    assert alone["costexplorer"] != CoverageStatus.SKIPPED
    shared = SharedInventory(settings.aws.shared_inventory_seconds)
    skipping = _targets(1)[0].model_copy(update={"skip_rules": ["hardening"]})
    narrowed = run_audit(skipping, settings, shared=shared).result
    assert {c.collector: c.status for c in narrowed.coverage}["costexplorer"] == CoverageStatus.SKIPPED
    default = run_audit(_targets(2)[1], settings, shared=shared).result
    assert {c.collector: c.status for c in default.coverage} == alone
