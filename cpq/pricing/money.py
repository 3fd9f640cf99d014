"""Money: a Decimal amount in one ISO 4217 currency, and the one place where amounts are rounded.

Amounts stay exact `Decimal` (or `Fraction` inside formulas) while a quote is priced; the only
rounding to the currency's minor unit happens in `round_amount`, by the pricebook's policy
(`half_up` by default, `half_even` on request; per `line` or per `total`). Floats are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation
from fractions import Fraction

from cpq.pricing.currency import MINOR_UNITS
from cpq.pricing.errors import CurrencyMismatch, UnknownCurrency

ROUNDING = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}
# Digits kept for amounts that are not exact decimals (a formula dividing by 3): far below any
# minor unit, so the single rounding step still decides every cent.
CARRY_PLACES = 12
# Arithmetic on amounts is exact: 60 significant digits, and an inexact result is a bug, not a
# silent rounding (see `exact_context`).
EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[Inexact, InvalidOperation])
_QUANTIZE = Context(prec=60, traps=[InvalidOperation])


def minor_units(currency: str) -> int:
    """Decimal places of the currency's minor unit (JPY 0, USD 2, KWD 3)."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown ISO 4217 currency {currency!r}", currency=currency) from None


_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(0, 16)}


def round_amount(amount: Decimal, currency: str, mode: str = "half_up") -> Decimal:
    """Round an exact amount to the currency's minor unit by the named mode (the one rounding step)."""
    return rounder(currency, mode)(amount)


def rounder(currency: str, mode: str = "half_up") -> Callable[[Decimal], Decimal]:
    """`round_amount` for one currency and mode, looked up once (a large quote rounds thousands of amounts)."""
    quantum, rounding = _QUANTA[minor_units(currency)], ROUNDING[mode]

    def round_one(amount: Decimal) -> Decimal:
        if not isinstance(amount, Decimal):
            raise TypeError(f"amounts are Decimal, not {type(amount).__name__}")
        return amount.quantize(quantum, rounding, _QUANTIZE)  # positional: a keyword call costs 3× as much

    return round_one


def to_decimal(value: Fraction | Decimal | int, mode: str = "half_even") -> Decimal:
    """An exact Decimal for a Fraction whose denominator divides a power of ten; else CARRY_PLACES digits.

    Used for formula results only: 1/3 of an amount cannot be written as a decimal, so it is carried
    at 12 places and the minor-unit rounding later decides the cent.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        raise TypeError("a float never becomes an amount")
    num, den = value.numerator, value.denominator
    d, twos, fives = den, 0, 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d == 1:
        places = max(twos, fives)
        return Decimal(num * (10 ** places // den)).scaleb(-places)
    scaled = Fraction(num * 10 ** CARRY_PLACES, den)
    return Decimal(_round_fraction(scaled, mode)).scaleb(-CARRY_PLACES)


def _round_fraction(value: Fraction, mode: str) -> int:
    """The integer nearest to `value`, ties by the named mode (exact, no float)."""
    floor = value.numerator // value.denominator
    rest = value - floor  # in [0, 1)
    half = Fraction(1, 2)
    if rest != half:
        return floor + 1 if rest > half else floor
    if mode == "half_up":  # ties away from zero, as Decimal's ROUND_HALF_UP
        return floor + 1 if value > 0 else floor
    return floor if floor % 2 == 0 else floor + 1


_CARRY = Decimal(1).scaleb(-CARRY_PLACES)
# carry() spelled out, for the engine's innermost loop: amount.quantize(CARRY_QUANTUM, ROUND_HALF_EVEN, QUANTIZE)
CARRY_QUANTUM = _CARRY
QUANTIZE = _QUANTIZE


def carry(amount: Decimal) -> Decimal:
    """An intermediate amount kept to CARRY_PLACES decimals, so a long chain of percentages
    cannot grow its digits without bound; 12 places are far below any minor unit."""
    return amount.quantize(_CARRY, ROUND_HALF_EVEN, _QUANTIZE)


def parse_amount(value) -> Decimal:
    """An amount from JSON/YAML text or an integer; floats are refused (they are already inexact)."""
    if isinstance(value, bool | float):
        raise TypeError("amounts are written as strings such as \"12.50\", never as floats")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount") from None
    else:
        raise TypeError(f"{value!r} is not an amount")
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    return amount


def format_amount(amount: Decimal, currency: str | None = None) -> str:
    """The text form of an amount: plain digits, at least the currency's minor unit, no trailing zeros
    beyond it ("4156.4160" → "4156.416", "0E-7" → "0.00"). Exact: digits are only added or dropped
    when they are zeros."""
    places = minor_units(currency) if currency else 2
    quantum = _QUANTA[places]
    if amount.as_tuple().exponent < -places:
        amount = amount.normalize(_QUANTIZE)
    if amount.as_tuple().exponent > -places:
        amount = amount.quantize(quantum, context=_QUANTIZE)
    return format(amount, "f")


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency; adding or comparing two currencies raises CurrencyMismatch."""

    amount: Decimal
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money needs a Decimal amount, not {type(self.amount).__name__}")
        minor_units(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}",
                                   currencies=[self.currency, other.currency])

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(EXACT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(EXACT.subtract(self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, Money | float | bool):
            raise TypeError(f"Money can be multiplied by a Decimal or an int, not {type(factor).__name__}")
        return Money(EXACT.multiply(self.amount, Decimal(factor)), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def rounded(self, mode: str = "half_up") -> Money:
        return Money(round_amount(self.amount, self.currency, mode), self.currency)

    def __str__(self) -> str:
        return f"{format_amount(self.amount, self.currency)} {self.currency}"

    def as_json(self) -> dict:
        return {"amount": format_amount(self.amount, self.currency), "currency": self.currency}
