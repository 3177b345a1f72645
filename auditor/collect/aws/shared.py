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
``auditor serve`` (a run triggered through the API reads fresh). An audit running while another reads the same
key waits for that read rather than making it twice. A read that failed (coverage ERROR or PARTIAL) is not
kept: the next audit tries again.

Replicas: the service gives the cache a ``ReadStore`` (``auditor.store.shared_reads``: its database), so the
replicas of one PostgreSQL share too. A read is then claimed in the database by the run that makes it, and
renewed while it is under way; another replica's run waits for it and takes it from there (JSON through each
collector's result type, see ``encode``), and takes the claim over once it is dead — not renewed for
``CLAIM_SECONDS``, or its run no longer running — so no run waits for a dead reader. A read that came back
incomplete leaves the waiting runs to read for themselves at once. The database failing only turns sharing off
for that read.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import threading
import time
import zlib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from auditor import __version__
from auditor.collect.aws.ec2 import Ec2Result
from auditor.collect.aws.elbv2 import Elbv2Result
from auditor.collect.kept import ALONE, BUSY, RENEW_SECONDS, Kept, ReadStore
from auditor.inventory.models import (
    SCHEMA_VERSION,
    BilledCost,
    Certificate,
    Coverage,
    CoverageStatus,
    LoadBalancer,
    LoadBalancerUsage,
    WebAcl,
)

log = logging.getLogger(__name__)

# Regional reads no cluster changes, and the account's billed cost (Cost Explorer bills each request: $0.01),
# with the type of what each collector returns (how a read goes through the database between replicas).
_RESULT_TYPES: dict[str, Any] = {
    "elbv2": Elbv2Result,
    "elb": list[LoadBalancer],
    "wafv2": list[WebAcl],
    "ec2": Ec2Result,
    "acm": list[Certificate],
    "cloudwatch": list[LoadBalancerUsage],
    "costexplorer": list[BilledCost],
}
SHAREABLE = frozenset(_RESULT_TYPES)
POLL_SECONDS = 0.5  # how often a run waiting for another replica's read looks again


def shared_inventory(
    aws_seconds: float, billed_refresh_hours: float, store: ReadStore | None = None
) -> SharedInventory:
    """The fleet cache as settings ask: regional reads for ``aws.shared_inventory_seconds``, the billed cost for
    ``cost.billed_refresh_hours``; ``store``: where replicas keep reads for each other (the service's database)."""
    return SharedInventory(aws_seconds, {"costexplorer": billed_refresh_hours * 3600}, store)


Read = tuple[Any, Coverage]  # a collector's result and its coverage


@cache
def _adapter(collector: str) -> TypeAdapter[Any]:
    # None: a collector no selected rule needs read nothing (coverage SKIPPED), which is shared too
    return TypeAdapter(_RESULT_TYPES[collector] | None)


def encode(collector: str, read: Read) -> bytes:
    """A read as compressed JSON, through the collector's result type (no pickle: the database is not trusted
    to run code). elbv2's ACM reading is not kept: it holds boto3's raw answers, and the acm collector's own
    read is shared beside it (without one, acm lists ACM again)."""
    result, coverage = read
    if isinstance(result, Elbv2Result):
        result = dataclasses.replace(result, acm=None)
    document = {
        "result": _adapter(collector).dump_python(result, mode="json"),
        "coverage": coverage.model_dump(mode="json"),
    }
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode())


def decode(collector: str, payload: bytes) -> Read:
    """What ``encode`` made; ValueError (pydantic's ValidationError is one) on anything else."""
    try:
        document = json.loads(zlib.decompress(payload))
        result, coverage = document["result"], document["coverage"]
    except (zlib.error, KeyError, TypeError) as exc:
        raise ValueError(f"not a kept read: {exc}") from exc
    return _adapter(collector).validate_python(result), Coverage.model_validate(coverage)


def store_key(key: Hashable) -> str:
    """A key as every replica spells it: sets sorted, then a SHA-256 of its JSON with the auditor's version and
    the inventory's schema version (replicas of two releases in a rolling update do not hand each other reads
    another release made)."""

    def plain(value: Any) -> Any:
        if isinstance(value, set | frozenset):
            return sorted(value, key=str)
        return str(value)

    spelled = json.dumps([__version__, SCHEMA_VERSION, key], default=plain, separators=(",", ":"))
    return hashlib.sha256(spelled.encode()).hexdigest()


