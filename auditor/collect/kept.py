"""What the fleet cache (``auditor.collect.aws.shared``) asks of a store that keeps reads for other replicas, and
what it answers; the service's is its database (``auditor.store.shared_reads``). A module of its own so the store
needs none of the collectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

BUSY: Literal["busy"] = "busy"  # ``ReadStore.take_or_claim``: a live run of another replica is reading it


@dataclass(frozen=True)
class Kept:
    """A read kept in a ``ReadStore``: its payload (``auditor.collect.aws.shared.encode``), kept ``age`` seconds ago."""

    payload: bytes
    age: float


class ReadStore(Protocol):
    """Reads kept where every replica sees them, claimed by the run that makes them (``holder``)."""

    def take_or_claim(self, key: str, label: str, max_age: float, holder: int) -> Kept | bool | Literal["busy"]:
        """A read of ``key`` kept within ``max_age`` seconds, else True when ``holder`` now holds the claim to read
        it, or BUSY while another live run holds it. Raises on a database error."""
        ...

    def put(self, key: str, holder: int, payload: bytes, max_age: float) -> None:
        """Keep ``holder``'s read for ``max_age`` seconds (ignored when its claim was taken over meanwhile)."""
        ...

    def release(self, key: str, holder: int) -> None:
        """Give up ``holder``'s claim without a read (it failed): the next run reads."""
        ...


__all__ = ["BUSY", "Kept", "ReadStore"]
