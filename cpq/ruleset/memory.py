"""Pausing Python's cyclic garbage collector around work that allocates much and frees little."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (reference counting still frees memory).

    A loaded Ruleset holds millions of long-lived objects; each collection the collector starts while
    a large pricebook loads or a large quote is priced walks them again. The collector is turned
    back on afterwards (if it was on), and then frees whatever cycles the block left.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


# Allocations in a paused block above which the load is "large" (a big pricebook, a linux-sized model)
LARGE_BLOCK = 500_000


def settle() -> None:
    """One collection, now: place what a paused block allocated among the old objects.

    A large Ruleset's ~1.7 million objects are allocated with the collector paused, so they all sit in
    its youngest generation; left there, the next three collections (young, middle, full) would each
    walk all of them inside whatever allocates next — compiling the pricing program took 7.5 s of CPU
    instead of 0.5 s. After such a load one full collection costs one such walk (~1.3 s of CPU on the
    shared bench machine), after which young collections no longer see them. After a small load a
    collection of the two young generations does the same for what it allocated without walking the
    whole process (a full collection per load made a long test run, with a large heap, pay ~1 s per
    load). (`gc.freeze` would spare even that, but a dropped Ruleset holds reference cycles that
    frozen objects never free.)

    Call it while the collector is still paused: once it is on again, the first allocation starts an
    automatic young collection (the count is far past its threshold) that resets the count, so a
    large load read as a small one, got only the young collection, and the full walk came later,
    inside the pricing compile (0.5 → 2.0 s of CPU for the 20,000-rule bench catalog).
    """
    gc.collect(2 if gc.get_count()[0] > LARGE_BLOCK else 1)
