"""Hypothesis strategies: small random products written as real rule files, with mixed rule kinds."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

from hypothesis import strategies as st

from cpq.ruleset.loader import load_ruleset

COUNTRIES = ["", "CN", "DE"]
CHANNELS = ["", "web"]


@st.composite
def small_products(draw, max_options: int = 7, components: bool = True):
    """YAML text of a family with product P (and SUB when P has a component) + facts for tests."""
    n = draw(st.integers(3, max_options))
    names = [f"O{i}" for i in range(n)]
    opts = {}
    for name in names:
        w = draw(st.integers(0, 4))
        c = draw(st.sampled_from(["a", "b"]))
        spec = f"{{attributes: {{w: {w}, c: {c}}}"
        if draw(st.integers(0, 3)) == 0:
            hi = draw(st.integers(2, 3))
            lo = draw(st.integers(1, hi))
            spec += f", quantity: {{min: {lo}, max: {hi}}}"
        opts[name] = spec + "}"
    # features: contiguous chunks
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=2)))
    chunks = [names[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    features = {}
    for k, chunk in enumerate(chunks):
        lo = draw(st.integers(0, min(1, len(chunk))))
        hi = draw(st.integers(max(lo, 1), len(chunk)))
        features[f"f{k}"] = (chunk, lo, hi)
    has_comp = components and draw(st.booleans())
    comp = None
    if has_comp:
        cmin = draw(st.integers(0, 1))
        cmax = draw(st.integers(max(cmin, 1), 3))
        comp = (cmin, cmax)

    def opt():
        return draw(st.sampled_from(names))

    def some(k_max=2):
        return draw(st.lists(st.sampled_from(names), min_size=1, max_size=k_max, unique=True))

    constraints = []
    kinds = draw(st.lists(st.sampled_from([
        "requires", "excludes", "cardinality", "table", "forbidden", "sum", "qty_sum", "conditional",
        "minmax", "abs", "if", "feature_attr", "context", "count", "when_requires", "component",
    ]), max_size=4))
    for i, kind in enumerate(kinds):
        cid = f"c{i}"
        if kind == "requires":
            constraints.append(f"{{id: {cid}, requires: {{if: {some()}, then: {some()}}}}}")
        elif kind == "when_requires":
            constraints.append(f"{{id: {cid}, when: \"{opt()}.qty >= 2\", requires: {{if: {some(1)}, then: {some()}}}}}")
        elif kind == "excludes":
            constraints.append(f"{{id: {cid}, excludes: {draw(st.lists(st.sampled_from(names), min_size=2, max_size=3, unique=True))}}}")
        elif kind == "cardinality":
            group = some(3)
            lo = draw(st.integers(0, len(group)))
            hi = draw(st.integers(lo, len(group)))
            constraints.append(f"{{id: {cid}, cardinality: {{options: {group}, min: {lo}, max: {hi}}}}}")
        elif kind in ("table", "forbidden") and len(features) >= 2:
            f1, f2 = draw(st.lists(st.sampled_from(sorted(features)), min_size=2, max_size=2, unique=True))
            cells = [(a, b) for a in [*features[f1][0], "*"] for b in [*features[f2][0], "*"]]
            rows = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=4, unique=True))
            key = "allowed" if kind == "table" else "forbidden"
            rows_text = ", ".join(f"['{a}', '{b}']" for a, b in rows)
            constraints.append(f"{{id: {cid}, table: {{columns: [{f1}, {f2}], {key}: [{rows_text}]}}}}")
        elif kind == "sum":
            constraints.append(f"{{id: {cid}, check: \"sum(w * qty) <= {draw(st.integers(0, 8))}\"}}")
        elif kind == "qty_sum":
            a, b = opt(), opt()
            op = draw(st.sampled_from(["<=", ">=", "==", "!=", "<", ">"]))
            constraints.append(f"{{id: {cid}, check: \"{a}.qty + 2 * {b}.qty {op} {draw(st.integers(0, 6))}\"}}")
        elif kind == "conditional":
            constraints.append(f"{{id: {cid}, when: \"{opt()}\", then: \"not {opt()} or {opt()}.qty >= 2\"}}")
        elif kind == "minmax":
            fn = draw(st.sampled_from(["min", "max"]))
            constraints.append(f"{{id: {cid}, check: \"{fn}({opt()}.qty, {opt()}.qty) <= {draw(st.integers(0, 2))}\"}}")
        elif kind == "abs":
            constraints.append(f"{{id: {cid}, check: \"abs({opt()}.qty - {opt()}.qty) <= 1\"}}")
        elif kind == "if":
            constraints.append(f"{{id: {cid}, check: \"if({opt()}, {opt()}.w, 1) + {opt()}.qty / 2 <= 3\"}}")
        elif kind == "feature_attr":
            single = [f for f, (_, _, hi) in features.items() if hi == 1]
            if single:
                f = draw(st.sampled_from(single))
                constraints.append(f"{{id: {cid}, check: \"{f}.c != 'b' or {f}.w >= 1\"}}")
        elif kind == "context":
            country = draw(st.sampled_from(["CN", "DE"]))
            constraints.append(f"{{id: {cid}, when: \"context.country == '{country}'\", then: \"not {opt()}\"}}")
        elif kind == "count":
            constraints.append(f"{{id: {cid}, check: \"count(c == 'a') <= {draw(st.integers(0, 2))}\"}}")
        elif kind == "component" and comp is not None:
            constraints.append(f"{{id: {cid}, when: \"sub\", then: \"{opt()}.qty >= sub.qty or {opt()}\"}}")
    rules = []
    if draw(st.booleans()):
        rules.append(f"{{id: v0, kind: validation, check: \"not {opt()} or {opt()}.qty >= 2\", message: validation}}")
    if draw(st.booleans()):
        rules.append(f"{{id: h0, kind: filter, when: \"context.channel == 'web'\", hide: [{opt()}]}}")
    feature_lines = "\n".join(
        f"      {fid}: {{min: {lo}, max: {hi}, options: [{', '.join(chunk)}]}}" for fid, (chunk, lo, hi) in features.items())
    option_lines = "\n".join(f"  {name}: {spec}" for name, spec in opts.items())
    comp_lines = ""
    sub_product = ""
    if comp is not None:
        comp_lines = f"    components:\n      sub: {{product: SUB, min: {comp[0]}, max: {comp[1]}, default: {comp[0]}}}\n"
        sub_product = "  SUB:\n    name: sub\n    features:\n      g: {min: 0, max: 1, options: [S0]}\n"
        option_lines += "\n  S0: {attributes: {w: 1, c: a}}"
    text = textwrap.dedent("""\
        format: 1
        kind: product
        family: fam
        attributes: {w: integer, c: string}
        options:
        """) + option_lines + "\nproducts:\n  P:\n    name: p\n    features:\n" + feature_lines + "\n" + comp_lines
    if constraints:
        text += "    constraints:\n" + "".join(f"      - {c}\n" for c in constraints)
    if rules:
        text += "    rules:\n" + "".join(f"      - {r}\n" for r in rules)
    text += sub_product
    context = {"context.country": draw(st.sampled_from(COUNTRIES)), "context.channel": draw(st.sampled_from(CHANNELS))}
    return text, context


def load_text(text: str):
    """Load one product file's text as a Ruleset (through the real loader)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fam.yaml"
        path.write_text(text)
        return load_ruleset([folder])


@st.composite
def partial_selections(draw, ruleset, product_id: str = "P"):
    """A random partial selection over the product's options (chosen with or without quantity, excluded)."""
    product = ruleset.products[product_id]
    chosen, excluded = {}, []
    for o in product.option_ids:
        pick = draw(st.integers(0, 9))
        q = ruleset.options[o].quantity
        if pick == 0:
            chosen[o] = None
        elif pick == 1:
            chosen[o] = draw(st.integers(max(q.min, 1), max(q.max, 1)))
        elif pick == 2:
            excluded.append(o)
    components = {}
    for c in product.components:
        if draw(st.booleans()):
            components[c.id] = draw(st.integers(c.min, c.max))
    return chosen, excluded, components
