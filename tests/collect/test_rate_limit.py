"""The client-side rate limit (auditor.collect.aws.ratelimit): every request to an account × region × API waits for
a token of its bucket, so an audit never drains the bucket AWS shares with the running controller."""

from __future__ import annotations

import threading
import time

import pytest

from auditor.collect.aws.ratelimit import RATE_LIMITS, RateLimits, TokenBucket
from auditor.collect.aws.session import CallCounter, open_account
from auditor.config import AccountConfig, AwsSettings
from auditor.demo.motoserver import MotoServer

REGION = "eu-west-1"
pytestmark = pytest.mark.rate_limit  # the limit of the settings, not the suite's none


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_the_burst_goes_at_once_then_the_rate_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 3, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits[:3] == [0, 0, 0]  # the burst
    assert waits[3:] == pytest.approx([0.1, 0.1])  # then one token every 1/rate seconds
    clock.now += 10  # idle: the bucket refills, up to its burst and no further
    assert [bucket.acquire() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])
    assert bucket.waited == pytest.approx(0.3)


def test_waiters_are_served_in_order_without_holding_the_lock() -> None:
    """Each waiter takes the next token due: with 4 at once on an empty bucket, they wait 1, 2, 3 and 4 intervals."""
    clock = FakeClock()
    bucket = TokenBucket(5, 1, clock=clock, sleep=lambda s: None)  # nobody sleeps: the debts show the order
    bucket.acquire()
    assert [round(bucket.acquire(), 6) for _ in range(4)] == [0.2, 0.4, 0.6, 0.8]


def test_buckets_are_per_key_and_limit_and_none_when_off() -> None:
    limits = RateLimits()
    a = limits.bucket(("111", REGION, "elbv2"), 5, 20)
    assert a is limits.bucket(("111", REGION, "elbv2"), 5, 20)
    assert a is not limits.bucket(("111", REGION, "elb"), 5, 20)  # Classic has its own bucket at AWS
    assert a is not limits.bucket(("222", REGION, "elbv2"), 5, 20)
    assert limits.bucket(("111", REGION, "elbv2"), 0, 20) is None
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(0, 1)


def test_requests_to_aws_are_paced_per_api(aws: MotoServer) -> None:
    """Through the real clients against moto: 10/s with a burst of 2 makes 8 DescribeLoadBalancers take at least
    0.6 s, whichever threads send them, while another API (Classic) has its own bucket."""
    settings = AwsSettings(calls_per_second=10, calls_burst=2, max_concurrency=4)
    session = open_account(AccountConfig(), settings, region=REGION, counter=CallCounter())
    v2, v1 = session.client("elbv2", REGION), session.client("elb", REGION)
    v2.describe_load_balancers()  # takes one token of the two
    started = time.monotonic()
    threads = [threading.Thread(target=v2.describe_load_balancers) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert time.monotonic() - started >= 0.6  # 1 token left of the burst, then 7 at 0.1 s
    v1.describe_load_balancers()
    v1.describe_load_balancers()
    bucket_of = {api: RATE_LIMITS.bucket((session.account_id, REGION, api), 10, 2) for api in ("elbv2", "elb")}
    assert bucket_of["elbv2"] is not None and bucket_of["elbv2"].waited > 0
    assert bucket_of["elb"] is not None and bucket_of["elb"].waited == 0  # the Classic API's bucket was full


def test_a_paced_collector_says_so(aws: MotoServer) -> None:
    """On a real account a paced read takes minutes: the collector's progress line says how long it waited."""
    from auditor.config import Settings, TargetConfig
    from auditor.pipeline import collect
    from auditor.progress import ProgressEvent
    from tests.test_fleet_sharing import _seed_region

    _seed_region()  # 3 ALBs with a listener each: elbv2 makes 7 requests
    settings = Settings(aws=AwsSettings(calls_per_second=2, calls_burst=1))  # 6 of them wait, ~3 s in all
    events: list[ProgressEvent] = []
    target = TargetConfig(name="paced", kubernetes=False, regions=[REGION], rules=["http-without-redirect"])
    inventory = collect(target, settings, progress=events.append)
    assert inventory.aws is not None and len(inventory.aws.load_balancers) == 3
    [finished] = [e for e in events if e.stage == "aws:elbv2" and e.status == "ok"]
    assert "waited" in finished.message and "for aws.calls_per_second" in finished.message
