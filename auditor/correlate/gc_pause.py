"""Keep Python's cyclic garbage collector out of the pure engine's way while it builds the graph, findings and views.

Why: those phases allocate hundreds of thousands of objects that all stay alive (the graph, the findings).
Left alone, CPython runs young collections over them again and again and, every few hundred thousand
surviving allocations, a *full* collection that walks every tracked object in the process — the whole
Inventory included, about 650,000 objects for 10,000 load balancers, 0.7-1 s each time; three or four of
them ran during one audit of that size without a single cycle to free.

So the collector is paused for the block (short-lived temporaries are still freed at once by reference
counting), and on the way out what the block made is handed to the oldest generation as it is
(``gc.freeze()`` + ``gc.unfreeze()`` move objects between generations without examining them) instead of
one young collection over all of it. Those objects are examined at the next full collection, like any
long-lived data. The cost of that shortcut: a reference cycle that became garbage inside the block, or
was young garbage from before it, is freed at that next full collection rather than at a young one
(memory held a little longer, nothing leaked). When something else in the
process already froze objects (``gc.get_freeze_count()``), unfreezing would release them as well, so the
block then only pauses and lets the collector examine its objects normally. Nesting is fine: an inner
block leaves the collector as the outer one set it.
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
        if gc.get_freeze_count() == 0:
            gc.freeze()  # everything tracked moves to the permanent generation, unexamined ...
            gc.unfreeze()  # ... and from there to the oldest generation, still unexamined
        gc.enable()
