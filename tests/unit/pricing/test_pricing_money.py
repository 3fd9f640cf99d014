"""Money: exact Decimal amounts, one currency each, rounded in one place by a named mode."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from cpq.pricing.errors import CurrencyMismatch, UnknownCurrency
from cpq.pricing.money import (
    Money,
    carry,
    format_amount,
    minor_units,
    parse_amount,
    round_amount,
    to_decimal,
)


@pytest.mark.parametrize(("currency", "places"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3)])
def test_minor_units_follow_iso_4217(currency, places):
    assert minor_units(currency) == places


def test_an_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency):
        minor_units("XYZ")


@pytest.mark.parametrize(("amount", "currency", "mode", "expected"), [
    ("2.345", "USD", "half_up", "2.35"),
    ("2.345", "USD", "half_even", "2.34"),
    ("2.355", "USD", "half_even", "2.36"),
    ("-2.345", "USD", "half_up", "-2.35"),
    ("1048.5", "JPY", "half_up", "1049"),
    ("1048.5", "JPY", "half_even", "1048"),
    ("11.1105", "KWD", "half_up", "11.111"),
    ("11.1105", "KWD", "half_even", "11.110"),
])
def test_round_amount_rounds_to_the_minor_unit_by_the_named_mode(amount, currency, mode, expected):
    assert str(round_amount(Decimal(amount), currency, mode)) == expected


def test_round_amount_refuses_a_float():
    with pytest.raises(TypeError):
        round_amount(2.345, "USD")


def test_adding_two_currencies_raises():
    with pytest.raises(CurrencyMismatch):
        Money(Decimal("1.00"), "USD") + Money(Decimal("1.00"), "EUR")


def test_comparing_two_currencies_raises():
    with pytest.raises(CurrencyMismatch):
        _ = Money(Decimal("1.00"), "USD") < Money(Decimal("2.00"), "EUR")


def test_money_in_one_currency_adds_exactly():
    total = Money(Decimal("0.10"), "USD") + Money(Decimal("0.20"), "USD")
    assert total == Money(Decimal("0.30"), "USD")
    assert total.as_json() == {"amount": "0.30", "currency": "USD"}


@pytest.mark.parametrize("bad", [1.5, True])
def test_money_cannot_be_multiplied_by_a_float_or_a_bool(bad):
    with pytest.raises(TypeError):
        Money(Decimal("1.00"), "USD") * bad


def test_money_refuses_a_float_amount():
    with pytest.raises(TypeError):
        Money(1.5, "USD")


@pytest.mark.parametrize("bad", [1.5, True, "1.2.3", "NaN", None])
def test_parse_amount_refuses_floats_and_non_amounts(bad):
    with pytest.raises((TypeError, ValueError)):
        parse_amount(bad)


@pytest.mark.parametrize(("amount", "currency", "text"), [
    ("4156.4160", "USD", "4156.416"), ("0E-7", "USD", "0.00"), ("1E+3", "USD", "1000.00"),
    ("12345", "JPY", "12345"), ("30", "KWD", "30.000"), ("2.5", "EUR", "2.50"),
])
def test_amounts_are_written_as_plain_text_with_at_least_the_minor_unit(amount, currency, text):
    assert format_amount(Decimal(amount), currency) == text


def test_a_fraction_with_a_decimal_expansion_converts_exactly():
    assert to_decimal(Fraction(1, 8)) == Decimal("0.125")


def test_a_fraction_without_one_is_carried_at_twelve_places():
    assert to_decimal(Fraction(1, 3)) == Decimal("0.333333333333")
    assert to_decimal(Fraction(2, 3), "half_up") == Decimal("0.666666666667")


def test_carry_keeps_twelve_places():
    assert carry(Decimal("1.0000000000004")) == Decimal("1.000000000000")
