"""XCSP 2.1 instances whose constraints are extensional tables → rule file.

Input: `<domains>` (values and `a..b` ranges), `<variables>`, `<relations>` with
`semantics="supports"` or `"conflicts"` (tuples separated by `|`) and `<constraints>` that
reference them. Every variable becomes a feature with exactly one option per value (min 1,
max 1); option ids are `<variable>-<value>` (negative values `m<abs>`, e.g. BR4CP's joker −1 is
`v7-m1`). A constraint over two or more variables becomes a table (`allowed` for supports,
`forbidden` for conflicts; complete column groups merged into `*`); over one variable, a
cardinality constraint that forbids the excluded values. Intensional constraints (predicates,
global constraints) are not part of this importer and are reported as errors.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from cpq.importers import IdMaker, ImportedFeature, ImportedModel, SourceFormatError, compress_table


def _values(text: str, where: str) -> list[str]:
    out: list[str] = []
    for token in text.split():
        if ".." in token:
            lo, _, hi = token.partition("..")
            try:
                out.extend(str(v) for v in range(int(lo), int(hi) + 1))
            except ValueError:
                raise SourceFormatError(f"{where}: bad range '{token}'") from None
        else:
            out.append(token)
    return out


def _value_id(value: str) -> str:
    return f"m{value[1:]}" if value.startswith("-") else value


def read_xcsp(source: str | Path, family: str | None = None) -> ImportedModel:
    """Read an XCSP 2.1 instance made of extensional (table) constraints."""
    path = Path(source)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise SourceFormatError(f"{path}: not an XML file ({exc})") from None
    presentation = root.find("presentation")
    name = family or (presentation.get("name") if presentation is not None and presentation.get("name") else path.stem)
    domains = {d.get("name"): _values(d.text or "", f"{path}: domain {d.get('name')}") for d in root.iter("domain")}
    ids = IdMaker()
    family_id = ids.make(name, "M")
    model = ImportedModel(family=family_id, product_id=ids.make(f"{family_id}-model", "P"),
                          product_name=f"{name} (XCSP)", source=f"XCSP file {path.name}")
    variables: dict[str, dict[str, str]] = {}
    order: dict[str, list[str]] = {}
    feature_of: dict[str, str] = {}
    for v in root.iter("variable"):
        var, dom = v.get("name"), v.get("domain")
        if dom not in domains:
            raise SourceFormatError(f"{path}: variable '{var}' has unknown domain '{dom}'")
        feature_id = ids.make(var, "V")
        options = {val: ids.make(f"{feature_id}-{_value_id(val)}", "V") for val in domains[dom]}
        variables[var], order[var], feature_of[var] = options, domains[dom], feature_id
        model.option_of.update({(var, val): o for val, o in options.items()})
        model.features.append(ImportedFeature(feature_id, var, 1, 1, [(options[val], val) for val in domains[dom]]))
    relations = {}
    for r in root.iter("relation"):
        semantics = r.get("semantics", "supports")
        if semantics not in ("supports", "conflicts"):
            raise SourceFormatError(f"{path}: relation '{r.get('name')}' has semantics '{semantics}'")
        arity = int(r.get("arity", "0"))
        tuples = [tuple(t.split()) for t in (r.text or "").split("|") if t.strip()]
        if any(len(t) != arity for t in tuples):
            raise SourceFormatError(f"{path}: relation '{r.get('name')}' has a tuple that is not of arity {arity}")
        relations[r.get("name")] = (semantics, tuples)
    for c in root.iter("constraint"):
        cname, reference = c.get("name"), c.get("reference")
        if reference not in relations:
            raise SourceFormatError(f"{path}: constraint '{cname}' is not a table (reference '{reference}'); "
                                    "only extensional constraints are imported")
        scope = (c.get("scope") or "").split()
        unknown = [v for v in scope if v not in variables]
        if unknown:
            raise SourceFormatError(f"{path}: constraint '{cname}' names unknown variables {unknown}")
        if len(set(scope)) != len(scope):
            raise SourceFormatError(f"{path}: constraint '{cname}' names a variable twice")
        semantics, tuples = relations[reference]
        for t in tuples:
            for var, val in zip(scope, t, strict=True):
                if val not in variables[var]:
                    raise SourceFormatError(f"{path}: constraint '{cname}': {val} is not in the domain of {var}")
        cid = ids.make(cname, "C")
        message = f"This combination is not allowed ({cname})."
        if len(scope) == 1:
            listed = {t[0] for t in tuples}
            var = scope[0]
            banned = [variables[var][v] for v in order[var] if (v in listed) != (semantics == "supports")]
            if banned:
                model.constraints.append({"id": cid, "cardinality": {"options": banned, "max": 0}, "message": message})
            continue
        columns = [feature_of[v] for v in scope]
        if semantics == "supports":
            rows = compress_table(tuples, [order[v] for v in scope])
            key = "allowed"
        else:
            rows, key = sorted(set(tuples)), "forbidden"
        cells = [[variables[v][val] if val != "*" else "*" for v, val in zip(scope, row, strict=True)] for row in rows]
        if key == "allowed" and not cells:
            raise SourceFormatError(f"{path}: constraint '{cname}' allows no tuple: the model has no valid configuration")
        if key == "forbidden" and not cells:
            continue
        model.constraints.append({"id": cid, "table": {"columns": columns, key: cells}, "message": message})
    return model
