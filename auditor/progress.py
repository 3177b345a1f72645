"""Progress events for long work (collection, install): emitted by the pipeline, shown by the CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress. ``stage`` is e.g. "aws:elbv2", "kubernetes", "correlate", "install:role"."""

    stage: str
    message: str
    done: int | None = None
    total: int | None = None
    status: str = "running"  # running | ok | partial | error | skipped


ProgressFn = Callable[[ProgressEvent], None]


def no_progress(_: ProgressEvent) -> None:
    """The default sink: progress goes nowhere."""
