"""Importers turn CLib, XCSP and DIMACS models into rule files the real loader reads, meaning intact."""

from __future__ import annotations

import itertools
import textwrap

import pytest

from cpq.configurator import Selection, valid_domains, validate
from cpq.importers import IdMaker, SourceFormatError, compress_table, write_rule_file
from cpq.importers.clib import read_clib
from cpq.importers.dimacs import read_dimacs
from cpq.importers.xcsp import read_xcsp
from cpq.ruleset.loader import load_ruleset
from cpq.ruleset.schemas import ID_PATTERN


def imported(model, tmp_path):
    folder = tmp_path / "out"
    write_rule_file(model, folder)
    return load_ruleset([folder])


@pytest.mark.parametrize("raw", ["53C700_LE_ON_BE", "a--b", "x.y z", "-lead", "trail-", "not", "context", "é", "A-_-B"])
def test_any_name_becomes_a_valid_unique_id(raw):
    ids = IdMaker()
    first, second = ids.make(raw), ids.make(raw)
    assert ID_PATTERN.match(first) and ID_PATTERN.match(second)
    assert first != second
    assert first.lower() not in ("not", "context")


def test_rows_covering_a_whole_column_merge_into_a_star_without_changing_the_relation():
    domains = [["a", "b"], ["x", "y"], ["p", "q"]]
    rows = [("a", "x", "p"), ("a", "y", "p"), ("b", "x", "p"), ("a", "x", "q")]

    compressed = compress_table(rows, domains)

    assert len(compressed) < len(rows) and any("*" in r for r in compressed)
    expanded = {t for r in compressed for t in itertools.product(*[d if c == "*" else [c] for c, d in zip(r, domains, strict=True)])}
    assert expanded == set(rows)


def test_clib_tables_keep_their_meaning(tmp_path):
    src = tmp_path / "toy"
    (src / "rules").mkdir(parents=True)
    (src / "toy_domains.txt").write_text("Var1 : A, B\nVar2 : X, Y, No\nVar3 : P\n")
    (src / "rules" / "toy_rule001.pm").write_text(textwrap.dedent("""\
        or(
        Var1 = A  and Var2 = X
        or(
        Var1 = A  and Var2 = Y
        or)
        Var1 = B  and Var2 = No
        or)
        """))
    (src / "rules" / "toy_rule002.pm").write_text("or(\nVar2 = X\nVar2 = No\nor)\n")
    model = read_clib(src)
    ruleset = imported(model, tmp_path)
    option = model.option_of

    after_a = valid_domains(ruleset, model.product_id, Selection.of(option[("Var1", "A")]))

    assert after_a.options[option[("Var2", "X")]].selectable
    assert not after_a.options[option[("Var2", "Y")]].selectable  # rule002 allows X and No only
    assert not after_a.options[option[("Var2", "No")]].selectable  # rule001: No needs B
    assert after_a.options[option[("Var3", "P")]].state == "required"


def test_clib_reports_a_tuple_outside_the_domain(tmp_path):
    src = tmp_path / "bad"
    (src / "rules").mkdir(parents=True)
    (src / "bad_domains.txt").write_text("Var1 : A, B\n")
    (src / "rules" / "r.pm").write_text("or(\nVar1 = C\nor)\n")
    with pytest.raises(SourceFormatError, match=r"r.pm:2: 'C' is not in the domain of Var1"):
        read_clib(src)


XCSP = """<instance>
 <presentation name="toy" format="XCSP 2.1"/>
 <domains nbDomains="2"><domain name="D3" nbValues="3">0..2</domain><domain name="Dopt" nbValues="2">-1 0</domain></domains>
 <variables nbVariables="3">
  <variable name="a" domain="D3"/><variable name="b" domain="D3"/><variable name="o" domain="Dopt"/>
 </variables>
 <relations nbRelations="3">
  <relation name="same" arity="2" nbTuples="3" semantics="supports">0 0|1 1|2 2</relation>
  <relation name="no" arity="2" nbTuples="1" semantics="conflicts">2 -1</relation>
  <relation name="small" arity="1" nbTuples="1" semantics="conflicts">0</relation>
 </relations>
 <constraints nbConstraints="3">
  <constraint name="c1" arity="2" scope="a b" reference="same"/>
  <constraint name="c2" arity="2" scope="a o" reference="no"/>
  <constraint name="c3" arity="1" scope="b" reference="small"/>
 </constraints>
</instance>"""


def test_xcsp_supports_conflicts_and_negative_values(tmp_path):
    path = tmp_path / "toy.xml"
    path.write_text(XCSP)
    model = read_xcsp(path)
    ruleset = imported(model, tmp_path)
    option = model.option_of
    assert option[("o", "-1")] == "o-m1"

    doms = valid_domains(ruleset, model.product_id, Selection.of(option[("a", "2")]))

    assert [o for o in ("b-0", "b-1", "b-2") if doms.options[o].selectable] == ["b-2"]
    assert doms.options["o-m1"].selectable is False  # conflict (a=2, o=-1)
    assert valid_domains(ruleset, model.product_id, Selection.of()).options["a-0"].selectable is False  # b≠0


def test_xcsp_refuses_intensional_constraints(tmp_path):
    path = tmp_path / "p.xml"
    path.write_text(XCSP.replace('reference="same"', 'reference="P0"'))
    with pytest.raises(SourceFormatError, match="only extensional constraints"):
        read_xcsp(path)


CNF = """c 1 Root
c 2 and
c 3 B-x
c 4 context
c 5 5E
p cnf 5 6
1 0
-2 1 0
-3 1 0
-2 -3 0
2 3 -4 0
-4 -5 -1 0
"""


def test_dimacs_valid_configurations_are_exactly_the_models_of_the_cnf(tmp_path):
    path = tmp_path / "fm.dimacs"
    path.write_text(CNF)
    model = read_dimacs(path)
    ruleset = imported(model, tmp_path)
    clauses = [[int(x) for x in line.split()[:-1]] for line in CNF.splitlines() if line and line[0] not in "cp"]
    options = [model.option_of[(str(v), "1")] for v in range(1, 6)]

    for bits in itertools.product([0, 1], repeat=5):
        chosen = {o: 1 for o, b in zip(options, bits, strict=True) if b}
        expected = all(any((lit > 0) == bool(bits[abs(lit) - 1]) for lit in c) for c in clauses)
        assert validate(ruleset, model.product_id, Selection(chosen)).valid == expected, bits


def test_dimacs_checks_its_input(tmp_path):
    path = tmp_path / "bad.dimacs"
    path.write_text("p cnf 2 1\n1 3 0\n")
    with pytest.raises(SourceFormatError, match="bad.dimacs:2: literal 3 exceeds the 2 declared variables"):
        read_dimacs(path)


def test_cli_import_then_lint_passes(tmp_path, cli):
    path = tmp_path / "fm.dimacs"
    path.write_text(CNF)
    out = tmp_path / "rules"

    result = cli("import", "dimacs", str(path), "-o", str(out))

    assert result.exit_code == 0, result.output
    assert "5 features, 5 options, 6 constraints" in result.output
    assert cli("lint", str(out)).exit_code == 0


def test_cli_import_reports_a_bad_source_without_a_traceback(tmp_path, cli):
    path = tmp_path / "bad.dimacs"
    path.write_text("1 2 0\n")
    result = cli("import", "dimacs", str(path), "-o", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "clause before the 'p cnf' line" in result.output
