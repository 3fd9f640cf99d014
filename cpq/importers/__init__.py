"""Importers: public configuration models (CLib, XCSP 2.1, DIMACS) → this project's rule files.

An importer reads a model in its own format into an `ImportedModel` (features, options and
constraints in the rule format's terms) and `write_rule_file` writes it as one product file, so
that the real loader and the configurator run on it. Nothing here is part of the service at run
time; the CLI (`cpq import …`) and the benchmark call it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cpq.ruleset.schemas import ID_PATTERN

__all__ = ["SourceFormatError", "IdMaker", "ImportedFeature", "ImportedModel", "compress_table", "write_rule_file"]


class SourceFormatError(Exception):
    """The source file cannot be read as the format it claims to be; names file and line."""


@dataclass
class ImportedFeature:
    """One option group: `options` are (option id, display name) pairs."""

    id: str
    label: str
    min: int
    max: int
    options: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ImportedModel:
    """A product as the rule format sees it; `constraints` are rule-file constraint mappings."""

    family: str
    product_id: str
    product_name: str
    source: str
    features: list[ImportedFeature] = field(default_factory=list)
    constraints: list[dict] = field(default_factory=list)
    # (variable, value) in the source → option id, for tools that replay source-format data
    option_of: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    @property
    def option_count(self) -> int:
        return sum(len(f.options) for f in self.features)


# Names an expression would read as something else (keywords, functions, context groups).
RESERVED = frozenset({
    "and", "or", "not", "in", "true", "false", "sum", "count", "min", "max", "abs", "if", "subtotal",
    "context", "account", "product", "quote", "line", "bundle", "qty", "quantity", "category", "cost",
})


class IdMaker:
    """Turns arbitrary names into unique ids that match the rule format's id pattern."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, raw: str, prefix: str = "X") -> str:
        text = re.sub(r"[^A-Za-z0-9_-]+", "_", str(raw))
        text = re.sub(r"-{2,}", "-", text).strip("-")
        text = re.sub(r"-(?=_*$)", "_", text)  # no trailing empty segment
        text = re.sub(r"-_*(?=-)", "-", text)
        if not text or not text[0].isalpha():
            text = f"{prefix}{'_' if text and text[0] != '_' else ''}{text}"
        if not ID_PATTERN.match(text):  # pragma: no cover - the substitutions above make it match
            text = prefix + "_" + re.sub(r"[^A-Za-z0-9_]", "_", text)
        if text.lower() in RESERVED:
            text += "_"
        candidate, n = text, 2
        while candidate.lower() in self.used:
            candidate = f"{text}_{n}"
            n += 1
        self.used.add(candidate.lower())
        return candidate


def compress_table(rows: Iterable[Sequence[str]], domains: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """Replace groups of rows that differ in one column and cover its whole domain by one '*' row.

    Only valid when every column is a feature with exactly one option chosen (min 1, max 1):
    then `*` ("any option of the column") means the same as listing every option.
    """
    current = {tuple(r) for r in rows}
    full = [frozenset(d) for d in domains]
    changed = True
    while changed:
        changed = False
        for col in range(len(full)):
            groups: dict[tuple, set[str]] = {}
            for row in current:
                groups.setdefault(row[:col] + row[col + 1:], set()).add(row[col])
            merged = set()
            for rest, values in groups.items():
                if "*" not in values and values >= full[col]:
                    merged.add(rest[:col] + ("*",) + rest[col:])
                    changed = True
                else:
                    merged.update(rest[:col] + (v,) + rest[col:] for v in values)
            current = merged
    return sorted(current)


_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*$")
_quoted_cache: dict[str, str] = {}


def _scalar(text: str) -> str:
    """A YAML scalar that reads back as exactly this string (ids like `No` or `null` get quotes)."""
    out = _quoted_cache.get(text)
    if out is None:
        plain = _PLAIN.match(text) and yaml.safe_load(text) == text
        out = text if plain else "'" + text.replace("'", "''") + "'"
        if len(_quoted_cache) < 1_000_000:
            _quoted_cache[text] = out
    return out


def _flow(items: Iterable[str]) -> str:
    return "[" + ", ".join(_scalar(i) for i in items) + "]"


def _text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_rule_file(model: ImportedModel, out_dir: str | Path) -> Path:
    """Write the model as `<family>.yaml` in out_dir (created) and return the file's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{model.family}.yaml"
    lines = [
        f"# Generated by `cpq import` from {model.source}; do not edit, re-run the import.",
        "format: 1",
        "kind: product",
        f"family: {_scalar(model.family)}",
        "options:",
    ]
    for feature in model.features:
        for option_id, name in feature.options:
            lines.append(f"  {_scalar(option_id)}: {{name: {_text(name)}}}")
    lines += ["products:", f"  {_scalar(model.product_id)}:", f"    name: {_text(model.product_name)}", "    features:"]
    for feature in model.features:
        lines.append(f"      {_scalar(feature.id)}: {{label: {_text(feature.label)}, min: {feature.min}, "
                     f"max: {feature.max}, options: {_flow(o for o, _ in feature.options)}}}")
    if model.constraints:
        lines.append("    constraints:")
    for c in model.constraints:
        lines.append(f"      - id: {_scalar(c['id'])}")
        if "table" in c:
            t = c["table"]
            rows_key = "allowed" if "allowed" in t else "forbidden"
            lines += ["        table:", f"          columns: {_flow(t['columns'])}", f"          {rows_key}:"]
            lines += [f"            - {_flow(row)}" for row in t[rows_key]]
        elif "requires" in c:
            r = c["requires"]
            lines.append(f"        requires: {{if: {_flow(r['if'])}, then: {_flow(r['then'])}}}")
        elif "excludes" in c:
            lines.append(f"        excludes: {_flow(c['excludes'])}")
        elif "cardinality" in c:
            card = c["cardinality"]
            bounds = "".join(f", {k}: {card[k]}" for k in ("min", "max") if k in card)
            lines.append(f"        cardinality: {{options: {_flow(card['options'])}{bounds}}}")
        elif "check" in c:
            lines.append(f"        check: {_text(c['check'])}")
        else:  # pragma: no cover - importers only build the forms above
            raise ValueError(f"cannot write constraint {c!r}")
        if c.get("message"):
            lines.append(f"        message: {_text(c['message'])}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
