"""Tier maths: Stripe's published examples, block overage, flat fees and quote-wide shares."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpq.catalog import Source
from cpq.pricing.books import Band, Tiers
from cpq.pricing.tiers import QuantityBeyondTiers, tier_amount, tier_share

HERE = Source("test", 1, 1)


def table(mode, *bands, overage=None, per=1):
    return Tiers(mode, "line", tuple(Band(a, b, None if u is None else Decimal(u), None if f is None else Decimal(f), HERE)
                                     for a, b, u, f in bands),
                 None if overage is None else Decimal(overage), per)


STRIPE = (((1, 5, "7.00", None), (6, 10, "6.50", None)))


def test_stripe_volume_example_prices_10_units_at_65():
    assert tier_amount(table("volume", *STRIPE), 10) == Decimal("65.00")


def test_stripe_graduated_example_prices_10_units_at_67_50():
    assert tier_amount(table("graduated", *STRIPE), 10) == Decimal("67.50")


def test_block_tiers_charge_the_band_reached_plus_overage_per_started_block():
    install = table("block", (1, 4, None, "1600.00"), (5, 10, None, "3000.00"), overage="280.00", per=2)
    assert tier_amount(install, 3) == Decimal("1600.00")
    assert tier_amount(install, 10) == Decimal("3000.00")
    assert tier_amount(install, 13) == Decimal("3000.00") + 2 * Decimal("280.00")


def test_volume_flat_fee_is_added_once_for_the_band_reached():
    fees = table("volume", (1, 5, "10.00", "5.00"), (6, None, "8.00", "2.00"))
    assert tier_amount(fees, 8) == Decimal("66.00")


def test_graduated_flat_fee_is_added_for_every_band_touched():
    fees = table("graduated", (1, 5, "10.00", "5.00"), (6, None, "8.00", "2.00"))
    assert tier_amount(fees, 8) == Decimal("81.00")


def test_a_quantity_past_a_closed_table_has_no_price():
    with pytest.raises(QuantityBeyondTiers):
        tier_amount(table("volume", *STRIPE), 11)


def test_graduated_shares_of_a_quote_wide_quantity_add_up_to_the_aggregate_price():
    t = table("graduated", (1, 5, "10.00", "5.00"), (6, None, "8.00", "2.00"))
    first, second = tier_share(t, 0, 4, 8).amount, tier_share(t, 4, 4, 8).amount
    assert (first, second) == (Decimal("45.00"), Decimal("36.00"))
    assert first + second == tier_amount(t, 8)


def test_volume_share_uses_the_band_of_the_aggregate_quantity():
    assert tier_share(table("volume", *STRIPE), 4, 4, 8).amount == Decimal("26.00")


OPEN = table("graduated", (1, 5, "7.00", None), (6, 20, "6.50", None), (21, None, "5.25", None))


@given(st.integers(1, 500), st.integers(1, 500))
def test_graduated_total_is_monotone_in_quantity(a, b):
    low, high = sorted((a, b))
    assert tier_amount(OPEN, low) <= tier_amount(OPEN, high)


@given(st.integers(1, 5))
def test_volume_and_graduated_agree_inside_the_first_tier(q):
    volume = table("volume", (1, 5, "7.00", None), (6, None, "6.50", None))
    graduated = table("graduated", (1, 5, "7.00", None), (6, None, "6.50", None))
    assert tier_amount(volume, q) == tier_amount(graduated, q)


@given(st.lists(st.integers(1, 40), min_size=1, max_size=6))
def test_graduated_shares_always_add_up_to_the_aggregate(quantities):
    total, start, parts = sum(quantities), 0, Decimal(0)
    for q in quantities:
        parts += tier_share(OPEN, start, q, total).amount
        start += q
    assert parts == tier_amount(OPEN, total)