class _Claims:
    """The store claims whose reads are under way in this process, renewed every ``RENEW_SECONDS`` by a thread
    that runs while there are any: a claim that is no longer renewed (its read ended, whether or not the store
    heard of it) dies after ``CLAIM_SECONDS``, and the runs waiting for it take it over."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        self._keeper: threading.Thread | None = None
        self.renew_failures = 0

    def add(self, key: str, holder: int) -> None:
        with self._lock:
            self._held[key] = holder
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._renew, name="shared-reads-claims", daemon=True)
                self._keeper.start()

    def remove(self, key: str) -> None:
        with self._lock:
            self._held.pop(key, None)

    def _renew(self) -> None:
        while True:
            time.sleep(RENEW_SECONDS)
            with self._lock:
                held = list(self._held.items())
                if not held:
                    self._keeper = None  # the next claim starts it again
                    return
            try:
                self.store.renew(held)
            except Exception:  # logged and counted; the next turn tries again, and the claims die if it never works
                self.renew_failures += 1
                log.warning("shared reads: %d claim(s) could not be renewed", len(held), exc_info=True)


@dataclass
class _Entry:
    done: threading.Event = field(default_factory=threading.Event)
    read: Read | None = None  # None while the first reader is at it, or when its read is not kept
    at: float = 0.0  # time.monotonic() of the read


class SharedInventory:
    """Regional reads kept for ``max_age`` seconds and handed out as deep copies (audits never share objects).

    ``max_age_of``: collectors kept for another time, whatever ``max_age`` (sharing off included): Cost Explorer's
    billed cost is daily data whose every request is billed, so the service reads it once per
    ``cost.billed_refresh_hours`` and account rather than at every scheduled run. ``store``: reads kept for
    other replicas too; used by the view ``for_run`` gives a run (the claim's holder)."""

    def __init__(
        self, max_age: float, max_age_of: Mapping[str, float] | None = None, store: ReadStore | None = None
    ) -> None:
        self.max_age = max_age
        self.max_age_of = dict(max_age_of or {})
        self.holder: int | None = None
        self._claims = _Claims(store) if store is not None else None
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()
        self._reused = [0]  # reads served from the cache, by this cache and its views (for logs and tests)

    @property
    def reused(self) -> int:
        return self._reused[0]

    @property
    def renew_failures(self) -> int:
        """Times renewing this process's store claims failed (logged each time; the metrics count them)."""
        return self._claims.renew_failures if self._claims is not None else 0

    def for_run(self, run_id: int) -> SharedInventory:
        """This cache as one run of the service uses it: the same reads, its claims held by ``run_id``."""
        view = copy.copy(self)  # shares the entries, their lock and the count
        view.holder = run_id
        return view

    def read(
        self, key: Hashable, collect: Callable[[], Read], collector: str | None = None, label: str = ""
    ) -> tuple[Read, bool]:
        """``collect()`` once per key and ``max_age`` (the collector's own in ``max_age_of``); later callers get a
        copy with ``calls`` 0. The second value says whether the read was shared (not made by this call).
        ``label``: what the key stands for, in logs and the store."""
        max_age = self.max_age_of.get(collector, self.max_age) if collector is not None else self.max_age
        if max_age <= 0:
            return collect(), False
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry.done.is_set():
                    if entry.read is not None and time.monotonic() - entry.at <= max_age:
                        self._reused[0] += 1
                        return _reused(entry.read), True
                    entry = None  # stale or not kept: read again
                if entry is None:
                    mine = self._entries[key] = _Entry()
                    break
            entry.done.wait()  # another audit is reading this key: take its result when it is done
        try:
            if self._claims is not None and self.holder is not None and collector in SHAREABLE:
                result, age = self._through_store(self._claims, self.holder, key, collect, collector, label, max_age)
            else:
                result, age = collect(), None
        except BaseException:  # RunCancelled too: a read cut short is kept for nobody, a waiting audit reads again
            with self._lock:
                self._entries.pop(key, None)
            mine.done.set()
            raise
        kept = _complete(result)
        with self._lock:  # a read taken from the store is as old here as it was there
            mine.read, mine.at = (copy.deepcopy(result), time.monotonic() - (age or 0.0)) if kept else (None, 0.0)
            self._reused[0] += age is not None
        mine.done.set()
        if age is None:
            return result, False
        return _uncounted(result), True  # decoded just now: nobody else holds these objects

    def _through_store(
        self,
        claims: _Claims,
        holder: int,
        key: Hashable,
        collect: Callable[[], Read],
        collector: str,
        label: str,
        max_age: float,
    ) -> tuple[Read, float | None]:
        """The read another replica keeps in the store with its age in seconds, or ``collect()`` under this run's
        claim (kept there when it is complete) and None; whatever the database does, the audit gets a read."""
        store, name = claims.store, store_key(key)
        while True:
            try:
                found = store.take_or_claim(name, label, max_age, holder)
            except Exception:
                log.warning("shared reads: the database failed for %s; reading it here", label, exc_info=True)
                return collect(), None
            if found == BUSY:
                time.sleep(POLL_SECONDS)  # another replica's run is reading it: wait for its read
                continue
            if found == ALONE:  # its last read failed just now: no point waiting for the next one
                return collect(), None
            if isinstance(found, Kept):
                try:
                    return decode(collector, found.payload), found.age
                except ValueError:  # the key names both versions: this is damage, not another release
                    log.warning("shared reads: the read of %s kept in the database is unreadable; read here", label)
                    return collect(), None
            break
        claims.add(name, holder)
        try:
            try:
                result = collect()
            except BaseException:  # RunCancelled too: given up, not failed; the waiting runs take the claim over
                _release(store, name, holder, label, failed=False)
                raise
            if not _complete(result):
                _release(store, name, holder, label, failed=True)
                return result, None
            try:
                store.put(name, holder, encode(collector, result), max_age)
            except Exception:
                log.warning("shared reads: %s could not be kept for the other replicas", label, exc_info=True)
                _release(store, name, holder, label, failed=False)
            return result, None
        finally:
            claims.remove(name)  # not renewed from now on: a claim the store did not hear the end of dies


def _complete(read: Read) -> bool:
    """Whether a read may serve other audits: an incomplete one (coverage ERROR or PARTIAL) is read again."""
    return read[1].status in (CoverageStatus.OK, CoverageStatus.SKIPPED)


def _release(store: ReadStore, name: str, holder: int, label: str, *, failed: bool) -> None:
    try:
        store.release(name, holder, failed=failed)
    except Exception:  # no longer renewed, the claim dies after CLAIM_SECONDS: the waiting runs take it over
        log.warning("shared reads: the claim on %s could not be given up", label, exc_info=True)


def _reused(read: Read) -> Read:
    return _uncounted(copy.deepcopy(read))


def _uncounted(read: Read) -> Read:
    """A read taken by an audit that did not make it: its calls and time are the reader's, counted there."""
    result, coverage = read
    return result, coverage.model_copy(update={"calls": 0, "duration_ms": 0})


__all__ = ["SHAREABLE", "SharedInventory", "decode", "encode", "shared_inventory", "store_key"]
