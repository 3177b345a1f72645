"""One read of an account × region for every cluster audited in it (issue #11, "fleets").

The regional collectors that do not depend on the cluster — ``elbv2``, ``elb``, ``wafv2``, ``ec2``, ``acm``
and ``cloudwatch`` (usage of the load balancers) — read the same thing whichever of the account's clusters is
audited, and so does ``costexplorer`` (the account's billed cost per load balancer: global, its key has no
region; each of its requests is billed, $0.01). A ``SharedInventory`` keeps what one audit read, per account ×
region × collector × rule selection, for ``max_age`` seconds, and the next audit of another cluster there takes
a copy instead of reading again.
Cluster-specific reads (``eks``: the cluster and its Pod Identity; ``iam``: its controller's role) are never
shared, nor are Price List reads (the service keeps those in its database).

Scope: one ``auditor audit --config`` invocation (its targets one after the other), or the scheduled runs of
one ``auditor serve`` process (a run triggered through the API reads fresh); replicas do not share with each
other. An audit running while another reads the same key waits for that read rather than making it twice. A
read that failed (coverage ERROR or PARTIAL) is not kept: the next audit tries again.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.inventory.models import Coverage, CoverageStatus

log = logging.getLogger(__name__)

# regional reads no cluster changes, and the account's billed cost (Cost Explorer bills each request: $0.01)
SHAREABLE = frozenset({"elbv2", "elb", "wafv2", "ec2", "acm", "cloudwatch", "costexplorer"})


def shared_inventory(aws_seconds: float, billed_refresh_hours: float) -> SharedInventory:
    """The fleet cache as settings ask: regional reads for ``aws.shared_inventory_seconds``, the billed cost for
    ``cost.billed_refresh_hours``."""
    return SharedInventory(aws_seconds, {"costexplorer": billed_refresh_hours * 3600})


Read = tuple[Any, Coverage]  # a collector's result and its coverage


@dataclass
class _Entry:
    done: threading.Event = field(default_factory=threading.Event)
    read: Read | None = None  # None while the first reader is at it, or when its read is not kept
    at: float = 0.0  # time.monotonic() of the read


class SharedInventory:
    """Regional reads kept for ``max_age`` seconds and handed out as deep copies (audits never share objects).

    ``max_age_of``: collectors kept for another time, whatever ``max_age`` (sharing off included): Cost Explorer's
    billed cost is daily data whose every request is billed, so the service reads it once per
    ``cost.billed_refresh_hours`` and account rather than at every scheduled run."""

    def __init__(self, max_age: float, max_age_of: Mapping[str, float] | None = None) -> None:
        self.max_age = max_age
        self.max_age_of = dict(max_age_of or {})
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()
        self.reused = 0  # reads served from the cache (for logs and tests)

    def read(self, key: Hashable, collect: Callable[[], Read], collector: str | None = None) -> tuple[Read, bool]:
        """``collect()`` once per key and ``max_age`` (the collector's own in ``max_age_of``); later callers get a
        copy with ``calls`` 0. The second value says whether the read was shared (not made by this call)."""
        max_age = self.max_age_of.get(collector, self.max_age) if collector is not None else self.max_age
        if max_age <= 0:
            return collect(), False
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry.done.is_set():
                    if entry.read is not None and time.monotonic() - entry.at <= max_age:
                        self.reused += 1
                        return _reused(entry.read), True
                    entry = None  # stale or not kept: read again
                if entry is None:
                    mine = self._entries[key] = _Entry()
                    break
            entry.done.wait()  # another audit is reading this key: take its result when it is done
        try:
            result = collect()
        except BaseException:
            with self._lock:
                self._entries.pop(key, None)
            mine.done.set()
            raise
        kept = result[1].status in (CoverageStatus.OK, CoverageStatus.SKIPPED)
        with self._lock:
            mine.read, mine.at = (copy.deepcopy(result), time.monotonic()) if kept else (None, 0.0)
        mine.done.set()
        return result, False


def _reused(read: Read) -> Read:
    result, coverage = copy.deepcopy(read)
    return result, coverage.model_copy(update={"calls": 0, "duration_ms": 0})


__all__ = ["SHAREABLE", "SharedInventory", "shared_inventory"]
