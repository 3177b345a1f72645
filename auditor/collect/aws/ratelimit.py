"""Client-side rate limits: the auditor's requests per account × region × AWS API, so it never drains the bucket
the controllers it audits depend on.

AWS throttles each account and region with a token bucket per API: Elastic Load Balancing gives version 1
(Classic) and version 2 a bucket each, and documents Describe* at 40 tokens refilled 10 a second as its example
(https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html); the AWS Load
Balancer Controller limits itself to the same, ``Elastic Load Balancing v2:.*=10:40``
(https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/main/docs/deploy/configurations.md).
Bounded concurrency alone does not keep under it: four requests in flight at AWS's latency are far more than 10
a second, so a large audit would drain the bucket, the controller's reconciles would be throttled with it, and
the audit's own retries could run out (a partial audit). Here every HTTP request — retries included, they take
tokens too; STS's identity calls aside — waits, before it is signed, for a token of its account × region × API
bucket (an API: a boto3 service; elb and elbv2 are two), ``aws.calls_per_second`` refilling ``aws.calls_burst``;
0 turns it off. The buckets are per process: the targets and runs of one process share them; replicas and other
tools each have their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

__all__ = ["RATE_LIMITS", "RateLimits", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; ``acquire`` takes one, sleeping first when there is none.

    Waiters are served in order: each takes the next token due (the count goes below zero), and sleeps until it
    is, outside the lock."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs a positive rate and burst, not {rate}/s, {burst}")
        self.rate, self.burst = rate, burst
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds slept in acquire, all callers together

    def acquire(self) -> float:
        """Take a token; the seconds waited for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate) - 1
            self._at = now
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait


class RateLimits:
    """The buckets of one process, by (account, region, API) and the limit asked for."""

    def __init__(self) -> None:
        self._buckets: dict[Hashable, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, key: Hashable, rate: float, burst: int) -> TokenBucket | None:
        """The bucket of ``key`` at this limit (made once); None when ``rate`` is 0 (no limit)."""
        if rate <= 0:
            return None
        with self._lock:
            found = self._buckets.get((key, rate, burst))
            if found is None:
                found = self._buckets[(key, rate, burst)] = TokenBucket(rate, burst)
            return found


RATE_LIMITS = RateLimits()
