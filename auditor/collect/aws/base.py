"""What every AWS collector shares: its context, error translation, paging, chunking and bounded fan-out."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from auditor.collect.aws.session import AwsAccountSession, translate_client_error
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet, ListenerRulesNeed, facets_of
from auditor.inventory.models import CoverageStatus, FacetCoverage, Listener, LoadBalancer

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# Why a facet was not read under a rule selection (its coverage message).
NOT_NEEDED = "not read: no selected rule needs it"

# How many per-resource problems a coverage message spells out before it only counts them.
_MESSAGE_PROBLEMS = 3


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive slices of at most ``size`` items (batch APIs: 20 ARNs per DescribeTags...)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _service(client: Any) -> str:
    return str(client.meta.service_model.service_name)


def _failure(client: Any, operation: str, exc: ClientError | BotoCoreError) -> CollectionError:
    service = _service(client)
    if isinstance(exc, ClientError):
        return translate_client_error(exc, service, operation)
    # No answer at all (connection refused, timeout, bad credentials chain): the class names the cause.
    return CollectionError(
        f"{service}:{operation} failed: {type(exc).__name__}: {exc}",
        service=service,
        operation=operation,
        code=type(exc).__name__,
    )


def call(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """One API call by its API name (``DescribeListeners``); failures become CollectionError."""
    try:
        return cast(dict[str, Any], getattr(client, xform_name(operation))(**params))
    except (ClientError, BotoCoreError) as exc:
        raise _failure(client, operation, exc) from exc


def pages(client: Any, operation: str, *, page_size: int | None = None, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a paginated call (botocore paginator); failures become CollectionError."""
    paginator = client.get_paginator(xform_name(operation))
    config = {"PageSize": page_size} if page_size is not None else {}
    try:
        yield from paginator.paginate(**params, PaginationConfig=config)
    except (ClientError, BotoCoreError) as exc:
        raise _failure(client, operation, exc) from exc


class FanOut:
    """Runs per-resource calls on the shared pool without ever blocking on queued work.

    The calling thread (itself a pool worker) takes items too and waits only for items another
    thread has already started, so a full pool cannot deadlock, and the number of threads making
    AWS calls never exceeds the pool's ``max_workers``.
    """

    def __init__(self, pool: ThreadPoolExecutor | None, width: int) -> None:
        self._pool = pool
        self._width = max(1, width)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        todo = list(items)
        results: list[R | None] = [None] * len(todo)
        errors: list[BaseException] = []
        cond = threading.Condition()
        state = {"next": 0, "finished": 0}

        def work() -> None:
            while True:
                with cond:
                    if errors or state["next"] >= len(todo):
                        return
                    index = state["next"]
                    state["next"] += 1
                try:
                    results[index] = fn(todo[index])
                except BaseException as exc:  # re-raised in the calling thread below
                    with cond:
                        errors.append(exc)
                finally:
                    with cond:
                        state["finished"] += 1
                        cond.notify_all()

        helpers = min(self._width, len(todo)) - 1
        if self._pool is not None:
            for _ in range(max(0, helpers)):
                # each helper in a copy of this thread's context: calls stay counted for the collector run (CALLER)
                try:
                    self._pool.submit(contextvars.copy_context().run, work)
                except RuntimeError:  # the pool is shut down (the audit is ending): this thread does the work alone
                    break
        work()
        with cond:
            cond.wait_for(lambda: state["finished"] == state["next"])
        if errors:
            raise errors[0]
        return cast(list[R], results)


def actions_of(facet_actions: dict[Facet, tuple[str, ...]]) -> tuple[str, ...]:
    """A collector's IAM actions: those of its facets, each once, in declaration order."""
    return tuple(dict.fromkeys(action for actions in facet_actions.values() for action in actions))


