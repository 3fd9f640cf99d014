"""Tier maths: volume, graduated and block prices, with flat fees, overage and quote-wide scopes.

- volume: every unit at the price of the band the quantity reaches (+ that band's flat fee);
- graduated: each unit at the price of the band it falls in (+ the flat fee of every band touched);
- block: the flat price of the band reached (+ `unit` × quantity if the band also has a unit
  price); past the last band, `overage.unit` per started `overage.per` units.

Quantities aggregated over the quote (scope `product` or `category`) are shared out by position:
a line holding units start+1 … start+q of the aggregate pays amount(start+q) − amount(start) for
graduated and block tiers, so the lines add up exactly to the aggregate's price. Volume tiers price
every unit at the band the aggregate reaches; the band's flat fee is paid once, by the first line.
All arithmetic is exact Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cpq.pricing.books import Band, Tiers

ZERO = Decimal(0)


class QuantityBeyondTiers(Exception):
    """The quantity is past the last band and the table has no open band or overage."""

    def __init__(self, quantity: int, last: int):
        super().__init__(f"quantity {quantity} is beyond the last tier band (which ends at {last})")
        self.quantity, self.last = quantity, last


@dataclass(frozen=True, slots=True)
class TierResult:
    """An amount from a tier table and a short explanation for the waterfall."""

    amount: Decimal
    note: str


def band_for(tiers: Tiers, quantity: int) -> Band | None:
    """The band holding `quantity`, or None past a closed last band."""
    for band in tiers.bands:
        if band.first <= quantity and (band.last is None or quantity <= band.last):
            return band
    if quantity < tiers.bands[0].first:
        return tiers.bands[0]
    return None


def _band_text(band: Band) -> str:
    return f"{band.first}+" if band.last is None else f"{band.first}–{band.last}"


def graduated_amount(tiers: Tiers, quantity: int) -> Decimal:
    total = ZERO
    for band in tiers.bands:
        lo = max(band.first, 1)
        hi = quantity if band.last is None else min(quantity, band.last)
        units = hi - lo + 1
        if units <= 0:
            continue
        total += (band.unit or ZERO) * units + (band.flat or ZERO)
    last = tiers.bands[-1].last
    if last is not None and quantity > last:
        raise QuantityBeyondTiers(quantity, last)
    return total


def block_amount(tiers: Tiers, quantity: int) -> Decimal:
    if quantity <= 0:
        return ZERO
    band = band_for(tiers, quantity)
    if band is not None:
        return (band.flat or ZERO) + (band.unit or ZERO) * quantity
    last = tiers.bands[-1]
    if tiers.overage_unit is None:
        raise QuantityBeyondTiers(quantity, last.last)
    extra = quantity - last.last
    blocks = -(-extra // tiers.overage_per)  # started blocks of `per` units
    return (last.flat or ZERO) + (last.unit or ZERO) * last.last + tiers.overage_unit * blocks


def volume_band(tiers: Tiers, quantity: int) -> Band:
    band = band_for(tiers, quantity)
    if band is None:
        raise QuantityBeyondTiers(quantity, tiers.bands[-1].last)
    return band


def tier_amount(tiers: Tiers, quantity: int) -> Decimal:
    """The price of `quantity` units on this tier table alone (line scope)."""
    return tier_share(tiers, 0, quantity, quantity).amount


def tier_share(tiers: Tiers, start: int, quantity: int, aggregate: int) -> TierResult:
    """The amount of units start+1 … start+quantity when `aggregate` units share the table."""
    mode = tiers.mode
    if mode == "volume":
        band = volume_band(tiers, aggregate)
        unit = band.unit or ZERO
        flat = (band.flat or ZERO) if start == 0 else ZERO
        amount = unit * quantity + flat
        note = f"volume band {_band_text(band)} at {unit}"
        if flat:
            note += f" + flat {flat}"
        if aggregate != quantity:
            note += f" (quote quantity {aggregate})"
        return TierResult(amount, note)
    if mode == "graduated":
        amount = graduated_amount(tiers, start + quantity) - graduated_amount(tiers, start)
        parts = []
        for band in tiers.bands:
            lo = max(band.first, start + 1)
            hi = start + quantity if band.last is None else min(start + quantity, band.last)
            if hi >= lo:
                parts.append(f"{hi - lo + 1} × {band.unit or ZERO}")
        note = "graduated " + " + ".join(parts)
        if aggregate != quantity:
            note += f" (units {start + 1}–{start + quantity} of {aggregate})"
        return TierResult(amount, note)
    amount = block_amount(tiers, start + quantity) - block_amount(tiers, start)
    band = band_for(tiers, start + quantity)
    if band is not None:
        note = f"block {_band_text(band)}"
    else:
        extra = start + quantity - tiers.bands[-1].last
        note = f"block {_band_text(tiers.bands[-1])} + {extra} overage at {tiers.overage_unit} per {tiers.overage_per}"
    if aggregate != quantity:
        note += f" (units {start + 1}–{start + quantity} of {aggregate})"
    return TierResult(amount, note)
