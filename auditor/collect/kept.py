"""What the fleet cache (``auditor.collect.aws.shared``) asks of a store that keeps reads for other replicas, and
what it answers; the service's is its database (``auditor.store.shared_reads``). A module of its own so the store
needs none of the collectors."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, Protocol

BUSY: Literal["busy"] = "busy"  # ``ReadStore.take_or_claim``: a live reader of another run is at it: wait
ALONE: Literal["alone"] = "alone"  # the last read failed moments ago: read it yourself, without a claim
# A claim lives while its reader renews it (every RENEW_SECONDS, ``SharedInventory``'s keeper thread) and its run
# is running: one not renewed for CLAIM_SECONDS is dead — its process died, or it lost the database between
# reading and keeping — and the next run takes it over. The margin also covers clocks of replicas that disagree.
CLAIM_SECONDS = 60.0
RENEW_SECONDS = 10.0


@dataclass(frozen=True)
class Kept:
    """A read kept in a ``ReadStore``: its payload (``auditor.collect.aws.shared.encode``), kept ``age`` seconds ago."""

    payload: bytes
    age: float


class ReadStore(Protocol):
    """Reads kept where every replica sees them, claimed by the run that makes them (``holder``)."""

    def take_or_claim(self, key: str, label: str, max_age: float, holder: int) -> Kept | Literal[True, "busy", "alone"]:
        """A read of ``key`` kept within ``max_age`` seconds; else True when ``holder`` now holds the claim to read
        it, BUSY while another live reader holds it, ALONE when the last read failed within CLAIM_SECONDS (each
        run then reads for itself, at once). Raises on a database error."""
        ...

    def put(self, key: str, holder: int, payload: bytes, max_age: float) -> None:
        """Keep ``holder``'s read for ``max_age`` seconds (ignored when its claim was taken over meanwhile)."""
        ...

    def release(self, key: str, holder: int, *, failed: bool) -> None:
        """Give up ``holder``'s claim without a read; ``failed``: its read was incomplete (coverage ERROR or
        PARTIAL), so the runs waiting for it read for themselves rather than claim it one after the other."""
        ...

    def renew(self, claims: Collection[tuple[str, int]]) -> None:
        """Keep alive these (key, holder) claims, whose reads are under way."""
        ...


__all__ = ["ALONE", "BUSY", "CLAIM_SECONDS", "RENEW_SECONDS", "Kept", "ReadStore"]