@dataclass
class CollectorContext:
    """One collector's run in one account and region: its clients, fan-out and per-resource problems."""

    name: str
    session: AwsAccountSession
    region: str  # region of the clients; global services (IAM) use the target's first region
    fan_out: FanOut = field(default_factory=lambda: FanOut(None, 1))
    problems: list[str] = field(default_factory=list)
    facet_problems: dict[Facet, list[CollectionError]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None  # why the collector's main part was not asked for (coverage SKIPPED)
    skipped_facets: tuple[Facet, ...] = ()
    wanted: frozenset[Facet] | None = None  # facets the selected rules need (None: all); the others are not read
    listener_rules: ListenerRulesNeed | None = None  # the listeners whose rules they read (None: all)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def account(self) -> str:
        return self.session.account_id

    def client(self, service: str) -> Any:
        return self.session.client(service, self.region)

    def arn(self, service: str, resource: str) -> str:
        return self.session.arn(service, self.region, resource)

    def problem(self, what: str, exc: CollectionError, *, facet: Facet) -> None:
        """A per-resource call failed: its field stays None, the facet and the coverage become PARTIAL."""
        log.warning("%s %s/%s: %s: %s", self.name, self.account, self.region, what, exc)
        with self._lock:
            self.problems.append(f"{what}: {exc.code or 'error'}")
            self.facet_problems.setdefault(facet, []).append(exc)

    def wants(self, facet: Facet) -> bool:
        """Whether some selected rule (or correlation) needs this facet: one nobody needs is not read."""
        return self.wanted is None or facet in self.wanted

    def wants_rules_of(self, lb: LoadBalancer, listener: Listener, has_target_groups: bool | None) -> bool:
        """Whether some selected rule reads this listener's rules (``RuleMeta.listener_rules_of``)."""
        if not self.wants(Facet.ELBV2_LISTENER_RULES):
            return False
        return self.listener_rules is None or self.listener_rules(lb, listener, has_target_groups)

    def skip(self, reason: str, *facets: Facet) -> None:
        """The collector's main part (these facets) was not asked for: coverage SKIPPED, the rest still read."""
        self.skipped = reason
        self.skipped_facets = facets

    def facet_coverage(self, status: CoverageStatus) -> dict[str, FacetCoverage]:
        """The facets whose status differs from the collector's ``status`` (see ``Coverage.facets``)."""
        found: dict[str, FacetCoverage] = {}
        with self._lock:
            for facet in facets_of(self.name):
                errors = self.facet_problems.get(facet)
                if errors:
                    codes = sorted({e.code or "error" for e in errors})
                    found[facet] = FacetCoverage(
                        status=CoverageStatus.PARTIAL,
                        error_code=",".join(codes),
                        message=f"{len(errors)} call(s) failed, e.g. {errors[0]}",
                    )
                elif facet in self.skipped_facets:
                    found[facet] = FacetCoverage(status=CoverageStatus.SKIPPED, message=self.skipped)
                elif not self.wants(facet):
                    found[facet] = FacetCoverage(status=CoverageStatus.SKIPPED, message=NOT_NEEDED)
                elif status != CoverageStatus.OK:
                    found[facet] = FacetCoverage(status=CoverageStatus.OK)
        return found

    def count(self, what: str, n: int) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def problem_summary(self) -> str | None:
        with self._lock:
            if not self.problems:
                return None
            shown = "; ".join(self.problems[:_MESSAGE_PROBLEMS])
            more = len(self.problems) - _MESSAGE_PROBLEMS
            return f"{len(self.problems)} per-resource call(s) failed: {shown}" + (
                f" (+{more} more)" if more > 0 else ""
            )


TAGS_PER_CALL = 20  # elbv2 and classic DescribeTags take at most 20 ARNs / names per call


def describe_tags(
    ctx: CollectorContext, client: Any, ids: list[str], *, param: str, key: str, what: str, facet: Facet
) -> dict[str, dict[str, str]]:
    """id -> tags through DescribeTags, 20 ids per call (elbv2: ResourceArns/ResourceArn, classic:
    LoadBalancerNames/LoadBalancerName), the calls on the fan-out; ids of a failed chunk are absent, so their
    tags stay None."""

    def read(chunk: list[str]) -> list[dict[str, Any]]:
        try:
            return list(call(client, "DescribeTags", **{param: chunk}).get("TagDescriptions", []))
        except CollectionError as exc:
            ctx.problem(f"DescribeTags of {len(chunk)} {what}", exc, facet=facet)
            return []

    found: dict[str, dict[str, str]] = {}
    for answer in ctx.fan_out.map(read, chunked(ids, TAGS_PER_CALL)):
        for desc in answer:
            found[desc[key]] = {t["Key"]: t.get("Value", "") for t in desc.get("Tags", [])}
    return found
