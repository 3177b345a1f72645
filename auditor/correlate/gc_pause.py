"""Pause Python's cyclic garbage collector while the pure engine builds the graph, findings and views.

Why: those phases allocate hundreds of thousands of objects that all stay alive (the graph, the findings),
and every few hundred thousand surviving allocations CPython runs a *full* collection that walks every
tracked object in the process — the whole Inventory included, about 650,000 objects for 10,000 load
balancers, 0.7-1 s each time. Three or four of them ran during one audit of that size without a single
cycle to free. Short-lived temporaries are still freed at once by reference counting; the one full
collection that follows later (when the collector is back on) is the only one paid. Nesting is fine:
an inner pause leaves the collector as the outer one set it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (if it was on) and turn it back on afterwards."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
