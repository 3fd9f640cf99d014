"""Languages, paper and locale formats of documents; labels come from the catalogs in the repository."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from cpq.documents import formatting
from cpq.documents.formatting import Formatter, css_string, locale_for, page_counter_css

ROOT = Path(__file__).resolve().parents[3]
LOCALE_DIR = ROOT / "templates" / "quote" / "locale"


@pytest.mark.parametrize(("country", "language", "paper"), [
    ("US", "en", "letter"), ("CA", "en", "letter"), ("GB", "en", "a4"), ("DE", "de", "a4"),
    ("AT", "de", "a4"), ("CN", "zh", "a4"), (None, "en", "a4"),
])
def test_language_and_paper_follow_the_customers_country(country, language, paper):
    assert (formatting.language_for(country), formatting.paper_for(country)) == (language, paper)


def test_a_language_without_the_customers_country_falls_back_to_its_default_locale():
    assert str(locale_for("zh", "US")) == "zh_Hans_CN"
    assert str(locale_for("en", "GB")) == "en_GB"
    assert str(locale_for("de", None)) == "de_DE"


@pytest.mark.parametrize(("locale", "currency", "money", "amount", "percent"), [
    ("en_US", "USD", "$1,234.50", "1,234.50", "9.76%"),
    ("de_DE", "EUR", "1.234,50\xa0€", "1.234,50", "9,76\xa0%"),
    ("zh_Hans_CN", "USD", "US$1,234.50", "1,234.50", "9.76%"),
    ("en_US", "JPY", "¥1,234", "1,234", "9.76%"),
])
def test_money_numbers_and_percentages_follow_the_locale(locale, currency, money, amount, percent):
    fmt = Formatter(formatting.Locale.parse(locale), currency)
    value = Decimal("1234.5") if currency != "JPY" else Decimal("1234")
    assert (fmt.money(value), fmt.amount(value), fmt.percent(Decimal("0.0976"))) == (money, amount, percent)


AMOUNTS = ["0", "0.005", "0.015", "0.025", "-0.005", "1", "-1234.565", "999.995", "1234567.125", "12345678901234.5",
           "0.0049", "7.1250", "100", "-0"]


@pytest.mark.parametrize("locale", ["en_US", "en_IN", "en_GB", "de_DE", "de_AT", "de_CH", "zh_Hans_CN"])
@pytest.mark.parametrize("currency", ["USD", "EUR", "JPY", "KWD", "CHF"])
def test_table_amounts_and_quantities_are_formatted_exactly_as_babel_formats_them(locale, currency):
    from babel.numbers import format_currency, format_decimal

    fmt = Formatter(formatting.Locale.parse(locale), currency)
    for text in AMOUNTS:
        value = Decimal(text)
        assert fmt.amount(value) == format_currency(value, currency, format="#,##0.00", locale=locale), text
    for quantity in (0, 1, 12, 999, 1000, 123456, 10**12, -4500):
        assert fmt.number(quantity) == format_decimal(quantity, locale=locale), quantity


def test_a_unit_price_that_does_not_divide_evenly_shows_four_decimals():
    fmt = Formatter(formatting.Locale.parse("en_US"), "USD")
    assert fmt.unit(Decimal("1324.22") / 32) == "41.3819"
    assert fmt.unit(Decimal("8400") / 2) == "4,200.00"


def test_css_strings_cannot_end_the_string_or_the_style_block():
    text = css_string('x" } body { background: url(http://evil) } </style><script>')
    assert text.startswith('"') and text.endswith('"')
    inner = text[1:-1]
    assert '"' not in inner and "<" not in inner and ">" not in inner and "{" not in inner and "}" not in inner


def test_the_translated_page_counter_becomes_css_counters():
    assert page_counter_css("Page %(page)s of %(pages)s") == '"Page " counter(page) " of " counter(pages)'
    assert page_counter_css("第 %(page)s 页，共 %(pages)s 页") == (
        '"第 " counter(page) " 页\\ff0c 共 " counter(pages) " 页"')


def test_a_part_of_a_document_prints_the_whole_documents_page_total():
    assert page_counter_css("Seite %(page)s von %(pages)s", total=78) == '"Seite " counter(page) " von " "78"'


def _source_messages() -> set[str]:
    """Every label the templates and cpq/documents ask for (what `pybabel extract` would find)."""
    found = set()
    for folder, method in ((ROOT / "templates" / "quote", [("**.html", "jinja2")]),
                           (ROOT / "cpq" / "documents", [("**.py", "python")])):
        options = {"**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}
        for _file, _line, message, _comments, _context in extract_from_dir(
                folder, method, options_map=options, keywords={"_": None, "gettext": None, "N_": None}):
            found.add(message)
    return found


@pytest.mark.parametrize("language", ["de", "zh"])
def test_every_label_of_the_document_is_translated(language):
    with formatting.catalog_path(LOCALE_DIR, language).open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(_source_messages() - translated.keys())
    assert missing == [], f"add these to {formatting.catalog_path(LOCALE_DIR, language)}"
    for msgid, text in translated.items():
        for placeholder in ("%(page)s", "%(pages)s", "%(months)s", "%(n)s", "%(name)s", "%(date)s", "%(group)s"):
            assert (placeholder in msgid) == (placeholder in text), (language, msgid)


def test_the_catalogs_are_read_by_babel_without_compiled_files():
    german = formatting.translations(LOCALE_DIR, "de")
    assert german.gettext("Grand total") == "Gesamtbetrag"
    assert formatting.translations(LOCALE_DIR, "zh").gettext("Quote") == "报价单"
    assert not list(LOCALE_DIR.rglob("*.mo"))
