"""Pricing errors: stable machine codes in the service's one error vocabulary (cpq.errors).

These live here, not in cpq/errors.py, so that pricing owns its vocabulary; the API turns every
CPQError into an RFC 9457 problem with `code` and the extra members given here.
"""

from __future__ import annotations

from cpq.errors import CPQError, InvalidInput


class PriceNotFound(CPQError):
    """No book in the resolved chain prices a SKU on the quote date: never a silent zero."""

    code = "price_not_found"
    status = 422
    title = "No price for a product"


class NoPricebook(CPQError):
    """No pricebook covers the requested currency, channel, account and date."""

    code = "no_pricebook"
    status = 422
    title = "No pricebook applies"


class CurrencyMismatch(CPQError):
    """Two amounts in different currencies were combined."""

    code = "currency_mismatch"
    status = 422
    title = "Currencies do not match"


class UnknownCurrency(InvalidInput):
    code = "unknown_currency"
    title = "Unknown currency"


class InvalidQuote(InvalidInput):
    """The quote request is malformed: the problem lists every field error."""

    code = "invalid_quote"
    title = "Invalid quote request"


class UnknownSku(InvalidInput):
    """A line names a product or option that the catalog does not have (or not in that bundle)."""

    code = "unknown_product"
    title = "Unknown product or option"


class FormulaError(CPQError):
    """A price formula could not be evaluated for this quote (e.g. a division by zero)."""

    code = "formula_error"
    status = 422
    title = "A price formula failed"
