"""Languages, paper sizes and locale formats of quote documents (Babel), and their message catalogs.

Labels come from gettext catalogs kept as `.po` files under `templates/quote/locale/`; Babel reads
them directly and compiles them in memory on first use, so no compiled `.mo` file is stored or built.
Money, numbers, percentages and dates are formatted by Babel for the document's locale.
"""

from __future__ import annotations

import gettext
import io
import re
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import (
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)
from babel.support import Translations

from cpq.pricing.currency import MINOR_UNITS

LANGUAGES = ("en", "de", "zh")
# the locale used when the buyer's country has no locale in that language (zh_US does not exist)
DEFAULT_LOCALES = {"en": "en_US", "de": "de_DE", "zh": "zh_Hans_CN"}
CATALOG_FOLDERS = {"de": "de", "zh": "zh_Hans"}  # templates/quote/locale/<folder>/LC_MESSAGES/quote.po
DOMAIN = "quote"
PAPERS = ("a4", "letter")
# countries that use US Letter paper; everyone else gets A4
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "SV", "PA", "DO", "NI", "PR"})
COUNTRY_LANGUAGE = {"DE": "de", "AT": "de", "CH": "de", "LI": "de", "LU": "de", "CN": "zh", "SG": "zh"}


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def language_for(country: str | None) -> str:
    """The document language when none is asked for: from the buyer's country, else English."""
    return COUNTRY_LANGUAGE.get((country or "").upper(), "en")


def paper_for(country: str | None) -> str:
    return "letter" if (country or "").upper() in LETTER_COUNTRIES else "a4"


def locale_for(language: str, country: str | None) -> Locale:
    """The language with the buyer's country conventions where CLDR has them (en_GB, de_AT), else a default."""
    if country:
        try:
            return Locale.parse(f"{language}_{country.upper()}")
        except (UnknownLocaleError, ValueError):
            pass
    return Locale.parse(DEFAULT_LOCALES[language])


_catalog_lock = threading.Lock()
_catalogs: dict[tuple[str, str], tuple[float, gettext.NullTranslations]] = {}


def catalog_path(locale_dir: Path, language: str) -> Path:
    return locale_dir / CATALOG_FOLDERS[language] / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(locale_dir: Path, language: str) -> gettext.NullTranslations:
    """The labels of `language` (English is the source language: its labels are the message ids)."""
    if language == "en":
        return gettext.NullTranslations()
    path = catalog_path(locale_dir, language)
    key = (str(path), language)
    mtime = path.stat().st_mtime
    with _catalog_lock:
        cached = _catalogs.get(key)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=Locale.parse(DEFAULT_LOCALES[language]), domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
        buffer.seek(0)
        compiled = Translations(fp=buffer, domain=DOMAIN)
        _catalogs[key] = (mtime, compiled)
        return compiled


_SAFE_CSS = re.compile(r"[\w .,:;()/%+-]", re.UNICODE)


def css_string(text: str) -> str:
    """`text` as a quoted CSS string: every character that could end the string or the rule is escaped."""
    return '"' + "".join(c if _SAFE_CSS.fullmatch(c) else f"\\{ord(c):x} " for c in text) + '"'


def page_counter_css(template: str, total: int | None = None) -> str:
    """A translated "Page %(page)s of %(pages)s" as a CSS `content` value with the page counters.

    `total` prints that number of pages instead of the document's own (a document laid out in parts).
    """
    parts = re.split(r"(%\((?:page|pages)\)s)", template)
    out = []
    for part in parts:
        if part == "%(page)s":
            out.append("counter(page)")
        elif part == "%(pages)s":
            out.append("counter(pages)" if total is None else css_string(str(int(total))))
        elif part:
            out.append(css_string(part))
    return " ".join(out) or '""'


class Formatter:
    """Formats the numbers of one document for its locale and currency."""

    def __init__(self, locale: Locale, currency: str):
        self.locale = locale
        self.currency = currency
        # Babel formats exactly but slowly (about 0.1 ms a number), and a long quote prints thousands
        # of numbers. The table's amounts (pattern #,##0.00 with the currency's digits) and whole
        # numbers are therefore formatted by Python with the locale's symbols — where that gives
        # Babel's text for a probe number with every feature (sign, groups, rounding); some
        # locales differ (de_CH groups currency amounts differently), and those keep Babel.
        self._digits = get_currency_precision(currency)
        self._symbols = str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale),
                                       "-": get_minus_sign_symbol(locale)})
        probe = Decimal("-1234567.125")
        self._fast_amounts = self._python_amount(probe) == self._babel_amount(probe)
        self._fast_integers = format(-1234567, ",").translate(self._symbols) == format_decimal(-1234567, locale=locale)

    def _python_amount(self, amount: Decimal) -> str:
        # format() rounds a Decimal half-even, as Babel does
        return format(Decimal(amount), f",.{self._digits}f").translate(self._symbols)

    def _babel_amount(self, amount: Decimal) -> str:
        # with currency_digits (the default) Babel uses the currency's minor unit, as MINOR_UNITS does
        return format_currency(amount, self.currency, format="#,##0.00", locale=self.locale)

    def money(self, amount: Decimal) -> str:
        """An amount with its currency sign, e.g. "$1,234.50" or "1.234,50 €"."""
        return format_currency(amount, self.currency, locale=self.locale)

    def amount(self, amount: Decimal) -> str:
        """An amount in a table column: the currency's decimals, no sign (the column says the currency)."""
        return self._python_amount(amount) if self._fast_amounts else self._babel_amount(amount)

    def unit(self, amount: Decimal) -> str:
        """A unit price: the currency's decimals, or up to four when the division is not exact."""
        exact = self.amount(amount)
        digits = Decimal(1).scaleb(-MINOR_UNITS.get(self.currency, 2))
        if amount == amount.quantize(digits):
            return exact
        precise = amount.quantize(Decimal("0.0001")).normalize()
        return format_currency(precise, self.currency, format="#,##0.00", locale=self.locale,
                               currency_digits=True, decimal_quantization=False)

    def percent(self, fraction: Decimal) -> str:
        return format_percent(fraction.quantize(Decimal("0.0001")).normalize(), locale=self.locale,
                              decimal_quantization=False)

    def number(self, value: int | Decimal) -> str:
        if self._fast_integers and type(value) is int:
            return format(value, ",").translate(self._symbols)
        return format_decimal(value, locale=self.locale)

    def date(self, value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.date()
        return format_date(value, format="long", locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        """A moment in UTC (the database stores UTC), e.g. "Nov 25, 2026, 4:43:43 PM UTC"."""
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return f"{format_datetime(value, format='medium', tzinfo=UTC, locale=self.locale)} UTC"

