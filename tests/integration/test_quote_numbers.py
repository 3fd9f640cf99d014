"""Quote numbers are human-readable, sequential per year, and unique under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from cpq import store
from cpq.store.numbers import next_quote_number


@pytest.fixture
def engine(database_url):
    store.upgrade(database_url)
    engine = store.make_engine(database_url)
    yield engine
    engine.dispose()


def take(engine, year=2026):
    with engine.begin() as conn:
        return next_quote_number(conn, year)


def test_numbers_are_sequential_per_year(engine):
    assert [take(engine), take(engine), take(engine, 2027), take(engine)] == [
        "Q-2026-000001", "Q-2026-000002", "Q-2027-000001", "Q-2026-000003"]


def test_a_rolled_back_number_is_not_given_twice(engine):
    with pytest.raises(RuntimeError), engine.begin() as conn:
        next_quote_number(conn, 2026)
        raise RuntimeError("quote creation failed")
    assert take(engine) == "Q-2026-000001"  # the failed transaction never held it
    assert take(engine) == "Q-2026-000002"


@pytest.mark.postgres
def test_200_concurrent_creations_get_200_distinct_numbers(clean_postgres_url):
    store.upgrade(clean_postgres_url)
    engine = store.make_engine(clean_postgres_url, pool_size=20, max_overflow=0)
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            numbers = list(pool.map(lambda _: take(engine, 2031), range(200)))
    finally:
        engine.dispose()
    assert len(set(numbers)) == 200
    assert sorted(numbers) == [f"Q-2031-{i:06d}" for i in range(1, 201)]
