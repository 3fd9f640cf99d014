"""The cache's option columns (domains._FitIndex): the solutions they select are exactly those
that fit the choices, through appends, trims and a replaced cache."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cpq.configurator import domains
from cpq.configurator.domains import _FitIndex
from cpq.configurator.model import Solution

N = 8  # options

_chosen = st.integers(0, (1 << N) - 1)
_choices = st.tuples(_chosen, _chosen).map(lambda pn: (pn[0], pn[1] & ~pn[0]))  # (chosen, excluded) masks
_event = st.one_of(st.tuples(st.just("add"), st.lists(_chosen, max_size=6)),
                   st.tuples(st.just("trim"), st.integers(1, 5)),
                   st.tuples(st.just("replace"), st.lists(_chosen, max_size=12)),
                   st.tuples(st.just("ask"), _choices))


@settings(max_examples=300, deadline=None)
@given(start=st.lists(_chosen, max_size=20), events=st.lists(_event, max_size=25),
       above=st.sampled_from((1, 4, 1 << 20)), most=st.sampled_from((1, 3, 1024)))
def test_the_columns_select_exactly_the_fitting_solutions(start, events, above, most):
    saved = domains.COLUMN_ABOVE, domains.MAX_COLUMNS
    domains.COLUMN_ABOVE, domains.MAX_COLUMNS = above, most  # columns never / sometimes / always built; few kept
    try:
        index = _FitIndex()
        cache = [Solution(c, 0, ()) for c in start]
        for kind, arg in events + [("ask", (1, 0)), ("ask", (3, 4))]:
            if kind == "add":
                cache.extend(Solution(c, 0, ()) for c in arg)
            elif kind == "trim":
                del cache[:arg]
            elif kind == "replace":
                cache = [Solution(c, 0, ()) for c in arg]
            else:
                pos, neg = arg
                if not pos | neg:
                    continue
                expected = [s for s in cache if s.chosen & pos == pos and not s.chosen & neg]
                assert index.fitting(cache, pos, neg) == expected
    finally:
        domains.COLUMN_ABOVE, domains.MAX_COLUMNS = saved


def test_a_trimmed_cache_is_indexed_afresh_even_once_it_has_grown_back():
    cache = [Solution(c, 0, ()) for c in (0b01, 0b11, 0b10, 0b00)]
    index = _FitIndex()
    assert index.fitting(cache, 0b01, 0) == cache[:2]  # builds the column of option 0
    del cache[:2]  # as CompiledProduct.remember trims it
    cache += [Solution(0b01, 0, ()), Solution(0b11, 0, ()), Solution(0b00, 0, ())]
    assert index.fitting(cache, 0b01, 0) == [cache[2], cache[3]]
    assert index.fitting(cache, 0, 0b01) == [cache[0], cache[1], cache[4]]
