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


# Bytes of rule files from which a load is "large" (a big pricebook, a linux-sized model): its
# objects are frozen instead of collected (see `settle`).
LARGE_INPUT = 1 << 20


def before_large_load() -> None:
    """Collect once before a large load, so that what `settle` freezes after it is the load's own."""
    gc.collect()


def settle(large: bool) -> None:
    """Place what a paused load allocated among the long-lived objects. Call it still paused.

    A large Ruleset's ~550,000 objects are allocated with the collector paused, so they all sit in
    its youngest generation; left there, the next collections would each walk all of them inside
    whatever allocates next (the pricing compile took 7.5 s of CPU instead of 0.5 s). A full
    collection places them (0.8 s of CPU for the 20,000-rule bench catalog), but every later full
    collection of the process walks them again: 0.6–0.9 s inside some quote every few dozen
    quotes. After a large load they are frozen instead (`gc.freeze`, no walk now or later): a
    Ruleset holds no reference cycles (dropping one frees all of it by reference counting; a
    collection afterwards finds nothing), so a frozen Ruleset that is dropped is still freed, and
    the collection in `before_large_load` leaves no older garbage cycles to be frozen with it.
    After a small load, a collection of the two young generations places what it allocated without
    walking the whole process (a full collection per load made a long test run pay ~1 s per load).

    While still paused: once the collector is on again, its first automatic young collection resets
    the count and moves the load's objects on, and a young collection was all that a large load got
    (since fd585ae: the full walk then landed in the pricing compile, 0.5 → 2.0 s of CPU).
    """
    if large:
        gc.freeze()
    else:
        gc.collect(1)
