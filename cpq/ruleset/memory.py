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
