"""DIMACS CNF feature models → rule file.

Input: `p cnf VARS CLAUSES`, clauses as whitespace-separated literals ending in 0, and optional
`c <number> <feature name>` comment lines naming the variables (FeatureIDE's convention). Every
variable becomes an option (its feature name, made a valid id) in a feature of its own with
min 0, max 1. Each clause becomes one structured constraint, so no expression has to be parsed:
`¬a ∨ ¬b ∨ c ∨ d` is `requires: {if: [a, b], then: [c, d]}`; a clause of only positive or only
negative literals is a `check:` expression such as `` `a` or `b` `` or `` not `a` or not `b` ``
(names in backticks, so that no id reads as a keyword). These two forms load fastest: the
loader's `excludes` and `cardinality` build sympy inequalities whose automatic evaluation costs
milliseconds each.
"""

from __future__ import annotations

from pathlib import Path

from cpq.importers import IdMaker, ImportedFeature, ImportedModel, SourceFormatError


def read_dimacs(source: str | Path, family: str | None = None) -> ImportedModel:
    """Read a DIMACS CNF file (with FeatureIDE name comments) as a product of boolean features."""
    path = Path(source)
    if not path.is_file():
        raise SourceFormatError(f"{path}: not a file")
    names: dict[int, str] = {}
    declared: tuple[int, int] | None = None
    clauses: list[tuple[int, list[int]]] = []
    current: list[int] = []
    start_line = 0
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("%"):
            continue
        if text.startswith("c"):
            parts = text.split(None, 2)
            if len(parts) == 3 and parts[1].rstrip("$").isdigit():
                names[int(parts[1].rstrip("$"))] = parts[2].strip()
            continue
        if text.startswith("p"):
            parts = text.split()
            if len(parts) != 4 or parts[1] != "cnf" or not (parts[2].isdigit() and parts[3].isdigit()):
                raise SourceFormatError(f"{path}:{number}: expected 'p cnf VARIABLES CLAUSES'")
            declared = (int(parts[2]), int(parts[3]))
            continue
        if declared is None:
            raise SourceFormatError(f"{path}:{number}: clause before the 'p cnf' line")
        for token in text.split():
            try:
                lit = int(token)
            except ValueError:
                raise SourceFormatError(f"{path}:{number}: '{token}' is not a literal") from None
            if abs(lit) > declared[0]:
                raise SourceFormatError(f"{path}:{number}: literal {lit} exceeds the {declared[0]} declared variables")
            if lit == 0:
                clauses.append((start_line or number, current))
                current, start_line = [], 0
            else:
                start_line = start_line or number
                current.append(lit)
    if declared is None:
        raise SourceFormatError(f"{path}: no 'p cnf' line")
    if current:
        clauses.append((start_line, current))
    ids = IdMaker()
    family_id = ids.make(family or path.stem, "M")
    model = ImportedModel(family=family_id, product_id=ids.make(f"{family_id}-model", "P"),
                          product_name=f"{family or path.stem} (feature model)", source=f"DIMACS file {path.name}")
    option_of: dict[int, str] = {}
    for var in range(1, declared[0] + 1):
        name = names.get(var, f"v{var}")
        option_of[var] = ids.make(name, "F")
        model.option_of[(str(var), "1")] = option_of[var]
    for var in range(1, declared[0] + 1):
        name = names.get(var, f"v{var}")
        model.features.append(ImportedFeature(ids.make(f"{option_of[var]}-f", "F"), name, 0, 1, [(option_of[var], name)]))
    for k, (line, lits) in enumerate(clauses, 1):
        unique = list(dict.fromkeys(lits))
        if any(-lit in unique for lit in unique):
            continue  # a tautology constrains nothing
        if not unique:
            raise SourceFormatError(f"{path}:{line}: an empty clause: the model has no valid configuration")
        pos = [option_of[lit] for lit in unique if lit > 0]
        neg = [option_of[-lit] for lit in unique if lit < 0]
        text = " or ".join([*(f"not {o}" for o in neg), *pos])
        c: dict = {"id": f"clause{k}", "message": f"Feature model clause {k}: {text}."}
        if neg and pos:
            c["requires"] = {"if": neg, "then": pos}
        else:  # only positive or only negative literals
            c["check"] = " or ".join([*(f"not `{o}`" for o in neg), *(f"`{o}`" for o in pos)])
        model.constraints.append(c)
    return model
