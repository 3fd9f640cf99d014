"""CSV tables beside a pricebook: bulk price lists and simple adjustment rules, read with positions.

A pricebook names its tables (`price_tables:` / `adjustment_tables:`, paths relative to the book);
price lists exported from an ERP are spreadsheets, and 100,000 rows of CSV load far faster than the
same rows as YAML mappings. A table's first line names its columns (any order, case-insensitive);
every other line is one price entry, one tier band, or one adjustment rule. Cells are validated
here, column by column, with the same messages as the YAML fields; what a cell *means* (known
SKUs, tier tables, dates that overlap, stacking, conditions) is judged by the loader's own checks,
so both sources report the same errors. Positions are `line:col` of the cell in the file.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError

from cpq.catalog import Source
from cpq.pricing.books import CHARGES, STACKING, TIER_MODES, TIER_SCOPES, Effective, PriceEntry
from cpq.ruleset import schemas
from cpq.ruleset.expressions import did_you_mean
from cpq.ruleset.yamlpos import PosDict, PosList

TABLE_SUFFIXES = (".csv",)

Pos = tuple[int, int]


class CellError(ValueError):
    """A cell that is not a value of its column (the message reads like the YAML field's)."""


@dataclass(frozen=True, slots=True)
class Cell:
    text: str  # stripped, quotes removed
    line: int
    col: int  # 1-based column of the first character of the value (of the opening quote if quoted)
    quoted: bool


class Row:
    """One line of a table: its cells by column; where each cell starts is worked out when asked."""

    __slots__ = ("line", "texts", "index", "source", "_cells")

    def __init__(self, line: int, texts: list[str], index: dict[str, int], source: str):
        self.line, self.texts, self.index, self.source = line, texts, index, source
        self._cells: list[tuple[str, int, bool]] | None = None

    def get(self, name: str) -> str | None:
        i = self.index.get(name)
        return (self.texts[i] or None) if i is not None else None

    def __contains__(self, name: str) -> bool:
        i = self.index.get(name)
        return i is not None and bool(self.texts[i])

    def present(self) -> list[str]:
        """The columns with a value on this row."""
        return [name for name, i in self.index.items() if self.texts[i]]

    def located(self) -> list[tuple[str, int, bool]]:
        """(text, column, quoted) of every cell of the line by position, worked out once when asked."""
        if self._cells is None:
            self._cells = _located(self)
        return self._cells

    def cell(self, name: str) -> Cell:
        text, col, quoted = self.located()[self.index[name]]
        return Cell(text, self.line, col, quoted)

    def pos(self, name: str | None = None) -> Pos:
        if name is None or name not in self:
            return self.line, 1
        cell = self.cell(name)
        return cell.line, cell.col


def _located(row: Row) -> list[tuple[str, int, bool]]:
    """(text, column, quoted) of every cell of the row's line, by position."""
    line = row.source
    if '"' in line:
        return _split(line, row.line)
    cells, col = [], 1  # the common line: columns follow from the cell lengths
    for raw in line.split(","):
        cells.append((raw.strip(), col + len(raw) - len(raw.lstrip()), False))
        col += len(raw) + 1
    return cells


# one cell: a quoted value ("" is a quote inside it) or an unquoted one, then a comma or the end of the line
_CELL = re.compile(r'[ \t]*+(?:"((?:[^"]|"")*+)"[ \t]*+|(?!")([^,]*+))(,|$)')
_QUOTED = re.compile(r'"(?:[^"]|"")*+"')


def _split(line: str, number: int) -> list[tuple[str, int, bool]]:
    """One CSV line → (text, column, quoted) per cell; RFC 4180 quoting ("" inside quotes)."""
    simple = _split_simple(line)
    return simple if simple is not None else _split_quoted(line, number)


def _split_simple(line: str) -> list[tuple[str, int, bool]] | None:
    """The usual quoted line — quotes only around whole cells, no comma or quote inside them — split
    by `str.split` with the same texts and columns as the RFC 4180 reading; None for any other line."""
    out, start = [], 0
    for piece in line.split(","):
        lead = len(piece) - len(piece.lstrip(" \t"))
        if '"' in piece:
            body = piece.strip(" \t")
            if len(body) < 2 or body[0] != '"' or body[-1] != '"' or '"' in body[1:-1]:
                return None
            out.append((body[1:-1], start + lead + 1, True))
        else:
            out.append((piece[lead:].rstrip(), start + lead + 1, False))
        start += len(piece) + 1
    return out


def _split_quoted(line: str, number: int) -> list[tuple[str, int, bool]]:
    out, at = [], 0
    while True:
        m = _CELL.match(line, at)
        if m is None:
            quote = line.index('"', at)
            closed = _QUOTED.match(line, quote)
            if closed is None:
                raise _SyntaxError((number, quote + 1), "a quoted cell is not closed on its line "
                                   "(cells cannot span lines)")
            raise _SyntaxError((number, closed.end() + 1), "text after a quoted cell; put the whole cell in quotes")
        quoted, plain, separator = m.groups()
        if quoted is not None:
            out.append((quoted.replace('""', '"'), m.start(1), True))
        else:
            out.append((plain.rstrip(), m.start(2) + 1, False))
        if not separator:
            return out
        at = m.end()


class _SyntaxError(Exception):
    def __init__(self, pos: Pos, message: str):
        super().__init__(message)
        self.pos, self.message = pos, message


ErrorSink = Callable[..., None]  # error(pos, rule_id, code, message, suggestion=None)


def read_table(text: str, columns: tuple[str, ...], required: tuple[str, ...], rule_id: str,
               error: ErrorSink) -> list[Row] | None:
    """The rows of a CSV table with the given columns; None when the header itself is unusable."""
    if text.startswith("\ufeff"):  # spreadsheets write a byte-order mark
        text = text[1:]
    header: list[str | None] | None = None
    index: dict[str, int] = {}
    rows: list[Row] = []
    width = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.endswith("\r"):
            line = line[:-1]
        cells = None
        if '"' in line:
            try:
                cells = _split(line, number)
                texts = [c[0] for c in cells]
            except _SyntaxError as exc:
                error(exc.pos, rule_id, "rule_syntax", f"CSV syntax error: {exc.message}")
                if header is None:
                    return None
                continue
        else:
            texts = line.split(",")
            if " " in line or "\t" in line:
                texts = [t.strip() for t in texts]
        if not any(texts):
            continue  # an empty line, or a row of empty cells
        if header is None:
            header = _header(_split(line, number), number, columns, required, rule_id, error)
            if header is None:
                return None
            index = {name: i for i, name in enumerate(header) if name is not None}
            width = len(header)
            continue
        if len(texts) != width:
            if len(texts) > width and not any(texts[width:]):
                texts = texts[:width]  # trailing empty cells, as spreadsheets export them
            else:
                error((number, 1), rule_id, "invalid_field", f"row has {len(texts)} cells for {width} columns")
                continue
        row = Row(number, texts, index, line)
        row._cells = cells  # a quoted line is located already (an unquoted one when a position is asked)
        rows.append(row)
    if header is None:
        error((1, 1), rule_id, "invalid_field", f"the table is empty; its first line names the columns "
              f"({', '.join(required)}, …)")
        return None
    return rows


def _header(cells, number: int, columns: tuple[str, ...], required: tuple[str, ...], rule_id: str,
            error: ErrorSink) -> list[str | None] | None:
    names: list[str | None] = []
    seen: dict[str, int] = {}
    ok = True
    for text, col, _quoted in cells:
        name = text.lower()
        if name in seen:
            error((number, col), rule_id, "duplicate_key", f"duplicate column '{name}' (first at column {seen[name]})")
            names.append(None)
            ok = False
        elif not name:
            error((number, col), rule_id, "invalid_field", "a column without a name; name it or remove the empty cell")
            names.append(None)
            ok = False
        elif name not in columns:
            error((number, col), rule_id, "unknown_field", f"unknown column '{text}'", did_you_mean(name, columns))
            names.append(None)
            ok = False
        else:
            seen[name] = col
            names.append(name)
    missing = [c for c in required if c not in seen]
    for name in missing:
        error((number, 1), rule_id, "invalid_field", f"missing required column '{name}'")
    return names if ok and not missing else None


# --------------------------------------------------------------------------- cells


def _message(column: str, exc: ValidationError) -> str:
    """A marshmallow message as the loader words it for a YAML field: "unit: 'x' is not an amount"."""
    message = exc.messages[0] if isinstance(exc.messages, list) else str(exc.messages)
    message = str(message).rstrip(".")
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    return f"{column}: {message}"


_MONEY = schemas.Money()
_PERCENT = schemas.Percent()
_DAY = schemas.Day()


def amount(column: str, text: str) -> Decimal:
    try:  # the common case first: Decimal reads the text exactly

        value = Decimal(text)
        if value.is_finite():
            return value
    except InvalidOperation:
        pass
    try:
        _MONEY.deserialize(text)
    except ValidationError as exc:
        raise CellError(_message(column, exc)) from None
    raise CellError(f"{column}: {text!r} is not an amount")  # pragma: no cover - Money refuses what Decimal does


def percent(column: str, text: str) -> Decimal:
    if text.endswith("%"):
        try:
            return Decimal(text[:-1]) / 100
        except InvalidOperation:
            pass
    try:
        _PERCENT.deserialize(text)
    except ValidationError as exc:
        raise CellError(_message(column, exc)) from None
    raise CellError(f"{column}: {text!r} is not a percentage")  # pragma: no cover


@functools.lru_cache(maxsize=4096)
def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def day(column: str, text: str) -> str:
    """A date cell, kept as its ISO text (the loader reads `effective` from text, as from YAML)."""
    if _day(text) is None:
        try:
            _DAY.deserialize(text)
        except ValidationError as exc:
            raise CellError(_message(column, exc)) from None
    return text


def integer(column: str, text: str, minimum: int | None = None) -> int:
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit() or not digits.isascii():
        raise CellError(f"{column}: not a valid integer")
    value = int(text)
    if minimum is not None and value < minimum:
        raise CellError(f"{column}: must be greater than or equal to {minimum}")
    return value


def choice(column: str, text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise CellError(f"{column}: must be one of: {', '.join(allowed)}")
    return text


@functools.lru_cache(maxsize=1 << 16)
def _is_id(text: str) -> bool:
    return schemas.ID_PATTERN.match(text) is not None


def identifier(column: str, text: str) -> str:
    if not _is_id(text):
        raise CellError(f"{column}: ids start with a letter and use letters, digits, '_' and single '-' between them")
    return text


# --------------------------------------------------------------------------- price tables

PRICE_COLUMNS = ("sku", "unit", "cost", "charge", "term_months", "effective_from", "effective_to",
                 "tiers", "scope", "band_from", "band_to", "flat", "overage_unit", "overage_per")
BAND_COLUMNS = ("band_from", "band_to", "flat", "overage_unit", "overage_per")
# a tier table's own fields: given on its first band row; later band rows leave them empty or repeat them
TABLE_FIELDS = ("charge", "term_months", "cost", "scope", "overage_unit", "overage_per")

_PRICE_CELLS: dict[str, Callable[[str, str], object]] = {
    "unit": amount, "cost": amount, "flat": amount, "overage_unit": amount,
    "charge": lambda c, t: choice(c, t, CHARGES),
    "tiers": lambda c, t: choice(c, t, TIER_MODES),
    "scope": lambda c, t: choice(c, t, TIER_SCOPES),
    "term_months": lambda c, t: integer(c, t, 1),
    "band_from": lambda c, t: integer(c, t, 0),
    "band_to": lambda c, t: integer(c, t, 1),
    "overage_per": lambda c, t: integer(c, t, 1),
    "effective_from": day, "effective_to": day,
}


@dataclass(slots=True)
class PriceRow:
    """A validated row of a price table: its typed cells and where it is."""

    sku: str
    row: Row
    values: dict[str, object]

    @property
    def dates(self) -> tuple:
        return self.values.get("effective_from"), self.values.get("effective_to")


def price_rows(rows: list[Row], book_id: str, error: ErrorSink) -> list[PriceRow]:
    """Every row whose cells are values of their columns (the others are reported and left out)."""
    out = []
    if not rows:
        return out
    index = rows[0].index
    sku_at = index["sku"]
    parsers = [(name, i, _PRICE_CELLS[name]) for name, i in index.items() if name in _PRICE_CELLS]
    for row in rows:
        texts = row.texts
        sku = texts[sku_at]
        if not sku:
            error(row.pos(), book_id, "invalid_field", "missing required field 'sku'")
            continue
        values: dict[str, object] = {}
        ok = True
        for name, i, parse in parsers:
            text = texts[i]
            if text:
                if parse is amount:  # the usual cell, read here: `amount` is a call per cell
                    try:
                        value = Decimal(text)
                    except InvalidOperation:
                        value = None
                    if value is not None and value.is_finite():
                        values[name] = value
                        continue
                try:
                    values[name] = parse(name, text)
                except CellError as exc:
                    error(row.pos(name), sku, "invalid_field", str(exc))
                    ok = False
        if not ok:
            continue
        problem = _price_shape(values)
        if problem is not None:
            error(row.pos(problem[0]), sku, "invalid_field", problem[1])
            continue
        out.append(PriceRow(sku, row, values))
    return out


def _price_shape(values: dict) -> tuple[str | None, str] | None:
    """What is wrong with the combination of a row's cells (the column to point at, the message)."""
    if "tiers" not in values:
        stray = [c for c in BAND_COLUMNS if c in values]
        if stray:
            return stray[0], (f"{', '.join(repr(c) for c in stray)} belong to tiered prices "
                              "(rows with a 'tiers' mode)")
        if "scope" in values:
            return "scope", "'scope' belongs to tiered prices (rows with a 'tiers' mode)"
        if "unit" not in values:
            return None, "a price row needs a 'unit' price (or a 'tiers' mode and a band)"
    else:
        if "band_from" not in values:
            return "tiers", "a band row needs 'band_from'"
        if "unit" not in values and "flat" not in values:
            return "tiers", "a band needs a 'unit' price, a 'flat' fee or both"
        if ("overage_unit" in values or "overage_per" in values) and values["tiers"] != "block":
            return "overage_unit" if "overage_unit" in values else "overage_per", \
                "'overage' applies to block tiers only"
        if "overage_per" in values and "overage_unit" not in values:
            return "overage_per", "'overage_per' needs 'overage_unit'"
    if values.get("charge") in ("monthly", "annual") and "term_months" not in values:
        return "charge", "recurring prices need 'term_months'"
    return None


def tier_tables(rows: list[PriceRow], book_id: str, error: ErrorSink) -> list[tuple[PriceRow, list[PriceRow]]]:
    """Group rows into entries: a plain row alone, consecutive band rows of one SKU and dates together."""
    out: list[tuple[PriceRow, list[PriceRow]]] = []
    current: list[PriceRow] | None = None
    for r in rows:
        mode = r.values.get("tiers")
        if mode is None:
            out.append((r, []))
            current = None
            continue
        if current is not None and current[0].sku == r.sku and current[0].dates == r.dates \
                and current[0].values["tiers"] == mode:
            first = current[0]
            for name in TABLE_FIELDS:
                if name in r.values and r.values[name] != first.values.get(name):
                    error(r.row.pos(name), r.sku, "invalid_field",
                          f"{name}: differs from the first band of this tier table (line {first.row.line}); "
                          "give it on the first band only")
            current.append(r)
            continue
        current = [r]
        out.append((r, current))
    return out


def tier_spec(first: PriceRow, bands: list[PriceRow]) -> PosDict:
    """A tier table as the mapping the YAML form gives (`tiers`, `bands`, `overage`, `scope`)."""
    spec = _posdict(first.row.pos(), {"tiers": (first.values["tiers"], first.row.pos("tiers"))})
    if "scope" in first.values:
        _put(spec, "scope", first.values["scope"], first.row.pos("scope"))
    band_list = PosList()
    band_list.pos = first.row.pos("band_from")
    band_list.item_pos = []
    for b in bands:
        fields = {"from": (b.values["band_from"], b.row.pos("band_from"))}
        for column, key in (("band_to", "to"), ("unit", "unit"), ("flat", "flat")):
            if column in b.values:
                fields[key] = (b.values[column], b.row.pos(column))
        band_list.append(_posdict(b.row.pos("band_from"), fields))
        band_list.item_pos.append(b.row.pos())
    _put(spec, "bands", band_list, band_list.pos)
    if "overage_unit" in first.values:
        overage = {"unit": (first.values["overage_unit"], first.row.pos("overage_unit"))}
        if "overage_per" in first.values:
            overage["per"] = (first.values["overage_per"], first.row.pos("overage_per"))
        _put(spec, "overage", _posdict(first.row.pos("overage_unit"), overage), first.row.pos("overage_unit"))
    return spec


# --------------------------------------------------------------------------- adjustment tables

ADJUSTMENT_COLUMNS = ("id", "label", "discount", "markup", "amount_off", "price", "products", "categories",
                      "families", "accounts", "when", "priority", "stack", "effective_from", "effective_to")
EFFECTS = ("discount", "markup", "amount_off", "price")
TARGETS = ("products", "categories", "families", "accounts")

_ADJUSTMENT_CELLS: dict[str, Callable[[str, str], object]] = {
    "discount": percent, "markup": percent, "amount_off": amount, "price": amount,
    "priority": integer, "stack": lambda c, t: choice(c, t, STACKING),
    "effective_from": day, "effective_to": day,
}


_ID_LISTS = frozenset(TARGETS[:3])  # cells of space-separated ids (accounts are any text)
_TEXT_FIELDS = frozenset({"discount", "markup", "amount_off", "price", "label", "when", "stack", "id"})


def adjustment_spec(row: Row, book_id: str, error: ErrorSink) -> PosDict | None:
    """A row of an adjustment table as the mapping an `adjustments:` entry gives, or None if broken."""
    rule_id = row.get("id")
    if rule_id is None:
        error(row.pos(), book_id, "invalid_field", "missing required field 'id'")
        return None
    ok = True
    try:
        identifier("id", rule_id)
    except CellError as exc:
        error(row.pos("id"), book_id, "invalid_field", str(exc))
        ok = False
    fields: dict[str, tuple[object, Pos]] = {}
    present = row.present()
    located, index, line = row.located(), row.index, row.line
    for name in present:
        text, col, _quoted = located[index[name]]
        parse = _ADJUSTMENT_CELLS.get(name)
        try:
            if parse is not None:
                parse(name, text)
            elif name in _ID_LISTS:
                for word in text.split():
                    identifier(name, word)
        except CellError as exc:
            error((line, col), rule_id, "invalid_field", str(exc))
            ok = False
            continue
        if name in _TEXT_FIELDS:
            fields[name] = (text, (line, col))
        elif name == "priority":
            fields[name] = (int(text), (line, col))
    effects = [k for k in EFFECTS if k in present]
    if ok and len(effects) != 1:
        error(row.pos(effects[1] if effects else None), rule_id, "invalid_field",
              "an adjustment has exactly one of discount, markup, amount_off, price")
        ok = False
    if not ok:
        return None
    spec = _posdict(row.pos(), fields)
    if "when" in fields and row.cell("when").quoted:
        spec.value_style["when"] = '"'
    targets = {name: _words(row.cell(name)) for name in TARGETS if name in present}
    if targets:
        _put(spec, "applies_to", _posdict(row.pos(), targets), row.pos())
    if "effective_from" in present or "effective_to" in present:
        spec["effective"] = {key: row.get(column) for key, column in (("from", "effective_from"), ("to", "effective_to"))
                             if column in present}
    return spec


def _words(cell: Cell) -> tuple[PosList, Pos]:
    """A cell of space-separated ids as a located list (each id at its own column)."""
    out = PosList()
    out.pos = (cell.line, cell.col)
    out.item_pos = []
    offset = cell.col + (1 if cell.quoted else 0)
    at = 0
    for word in cell.text.split():
        at = cell.text.index(word, at)
        out.append(word)
        out.item_pos.append((cell.line, offset + at))
        at += len(word)
    return out, out.pos


# --------------------------------------------------------------------------- located mappings


def _posdict(pos: Pos, fields: dict[str, tuple[object, Pos]]) -> PosDict:
    out = PosDict()
    out.pos = pos
    out.key_pos, out.value_pos, out.value_style = {}, {}, {}
    for key, (value, at) in fields.items():
        _put(out, key, value, at)
    return out


def _put(mapping: PosDict, key: str, value, pos: Pos) -> None:
    mapping[key] = value
    mapping.key_pos[key] = pos
    mapping.value_pos[key] = pos


# --------------------------------------------------------------------------- the loader's part


@dataclass
class TableFile:
    """A CSV file among the loaded files; a pricebook claims it by naming it."""

    path: str  # as shown in errors
    text: str
    used_by: str | None = None  # "pricebook 'list-usd' (pricebooks/list-usd.yaml:7:5)"


class TableLoading:
    """The tables part of the loader (mixed into it): resolving, reading and judging CSV tables.

    It uses the loader's own checks (`error`, `claim_id`, `tiers`, `expression`, `applies_to`,
    `adjustment`, `check_overlaps`), so a price or a rule means the same from a table as from YAML.
    """

    tables: dict[str, TableFile]

    def add_table(self, shown: str, raw: bytes) -> bool:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.error(shown, (1, 1), "-", "rule_syntax", f"file is not UTF-8 text ({exc.reason})")
            return False
        self.tables[posixpath.normpath(shown)] = TableFile(shown, text)
        return True

    def claim_tables(self, f, data, key: str) -> list[TableFile]:
        """The tables a book names under `key`, each claimed by this book (reported when missing or shared)."""
        names = data.get(key) or []
        book_id = data["id"]
        here = posixpath.dirname(f.path)
        out = []
        for i, name in enumerate(names):
            pos = names.item_pos[i]
            wanted = posixpath.normpath(posixpath.join(here, name))
            table = self.tables.get(wanted)
            if table is None:
                nearby = [posixpath.relpath(p, here or ".") for p in self.tables if posixpath.dirname(p) == here]
                self.error(f.path, pos, book_id, "unknown_table",
                           f"no table '{name}' beside this pricebook (tables are .csv files among the rule files)",
                           did_you_mean(name, nearby))
                continue
            if table.used_by is not None:
                self.error(f.path, pos, book_id, "duplicate_id", f"table '{name}' is already used by {table.used_by}")
                continue
            table.used_by = f"pricebook '{book_id}' ({f.path}:{pos[0]}:{pos[1]})"
            out.append(table)
        return out

    def report_unused_tables(self) -> None:
        for table in self.tables.values():
            if table.used_by is None:
                self.error(table.path, (1, 1), "-", "unused_table",
                           "no pricebook names this table; list it under 'price_tables' or 'adjustment_tables'")

    def table_prices(self, f, data, prices: dict, sellable, bundle_attrs) -> None:
        """Add the entries of the book's price tables to `prices` (SKU → entries), judged like YAML prices."""
        book_id = data["id"]
        # where each SKU is already priced (path, line, col), written out only for an error
        given = {sku: (f.path, *pos) for sku, pos in (data.get("prices") or {}).key_pos.items()} \
            if data.get("prices") else {}
        for table in self.claim_tables(f, data, "price_tables"):
            def error(pos, rule_id, code, message, suggestion=None, ref=None, _path=table.path):
                self.error(_path, pos, rule_id, code, message, suggestion, ref)

            rows = read_table(table.text, PRICE_COLUMNS, ("sku",), book_id, error)
            if rows is None:
                continue
            built: dict[str, list] = {}
            for first, bands in tier_tables(price_rows(rows, book_id, error), book_id, error):
                sku = first.sku
                if sku not in sellable:
                    if sku not in built:  # once per SKU, at its first row
                        self.error(table.path, first.row.pos("sku"), book_id, "unknown_product",
                                   f"price for unknown product or option '{sku}'", did_you_mean(sku, sellable), ref=sku)
                        built[sku] = []
                    continue
                if sku in given:
                    self.error(table.path, first.row.pos("sku"), book_id, "duplicate_key",
                               f"'{sku}' is already priced at {':'.join(map(str, given[sku]))}; "
                               "a book prices a SKU in one place")
                    continue
                entry = self.table_entry(table, book_id, first, bands)
                if entry is not None:
                    built.setdefault(sku, []).append(entry)
            for sku, entries in built.items():
                if sku in sellable:
                    if len(entries) > 1:
                        self.check_overlaps(table.path, book_id, sku, entries)
                    prices[sku] = tuple(entries)
                    given[sku] = (table.path, entries[0].source.line, entries[0].source.col) if entries else ()

    def table_entry(self, table: TableFile, book_id: str, first: PriceRow, bands: list[PriceRow]):
        v = first.values
        effective = _effective_of(v.get("effective_from"), v.get("effective_to"))
        source = Source(table.path, first.row.line, 1)
        tiers = None
        if bands:
            tiers = self.tiers(table, book_id, first.sku, tier_spec(first, bands))
            if tiers is None:
                return None
        return PriceEntry(
            sku=first.sku, effective=effective, charge=v.get("charge", "one_time"), term_months=v.get("term_months"),
            unit=None if bands else v["unit"], tiers=tiers, formula=None, cost=v.get("cost"), source=source,
        )

    def table_adjustments(self, f, data, adjustments: list, sellable, categories, families, scope) -> None:
        """Append the rules of the book's adjustment tables, judged like its `adjustments:` entries."""
        book_id = data["id"]
        for table in self.claim_tables(f, data, "adjustment_tables"):
            def error(pos, rule_id, code, message, suggestion=None, ref=None, _path=table.path):
                self.error(_path, pos, rule_id, code, message, suggestion, ref)

            rows = read_table(table.text, ADJUSTMENT_COLUMNS, ("id",), book_id, error)
            for row in rows or ():
                spec = adjustment_spec(row, book_id, error)
                if spec is None:
                    if row.get("id"):
                        self.broken.add(row.get("id"))
                    continue
                adjustments.append(self.adjustment(table, spec, row.pos(), sellable, categories, families, scope))


@functools.lru_cache(maxsize=4096)
def _effective_of(start: str | None, end: str | None) -> Effective:
    return Effective(_day(start) if start else None, _day(end) if end else None)
