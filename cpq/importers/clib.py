"""CLib (IT University of Copenhagen configuration benchmark library) models → rule file.

Input: a folder with `*_domains.txt` (one line per variable, `VarN : v1, v2, ...`) and `rules/*.pm`
(one positive table per file: `or(` … one allowed tuple per line `Var1 = S64 and Var3 = M9 …` …
`or)`; nested `or(` / `or)` lines only group). Every variable becomes a feature with exactly one
option per value (min 1, max 1); a table over two or more variables becomes a `table:` constraint
with `allowed` rows (rows that together cover a column's whole domain are merged into `*`), and a
table over one variable becomes a cardinality constraint that forbids the values it does not list.
"""

from __future__ import annotations

import re
from pathlib import Path

from cpq.importers import IdMaker, ImportedFeature, ImportedModel, SourceFormatError, compress_table

_ASSIGNMENT = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S+)\s*")


def read_clib(source: str | Path, family: str | None = None) -> ImportedModel:
    """Read a CLib model folder (domains file + rules folder)."""
    root = Path(source)
    domain_files = sorted(root.glob("*domains*.txt")) if root.is_dir() else []
    if not domain_files:
        raise SourceFormatError(f"{root}: no '*_domains.txt' file (expected a CLib model folder)")
    domains_path = domain_files[0]
    name = family or domains_path.name.split("_domains")[0] or root.name
    ids = IdMaker()
    family_id = ids.make(name, "M")
    product_id = ids.make(f"{family_id}-model", "P")
    model = ImportedModel(family=family_id, product_id=product_id, product_name=f"{name} (CLib)",
                          source=f"CLib model {root.name}")
    variables: dict[str, dict[str, str]] = {}  # variable → value → option id
    order: dict[str, list[str]] = {}
    for number, line in enumerate(domains_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if ":" not in line:
            raise SourceFormatError(f"{domains_path}:{number}: expected 'Var : v1, v2, ...'")
        var, _, values = line.partition(":")
        var = var.strip()
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise SourceFormatError(f"{domains_path}:{number}: variable '{var}' has an empty domain")
        feature_id = ids.make(var, "V")
        options = {v: ids.make(f"{feature_id}-{v}", "V") for v in vals}
        variables[var] = options
        model.option_of.update({(var, v): o for v, o in options.items()})
        order[var] = vals
        model.features.append(ImportedFeature(feature_id, var, 1, 1, [(options[v], v) for v in vals]))
    feature_of = {var: f.id for var, f in zip(variables, model.features, strict=True)}
    rule_files = sorted((root / "rules").glob("*.pm")) if (root / "rules").is_dir() else []
    for path in rule_files:
        columns, rows = _read_table(path, variables)
        if not rows:
            raise SourceFormatError(f"{path}: a table with no allowed tuple")
        cid = ids.make(path.stem, "R")
        message = f"This combination is not allowed (CLib {path.name})."
        if len(columns) == 1:
            var = columns[0]
            allowed = {r[0] for r in rows}
            banned = [variables[var][v] for v in order[var] if v not in allowed]
            if banned:
                model.constraints.append({"id": cid, "cardinality": {"options": banned, "max": 0}, "message": message})
            continue
        compressed = compress_table(rows, [order[c] for c in columns])
        model.constraints.append({
            "id": cid,
            "table": {"columns": [feature_of[c] for c in columns],
                      "allowed": [[variables[c][v] if v != "*" else "*" for c, v in zip(columns, row, strict=True)]
                                  for row in compressed]},
            "message": message,
        })
    return model


def _read_table(path: Path, variables: dict[str, dict[str, str]]) -> tuple[list[str], list[tuple[str, ...]]]:
    columns: list[str] | None = None
    rows: list[tuple[str, ...]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text in ("or(", "or)"):
            continue
        pairs = []
        for part in re.split(r"\s+and\s+", text):
            m = _ASSIGNMENT.fullmatch(part)
            if not m:
                raise SourceFormatError(f"{path}:{number}: expected 'Var = value and …', got {part!r}")
            var, value = m.groups()
            if var not in variables:
                raise SourceFormatError(f"{path}:{number}: unknown variable '{var}'")
            if value not in variables[var]:
                raise SourceFormatError(f"{path}:{number}: '{value}' is not in the domain of {var}")
            pairs.append((var, value))
        names = [p[0] for p in pairs]
        if columns is None:
            if len(set(names)) != len(names):
                raise SourceFormatError(f"{path}:{number}: a variable appears twice in one tuple")
            columns = names
        elif names != columns:
            if sorted(names) != sorted(columns):
                raise SourceFormatError(f"{path}:{number}: tuple is over {names}, the table is over {columns}")
            pairs.sort(key=lambda p: columns.index(p[0]))
        rows.append(tuple(p[1] for p in pairs))
    return columns or [], rows
