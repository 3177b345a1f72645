"""A cancelled audit (``auditor.cancel``: the service's run that lost its lease) starts no AWS request: the clients'
hooks refuse it, and the collection ends with RunCancelled rather than recording it as the collectors' failure."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from auditor.collect.aws import collect_aws
from auditor.collect.aws.session import CallCounter, open_account
from auditor.collect.aws.shared import SharedInventory
from auditor.config import AccountConfig, AwsSettings, Settings, TargetConfig
from auditor.demo.motoserver import MotoServer
from auditor.errors import RunCancelled
from auditor.inventory.models import CoverageStatus
from auditor.progress import ProgressEvent
from tests.support.moto_requests import record_requests

REGION = "eu-west-1"


def test_a_client_sends_nothing_once_its_audit_is_cancelled_and_counts_nothing(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = record_requests(monkeypatch)
    cancelled = threading.Event()
    counter = CallCounter()
    session = open_account(AccountConfig(), AwsSettings(), region=REGION, counter=counter, cancelled=cancelled.is_set)
    elbv2 = session.client("elbv2", REGION)
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []  # not cancelled: the hooks let every call go
    assert seen == ["sts", "elasticloadbalancing"]
    cancelled.set()
    with pytest.raises(RunCancelled):
        elbv2.describe_load_balancers()
    with pytest.raises(RunCancelled):
        next(iter(elbv2.get_paginator("describe_target_groups").paginate()))
    with pytest.raises(RunCancelled):
        session.client("ec2", REGION).describe_security_groups()
    assert seen == ["sts", "elasticloadbalancing"]  # not sent
    assert counter.snapshot() == {"elasticloadbalancing:DescribeLoadBalancers": 1, "sts:GetCallerIdentity": 1}


def test_a_retry_is_not_sent_once_the_audit_is_cancelled(aws: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit is cancelled while AWS answers a call 503: botocore would send it again, the hook refuses that
    attempt before it is signed."""
    cancelled = threading.Event()

    def unavailable(number: int, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        if number != 2:  # 1: STS's identity
            return None
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        cancelled.set()
        start_response("503 Service Unavailable", [("Content-Length", "0")])
        return [b""]

    seen = record_requests(monkeypatch, unavailable)
    session = open_account(AccountConfig(), AwsSettings(max_attempts=3), region=REGION, cancelled=cancelled.is_set)
    with pytest.raises(RunCancelled):
        session.client("elbv2", REGION).describe_load_balancers()
    assert seen == ["sts", "elasticloadbalancing"]


def test_an_audit_cancelled_before_it_starts_opens_no_account(aws: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """RunCancelled from STS is not an account that could not be opened (coverage ERROR for each collector)."""
    seen = record_requests(monkeypatch)
    with pytest.raises(RunCancelled):
        collect_aws(TargetConfig(name="t", regions=[REGION]), Settings(), counter=CallCounter(), cancelled=lambda: True)
    assert seen == []


def test_a_collection_cancelled_midway_ends_and_shares_only_what_it_finished(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled once elbv2 is read: the next collector's first call raises RunCancelled, which ends the collection
    (not an ERROR for it and each one after); no request after that, and the fleet cache keeps elbv2's complete
    read alone -- the next audit reads the rest itself."""
    seen = record_requests(monkeypatch)
    cancelled = threading.Event()
    sent_before: list[int] = []

    def cancel_after_the_first_collector(event: ProgressEvent) -> None:
        if event.stage.startswith("aws:") and event.status != "running" and not cancelled.is_set():
            sent_before.append(len(seen))
            cancelled.set()

    settings = Settings(aws=AwsSettings(max_concurrency=1))  # one request at a time: none is under way at the cancel
    target = TargetConfig(name="t", regions=[REGION])
    shared = SharedInventory(600)
    with pytest.raises(RunCancelled):
        collect_aws(
            target,
            settings,
            counter=CallCounter(),
            progress=cancel_after_the_first_collector,
            shared=shared,
            share_as="rules",
            cancelled=cancelled.is_set,
        )
    assert sent_before and len(seen) == sent_before[0]  # nothing reached AWS after the cancel
    assert "elasticloadbalancing" in seen  # elbv2's calls, before it

    _, coverage = collect_aws(target, settings, counter=CallCounter(), shared=shared, share_as="rules")
    assert shared.reused == 1  # elbv2, read in full before the cancel
    status = {c.collector: c for c in coverage}
    assert status["elbv2"].calls == 0 and status["elb"].calls > 0  # elb was cut short: read again
    assert {c.status for c in coverage} <= {CoverageStatus.OK, CoverageStatus.PARTIAL, CoverageStatus.SKIPPED}


def test_per_resource_calls_of_a_collector_still_going_when_the_pool_shuts_down_are_done_in_its_thread() -> None:
    """Cancelling shuts the collectors' pool down: a collector already going that fans out then must not fail with
    "cannot schedule new futures after shutdown" (an InternalError with a traceback) -- its calls go on in its own
    thread, and the next one meets the cancellation."""
    from concurrent.futures import ThreadPoolExecutor

    from auditor.collect.aws.base import FanOut

    pool = ThreadPoolExecutor(max_workers=2)
    pool.shutdown(cancel_futures=True)
    assert FanOut(pool, 4).map(lambda n: n * 2, [1, 2, 3]) == [2, 4, 6]
