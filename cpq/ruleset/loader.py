"""Read rule and pricebook files into one immutable Ruleset, or report every error in one pass."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sympy
import yaml
from marshmallow import EXCLUDE, Schema, ValidationError, fields

from cpq.catalog import (
    Component,
    Constraint,
    Expression,
    Feature,
    Option,
    Product,
    ProductRule,
    QuantityRange,
    Source,
    frozen_map,
)
from cpq.errors import RuleFileError, RulesetInvalid
from cpq.pricing.books import (
    Adjustment,
    AppliesTo,
    Band,
    Effective,
    Floor,
    Pricebook,
    PriceEntry,
    TaxPolicy,
    Tiers,
)
from cpq.ruleset import schemas, yamlpos
from cpq.ruleset.expressions import (
    ExpressionError,
    Scope,
    Type,
    check,
    did_you_mean,
    parse,
    to_sympy,
)
from cpq.ruleset.memory import LARGE_INPUT, before_large_load, collector_paused, settle
from cpq.ruleset.model import ApprovalPolicy, RuleFile, Ruleset
from cpq.ruleset.scopes import ContextScope, FormulaScope, ProductScope, sel
from cpq.ruleset.tables import TABLE_SUFFIXES, TableLoading

YAML_SUFFIXES = (".yaml", ".yml")
TESTS_DIR = "tests"  # rule test cases live beside the rules (cpq rules test); they are not rule files
_ALL_FIELDS = sorted({
    f.data_key or name
    for cls in vars(schemas).values()
    if isinstance(cls, type) and issubclass(cls, Schema)
    for name, f in cls._declared_fields.items()
})


@dataclass
class _File:
    path: str  # as shown in errors
    key: str  # path inside its root, part of the version hash
    data: object
    kind: str


def discover(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, str]]:
    """Every YAML file (and CSV table) under the given files/folders, with its path inside its root (sorted)."""
    found: dict[Path, str] = {}
    for raw in paths:
        root = Path(raw)
        if root.is_dir():
            for f in sorted(root.rglob("*")):
                rel = f.relative_to(root)
                if f.suffix in YAML_SUFFIXES + TABLE_SUFFIXES and f.is_file() and is_rule_file_key(rel.as_posix()):
                    found[f.resolve()] = rel.as_posix()
        elif root.exists():
            found[root.resolve()] = root.name
        else:
            raise FileNotFoundError(f"no such file or folder: {raw}")
    return sorted(((p, k) for p, k in found.items()), key=lambda item: (item[1], str(item[0])))


def is_rule_file_key(key: str) -> bool:
    """Whether a path inside a root is a rule file: not hidden, not a rule test case under tests/."""
    parts = key.split("/")
    return parts[0] != TESTS_DIR and not any(p.startswith(".") for p in parts)


def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


_CACHE: OrderedDict[tuple, Ruleset] = OrderedDict()
_CACHE_SIZE = 8
_cache_lock = threading.Lock()


def load_ruleset(paths: Sequence[str | os.PathLike]) -> Ruleset:
    """Load and validate every file under `paths`; raise RulesetInvalid listing all errors.

    Files whose bytes (and places) are unchanged since an earlier load give back that same immutable
    Ruleset: checking is reading and hashing the files, not compiling them again.
    """
    found = discover(paths)
    raws = [(path, key, path.read_bytes()) for path, key in found]
    cache_key = tuple((str(path), hashlib.sha256(raw).hexdigest()) for path, _, raw in raws)
    return _load_cached(paths, raws, cache_key)


def load_ruleset_files(files: Sequence[tuple[str, str, bytes]]) -> Ruleset:
    """Load (shown path, key inside its root, bytes) triples — a stored version or an upload.

    The same files give the same version as loading their folders: the hash covers keys and bytes.
    """
    raws = sorted(((Path(shown), key, raw) for shown, key, raw in files), key=lambda f: (f[1], str(f[0])))
    cache_key = tuple((str(path), hashlib.sha256(raw).hexdigest()) for path, _, raw in raws)
    return _load_cached([shown for shown, _, _ in files] or ["(no files)"], raws, cache_key)


def _load_cached(paths: Sequence, raws: list[tuple[Path, str, bytes]], cache_key: tuple) -> Ruleset:
    with _cache_lock:
        if cache_key in _CACHE:
            _CACHE.move_to_end(cache_key)
            return _CACHE[cache_key]
    ruleset = _Loader().load(paths, raws)
    with _cache_lock:
        _CACHE[cache_key] = ruleset
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return ruleset


class _Loader(TableLoading):
    def __init__(self) -> None:
        self.errors: list[RuleFileError] = []
        self.tables = {}  # CSV tables by shown path, claimed by the pricebooks that name them
        self.rule_ids: dict[str, Source] = {}
        self.broken: set[str] = set()  # ids whose definition had errors: no "unknown id" echoes
        self.compiled: dict[tuple, tuple] = {}  # (text, scope, type) → (ast, sympy) for scopes that allow it

    # ------------------------------------------------------------------ error helpers
    def error(self, path: str, pos, rule_id: str, code: str, message: str, suggestion: str | None = None,
              ref: str | None = None):
        if ref is not None and ref in self.broken:
            return  # the definition of `ref` already has an error; don't echo it as "unknown"
        self.errors.append(RuleFileError(path, pos[0], pos[1], rule_id or "-", code, message, suggestion))

    def claim_id(self, f: _File, rule_id: str, pos, what: str) -> None:
        """Rule ids are unique across the whole ruleset; report the second use."""
        if rule_id in self.rule_ids:
            first = self.rule_ids[rule_id]
            self.error(f.path, pos, rule_id, "duplicate_id", f"duplicate {what} id '{rule_id}' (first defined at {first})")
        else:
            self.rule_ids[rule_id] = Source(f.path, *pos)

    # ------------------------------------------------------------------ reading
    def load(self, paths: Sequence[str | os.PathLike], raws: list[tuple[Path, str, bytes]]) -> Ruleset:
        # Loading allocates millions of small objects and frees few: the cyclic collector's passes over
        # them took half the time of a large load (measured: 16.8 s → 8.4 s for 26,000 options).
        large = sum(len(raw) for _, _, raw in raws) >= LARGE_INPUT
        if large:
            before_large_load()
        with collector_paused():
            ruleset = self._load(paths, raws)
            settle(large)  # still paused (see settle)
        return ruleset

    def _load(self, paths: Sequence[str | os.PathLike], raws: list[tuple[Path, str, bytes]]) -> Ruleset:
        digest = hashlib.sha256()
        files: list[_File] = []
        infos: list[RuleFile] = []
        for path, key, raw in raws:
            digest.update(key.encode() + b"\0" + hashlib.sha256(raw).digest())
            if path.suffix in TABLE_SUFFIXES:
                if self.add_table(_shown(path), raw):
                    infos.append(RuleFile(_shown(path), hashlib.sha256(raw).hexdigest(), "table"))
                continue
            f = self.read(path, key, raw)
            if f is not None:
                files.append(f)
                infos.append(RuleFile(f.path, hashlib.sha256(raw).hexdigest(), f.kind))
        if not files and not self.errors:
            shown = ", ".join(str(p) for p in paths)
            self.errors.append(RuleFileError(shown, 1, 1, "-", "no_files", "no rule files (*.yaml) found"))

        by_kind = {k: [f for f in files if f.kind == k] for k in schemas.FILE_SCHEMAS}
        options, attribute_types, option_family_types = self.collect_options(by_kind["product"])
        products = self.build_products(by_kind["product"], options, option_family_types)
        pricebooks = self.build_pricebooks(by_kind["pricebook"], products, options)
        self.report_unused_tables()
        policies, limits = self.build_approvals(by_kind["approvals"])
        if self.errors:
            raise RulesetInvalid(self.errors)
        return Ruleset(
            version=digest.hexdigest(),
            files=tuple(infos),
            products=frozen_map(products),
            options=frozen_map(options),
            attribute_types=frozen_map((k, frozen_map(v)) for k, v in attribute_types.items()),
            pricebooks=frozen_map(pricebooks),
            approval_policies=tuple(policies),
            discount_limits=frozen_map(limits),
        )

    def read(self, path: Path, key: str, raw: bytes) -> _File | None:
        shown = _shown(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.error(shown, (1, 1), "-", "rule_syntax", f"file is not UTF-8 text ({exc.reason})")
            return None
        try:
            data, duplicates = yamlpos.load(text)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            mark = getattr(exc, "problem_mark", None)
            if "<stream end>" in problem and getattr(exc, "context_mark", None):
                mark = exc.context_mark  # point at the bracket or quote that is never closed
            mark = mark or getattr(exc, "context_mark", None)
            pos = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            context = getattr(exc, "context", None)
            message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
            self.error(shown, pos, "-", "rule_syntax", message)
            return None
        if not isinstance(data, yamlpos.PosDict):
            self.error(shown, getattr(data, "pos", (1, 1)), "-", "rule_syntax", "a rule file is a mapping with 'format' and 'kind'")
            return None
        file_id = str(data.get("family") or data.get("id") or "-")
        for dup in duplicates:
            self.error(shown, dup.pos, file_id, "duplicate_key", str(dup))
        kind = data.get("kind")
        schema_cls = schemas.FILE_SCHEMAS.get(kind) if isinstance(kind, str) else None
        # Without a known kind only the header can be judged; its other fields would all be "unknown".
        schema = schema_cls() if schema_cls else schemas.FileHeader(unknown=EXCLUDE)
        reported: set[tuple] = set()
        for _attempt in range(50):
            try:
                schema.load(data)
                break
            except ValidationError as exc:
                problems = list(_flatten(exc.messages, data))
            for err_path, message in problems:
                if (err_path, message) not in reported:
                    reported.add((err_path, message))
                    self.schema_error(shown, data, err_path, message, file_id, schema)
            # Drop the broken entries (an option, a rule, a price…) and judge the rest of the file,
            # so one typo does not hide every other error behind it.
            cuts = {err_path if message == "Unknown field." else _prunable(err_path) for err_path, message in problems}
            if None in cuts or schema_cls is None:
                return None
            for cut in sorted(cuts, key=lambda c: [str(type(x)) + str(x).zfill(9) for x in c], reverse=True):
                self.prune(data, cut)
        else:  # pragma: no cover - a file with more than 50 layers of errors
            return None
        return _File(shown, key, data, kind)

    def prune(self, data, path: tuple) -> None:
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if isinstance(parent, yamlpos.PosList) and isinstance(last, int) and last < len(parent):
            item = parent.pop(last)
            parent.item_pos.pop(last)
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                self.broken.add(item["id"])
        elif isinstance(parent, yamlpos.PosDict) and last in parent:
            del parent[last]
            self.broken.add(str(last))

    def schema_error(self, shown: str, data, path: tuple, message: str, file_id: str, schema: Schema) -> None:
        if message == "Unknown field.":
            field = str(path[-1])
            self.error(shown, yamlpos.locate_key(data, path), _nearest_id(data, path, file_id), "unknown_field",
                       f"unknown field '{field}'", did_you_mean(field, _fields_at(schema, path[:-1])))
            return
        if message.startswith("key: "):
            self.error(shown, yamlpos.locate_key(data, path), _nearest_id(data, path[:-1], file_id), "invalid_field",
                       f"'{path[-1]}' is not a valid id: {message.removeprefix('key: ')}")
            return
        if message == "Missing data for required field.":
            message = f"missing required field '{path[-1]}'"
            pos = yamlpos.locate_key(data, path[:-1]) if len(path) > 1 else (1, 1)
        else:
            message = message.rstrip(".")
            message = message[0].lower() + message[1:] if message[:1].isupper() and not message[1:2].isupper() else message
            if path and path[-1] in _ALL_FIELDS:
                message = f"{path[-1]}: {message}"
            pos = yamlpos.locate(data, tuple(p for p in path if p != "_schema"))
        self.error(shown, pos, _nearest_id(data, path, file_id), "invalid_field", message)

    # ------------------------------------------------------------------ expressions
    def expression(self, f: _File, holder, key: str, scope: Scope, rule_id: str, expected: Type | None) -> Expression | None:
        text = holder[key]
        line, col = holder.value_pos[key]
        style = holder.value_style.get(key)
        cache_key = (text, scope.cache_key(), expected) if scope.cache_key() is not None else None
        if cache_key in self.compiled:  # pricebooks repeat conditions ("line.quantity >= 5") thousands of times
            node, symbolic = self.compiled[cache_key]
            return Expression(text, node, symbolic, Source(f.path, line, col))
        try:
            node = parse(text)
            checker = check(node, scope, expected)
            errors = checker.errors
        except ExpressionError as exc:
            errors, checker, node = exc.errors, None, None
        for e in errors:
            if style in ("|", ">"):
                pos = (line + e.line, e.col)
            else:
                pos = (line + e.line - 1, (col + (1 if style in ("'", '"') else 0) + e.col - 1) if e.line == 1 else e.col)
            self.error(f.path, pos, rule_id, e.code, e.message, e.suggestion)
        if errors:
            return None
        symbolic = to_sympy(node, checker)
        if cache_key is not None:
            self.compiled[cache_key] = (node, symbolic)
        return Expression(text, node, symbolic, Source(f.path, line, col))

    # ------------------------------------------------------------------ catalog
    def collect_options(self, files: list[_File]):
        options: dict[str, Option] = {}
        attribute_types: dict[str, dict[str, str]] = {}
        option_family_types: dict[str, dict[str, str]] = {}
        families: dict[str, Source] = {}
        for f in files:
            family = f.data["family"]
            if family in families:
                self.error(f.path, f.data.value_pos["family"], family, "duplicate_id",
                           f"duplicate family '{family}' (first defined at {families[family]})")
            families[family] = Source(f.path, *f.data.value_pos["family"])
            declared = dict(f.data.get("attributes") or {})
            attribute_types[family] = declared
            default_category = f.data.get("category", family)
            for option_id, spec in (f.data.get("options") or {}).items():
                pos = f.data["options"].key_pos[option_id]
                self.claim_id(f, option_id, pos, "option")
                attrs = self.attributes(f, spec, declared, option_id)
                q = spec.get("quantity") or {}
                lo, hi = q.get("min", 1), q.get("max", 1)
                default = q.get("default", lo if lo > 0 else 1)
                if lo > hi:
                    self.error(f.path, spec["quantity"].pos, option_id, "invalid_field", f"quantity min {lo} exceeds max {hi}")
                elif not lo <= default <= hi and not (default == 0 and lo == 0):
                    self.error(f.path, spec["quantity"].pos, option_id, "invalid_field",
                               f"quantity default {default} is outside {lo}..{hi}")
                options[option_id] = Option(
                    id=option_id,
                    name=spec.get("name", option_id),
                    family=family,
                    category=spec.get("category", default_category),
                    attributes=frozen_map(attrs),
                    quantity=QuantityRange(lo, hi, default),
                    source=Source(f.path, *pos),
                )
                option_family_types[option_id] = declared
        return options, attribute_types, option_family_types

    def attributes(self, f: _File, spec, declared: dict[str, str], owner: str) -> dict:
        """Typed attribute values, checked against the family's declared attribute types."""
        out = {}
        values = spec.get("attributes") or {}
        for name, value in values.items():
            pos = values.value_pos[name]
            if name not in declared:
                self.error(f.path, values.key_pos[name], owner, "unknown_attribute",
                           f"attribute '{name}' is not declared in the family's 'attributes'", did_you_mean(name, declared))
                continue
            kind = declared[name]
            ok = {
                "integer": isinstance(value, int) and not isinstance(value, bool),
                "decimal": isinstance(value, int | Decimal) and not isinstance(value, bool),
                "string": isinstance(value, str),
                "boolean": isinstance(value, bool),
            }[kind]
            if not ok:
                self.error(f.path, pos, owner, "type_error", f"attribute '{name}' is declared {kind}, got {value!r}")
                continue
            out[name] = Decimal(value) if kind == "decimal" else value
        return out

    def build_products(self, files: list[_File], options: dict[str, Option], option_types) -> dict[str, Product]:
        products: dict[str, Product] = {}
        pending = []
        for f in files:
            for product_id, spec in f.data["products"].items():
                pos = f.data["products"].key_pos[product_id]
                self.claim_id(f, product_id, pos, "product")
                pending.append((f, product_id, spec, pos))
        known_products = {p for _, p, _, _ in pending}
        for f, product_id, spec, pos in pending:
            family = f.data["family"]
            declared = dict(f.data.get("attributes") or {})
            features = self.features(f, product_id, spec, options)
            components = self.components(f, product_id, spec, known_products)
            attrs = self.attributes(f, spec, declared, product_id)
            # every alias written, even one whose product is unknown (already reported): no echo errors
            scope = ProductScope(options, features, declared, attrs, list(spec.get("components") or {}))
            constraints = tuple(self.constraint(f, c, i, spec["constraints"], scope, features)
                                for i, c in enumerate(spec.get("constraints") or []))
            rules = tuple(self.product_rule(f, r, i, spec["rules"], scope, features)
                          for i, r in enumerate(spec.get("rules") or []))
            products[product_id] = Product(
                id=product_id,
                name=spec["name"],
                family=family,
                category=spec.get("category", f.data.get("category", family)),
                attributes=frozen_map(attrs),
                features=features,
                components=components,
                constraints=tuple(c for c in constraints if c is not None),
                rules=tuple(r for r in rules if r is not None),
                source=Source(f.path, *pos),
            )
        for f, product_id, _spec, _pos in pending:
            self.check_component_cycles(f, product_id, products)
        return products

    def features(self, f: _File, product_id: str, spec, options: dict[str, Option]) -> tuple[Feature, ...]:
        out = []
        mapping = spec.get("features") or {}
        seen_options: dict[str, str] = {}
        for feature_id, fs in mapping.items():
            pos = mapping.key_pos[feature_id]
            opts = fs["options"]
            for i, o in enumerate(opts):
                if o not in options:
                    self.error(f.path, opts.item_pos[i], product_id, "unknown_option",
                               f"feature '{feature_id}' lists unknown option '{o}'", did_you_mean(o, options), ref=o)
                elif o in seen_options:
                    self.error(f.path, opts.item_pos[i], product_id, "duplicate_id",
                               f"option '{o}' is in both feature '{seen_options[o]}' and '{feature_id}'")
                else:
                    seen_options[o] = feature_id
            lo, hi = fs.get("min", 0), fs.get("max", 1)
            if lo > len(opts):
                self.error(f.path, fs.value_pos.get("min", pos), product_id, "invalid_cardinality",
                           f"feature '{feature_id}' needs at least {lo} options but lists only {len(opts)}")
            if lo > hi:
                self.error(f.path, fs.value_pos.get("min", pos), product_id, "invalid_cardinality",
                           f"feature '{feature_id}' has min {lo} greater than max {hi}")
            default = fs.get("default", [])
            default = [default] if isinstance(default, str) else list(default)
            for d in default:
                if d not in opts:
                    self.error(f.path, fs.value_pos["default"], product_id, "unknown_option",
                               f"default '{d}' is not an option of feature '{feature_id}'", did_you_mean(d, opts))
            if len(default) > hi:
                self.error(f.path, fs.value_pos["default"], product_id, "invalid_cardinality",
                           f"feature '{feature_id}' has {len(default)} defaults but allows at most {hi}")
            out.append(Feature(
                id=feature_id,
                label=fs.get("label", feature_id),
                min=lo,
                max=hi,
                options=tuple(o for o in opts if o in options),
                default=tuple(default),
                quantity=bool(fs.get("quantity", False)),
                source=Source(f.path, *pos),
            ))
        ids = {feat.id for feat in out}
        for o in seen_options:
            if o in ids:
                self.error(f.path, mapping.key_pos[o], product_id, "duplicate_id", f"'{o}' is both a feature and an option")
        return tuple(out)

    def components(self, f: _File, product_id: str, spec, known_products: set[str]) -> tuple[Component, ...]:
        out = []
        mapping = spec.get("components") or {}
        for comp_id, cs in mapping.items():
            pos = mapping.key_pos[comp_id]
            if cs["product"] not in known_products:
                self.error(f.path, cs.value_pos["product"], product_id, "unknown_product",
                           f"component '{comp_id}' names unknown product '{cs['product']}'",
                           did_you_mean(cs["product"], known_products), ref=cs["product"])
                continue
            lo, hi = cs.get("min", 1), cs.get("max", 1)
            default = cs.get("default", lo)
            if lo > hi or not lo <= default <= hi:
                self.error(f.path, pos, product_id, "invalid_cardinality",
                           f"component '{comp_id}' needs min <= default <= max (got {lo}, {default}, {hi})")
            out.append(Component(comp_id, cs["product"], lo, hi, default, Source(f.path, *pos)))
        return tuple(out)

    def check_component_cycles(self, f: _File, product_id: str, products: dict[str, Product]) -> None:
        path, stack = [product_id], [iter(products[product_id].components)] if product_id in products else []
        while stack:
            comp = next(stack[-1], None)
            if comp is None:
                stack.pop()
                path.pop()
                continue
            if comp.product == product_id:
                chain = " -> ".join([*path, comp.product])
                self.error(f.path, (products[product_id].source.line, products[product_id].source.col), product_id,
                           "cycle", f"bundle contains itself: {chain}")
                return
            if comp.product in products and comp.product not in path:
                path.append(comp.product)
                stack.append(iter(products[comp.product].components))

    def option_refs(self, f: _File, rule_id: str, holder, key: str, allowed: Iterable[str]) -> tuple[str, ...]:
        """Ids written in `holder[key]` (one or a list) that must be options of the product."""
        value = holder[key]
        items = [value] if isinstance(value, str) else list(value)
        allowed = allowed if isinstance(allowed, set | frozenset | dict) else set(allowed)
        ok = []
        for i, item in enumerate(items):
            pos = value.item_pos[i] if isinstance(value, yamlpos.PosList) else holder.value_pos[key]
            if item in allowed:
                ok.append(item)
            else:
                self.error(f.path, pos, rule_id, "unknown_option", f"unknown option '{item}'",
                           did_you_mean(item, allowed), ref=item)
        return tuple(ok) if len(ok) == len(items) else ()

    def constraint(self, f: _File, spec, index: int, parent, scope: ProductScope, features) -> Constraint | None:
        cid = spec["id"]
        pos = parent.item_pos[index]
        self.claim_id(f, cid, pos, "constraint")
        errors_before = len(self.errors)
        source = Source(f.path, *pos)
        message = spec.get("message", "")
        when = self.expression(f, spec, "when", scope, cid, Type.BOOL) if "when" in spec else None
        option_ids = scope.options  # a dict: membership tests are O(1)
        fields: dict = {}
        if "requires" in spec:
            req = spec["requires"]
            fields = dict(kind="requires", if_all=self.option_refs(f, cid, req, "if", option_ids),
                          then_any=self.option_refs(f, cid, req, "then", option_ids))
            formula = sympy.Implies(sympy.And(*map(sel, fields["if_all"])), sympy.Or(*map(sel, fields["then_any"])))
            message = message or f"{' and '.join(fields['if_all'])} requires {' or '.join(fields['then_any'])}."
        elif "excludes" in spec:
            opts = self.option_refs(f, cid, spec, "excludes", option_ids)
            fields = dict(kind="excludes", options=opts)
            # evaluate=False: sympy's assumption system costs ~4 ms per relation on large models
            formula = sympy.Le(sympy.Add(*(sympy.Piecewise((1, sel(o)), (0, True)) for o in opts)), 1, evaluate=False)
            message = message or f"Choose at most one of {', '.join(opts)}."
        elif "table" in spec:
            fields, formula = self.table(f, cid, spec["table"], scope, features)
            message = message or "This combination is not available."
        elif "cardinality" in spec:
            card = spec["cardinality"]
            if "feature" in card:
                feature = next((x for x in features if x.id == card["feature"]), None)
                if feature is None:
                    self.error(f.path, card.value_pos["feature"], cid, "unknown_feature",
                               f"unknown feature '{card['feature']}'", did_you_mean(card["feature"], [x.id for x in features]))
                opts = feature.options if feature else ()
            else:
                opts = self.option_refs(f, cid, card, "options", option_ids)
            lo, hi = card.get("min"), card.get("max")
            if lo is not None and hi is not None and lo > hi:
                self.error(f.path, card.pos, cid, "invalid_cardinality", f"cardinality min {lo} exceeds max {hi}")
            if lo is not None and lo > len(opts) and opts:
                self.error(f.path, card.pos, cid, "invalid_cardinality",
                           f"cardinality needs at least {lo} of only {len(opts)} options")
            count = sympy.Add(*(sympy.Piecewise((1, sel(o)), (0, True)) for o in opts))
            parts = ([sympy.Ge(count, lo, evaluate=False)] if lo is not None else []) + \
                ([sympy.Le(count, hi, evaluate=False)] if hi is not None else [])
            fields = dict(kind="cardinality", options=tuple(opts), min=lo, max=hi)
            formula = sympy.And(*parts)
            bound = (f"between {lo} and {hi}" if lo is not None and hi is not None
                     else f"at least {lo}" if lo is not None else f"at most {hi}")
            message = message or f"Choose {bound} of {', '.join(opts)}."
        else:
            key = "check" if "check" in spec else "then"
            expr = self.expression(f, spec, key, scope, cid, Type.BOOL)
            fields = dict(kind="check" if key == "check" else "conditional", check=expr)
            formula = expr.symbolic if expr else sympy.true
            message = message or (f"Must hold: {expr.text}" if expr else "")
        if len(self.errors) != errors_before:
            return None
        if when is not None:
            formula = sympy.Implies(when.symbolic, formula)
        return Constraint(id=cid, message=message, source=source, when=when, formula=formula, **fields)

    def table(self, f: _File, cid: str, table, scope: ProductScope, features):
        """A compatibility table: columns are features; cells are option ids or '*' (any)."""
        by_id = {x.id: x for x in features}
        cols = list(table["columns"])
        ok = True
        for i, col in enumerate(cols):
            if col not in by_id:
                ok = False
                self.error(f.path, table["columns"].item_pos[i], cid, "unknown_feature",
                           f"table column '{col}' is not a feature", did_you_mean(col, by_id))
        allowed = "allowed" in table
        rows_key = "allowed" if allowed else "forbidden"
        rows = table[rows_key]
        out_rows = []
        for r, row in enumerate(rows):
            if len(row) != len(cols):
                ok = False
                self.error(f.path, rows.item_pos[r], cid, "invalid_field",
                           f"table row has {len(row)} cells for {len(cols)} columns")
                continue
            for c, cell in enumerate(row):
                if cols[c] in by_id and cell != "*" and cell not in by_id[cols[c]].options:
                    ok = False
                    self.error(f.path, row.item_pos[c], cid, "unknown_option",
                               f"'{cell}' is not an option of feature '{cols[c]}'", did_you_mean(cell, by_id[cols[c]].options))
            out_rows.append(tuple(row))
        if not ok:
            return {}, sympy.true

        def row_formula(row):
            return sympy.And(*(sel(cell) for cell in row if cell != "*"))

        # Only rows whose every column is chosen are judged: a partly chosen bundle is not yet a match.
        chosen = sympy.And(*(sympy.Or(*map(sel, by_id[c].options)) for c in cols))
        any_row = sympy.Or(*map(row_formula, out_rows))
        formula = sympy.Implies(chosen, any_row) if allowed else sympy.Not(any_row)
        return dict(kind="table", columns=tuple(cols), rows=tuple(out_rows), allowed=allowed), formula

    def product_rule(self, f: _File, spec, index: int, parent, scope: ProductScope, features) -> ProductRule | None:
        rid = spec["id"]
        pos = parent.item_pos[index]
        self.claim_id(f, rid, pos, "rule")
        before = len(self.errors)
        when = self.expression(f, spec, "when", scope, rid, Type.BOOL) if "when" in spec else None
        check_expr = self.expression(f, spec, "check", scope, rid, Type.BOOL) if "check" in spec else None
        options = scope.options
        add = self.option_refs(f, rid, spec, "add", options) if "add" in spec else ()
        hide = self.option_refs(f, rid, spec, "hide", options) if "hide" in spec else ()
        defaults = dict(spec.get("set_default") or {})
        by_id = {x.id: x for x in features}
        for feature_id, option_id in defaults.items():
            if feature_id not in by_id:
                self.error(f.path, spec["set_default"].key_pos[feature_id], rid, "unknown_feature",
                           f"unknown feature '{feature_id}'", did_you_mean(feature_id, by_id))
            elif option_id not in by_id[feature_id].options:
                self.error(f.path, spec["set_default"].value_pos[feature_id], rid, "unknown_option",
                           f"'{option_id}' is not an option of feature '{feature_id}'", did_you_mean(option_id, by_id[feature_id].options))
        if len(self.errors) != before:
            return None
        return ProductRule(id=rid, kind=spec["kind"], message=spec.get("message", ""), source=Source(f.path, *pos),
                           when=when, check=check_expr, add=add, set_default=frozen_map(defaults), hide=hide)

    # ------------------------------------------------------------------ pricebooks
    def build_pricebooks(self, files: list[_File], products: dict[str, Product], options: dict[str, Option]):
        specs: dict[str, tuple[_File, object]] = {}
        for f in files:
            book_id = f.data["id"]
            if book_id in specs:
                first = specs[book_id][0]
                self.error(f.path, f.data.value_pos["id"], book_id, "duplicate_id",
                           f"duplicate pricebook id '{book_id}' (first defined in {first.path})")
                continue
            specs[book_id] = (f, f.data)
        # extends: known parent, no cycles; currency comes down the chain
        for book_id, (f, data) in specs.items():
            parent = data.get("extends")
            if parent is not None and parent not in specs:
                self.error(f.path, data.value_pos["extends"], book_id, "unknown_pricebook",
                           f"extends unknown pricebook '{parent}'", did_you_mean(parent, specs))
        cyclic = set()
        for book_id in specs:
            chain, cur = [book_id], specs[book_id][1].get("extends")
            while cur in specs and cur not in chain:
                chain.append(cur)
                cur = specs[cur][1].get("extends")
            if cur == book_id:
                cyclic.add(book_id)
                f, data = specs[book_id]
                self.error(f.path, data.value_pos["extends"], book_id, "cycle",
                           f"pricebooks extend each other in a cycle: {' -> '.join([*chain, book_id])}")

        def currency_of(book_id: str, seen=()) -> str | None:
            data = specs[book_id][1]
            if "currency" in data or book_id in cyclic or book_id in seen:
                return data.get("currency")
            parent = data.get("extends")
            return currency_of(parent, (*seen, book_id)) if parent in specs else None

        def rounding_of(book_id: str, seen=()) -> tuple[str, str]:
            """A book's rounding policy: its own, else the book it extends (down to half-up per line)."""
            data = specs[book_id][1]
            if "rounding" in data:
                own = data["rounding"]
                inherited = rounding_of(data["extends"], (*seen, book_id)) \
                    if data.get("extends") in specs and book_id not in cyclic and book_id not in seen else ("half_up", "line")
                return own.get("mode", inherited[0]), own.get("level", inherited[1])
            parent = data.get("extends")
            if parent in specs and book_id not in cyclic and book_id not in seen:
                return rounding_of(parent, (*seen, book_id))
            return "half_up", "line"

        sellable = {**{k: v.attributes for k, v in options.items()}, **{k: v.attributes for k, v in products.items()}}
        categories = {o.category for o in options.values()} | {p.category for p in products.values()}
        families = {o.family for o in options.values()} | {p.family for p in products.values()}
        catalog = {**{k: (o.category, o.family) for k, o in options.items()},
                   **{k: (p.category, p.family) for k, p in products.items()}}
        bundle_attrs = {a for types in (o.attributes for o in options.values()) for a, v in types.items()
                        if isinstance(v, int | Decimal) and not isinstance(v, bool)}
        books = {}
        for book_id, (f, data) in specs.items():
            currency = currency_of(book_id)
            parent = data.get("extends")
            if parent in specs and "currency" in data and currency_of(parent) not in (None, data["currency"]):
                self.error(f.path, data.value_pos["currency"], book_id, "currency_mismatch",
                           f"currency {data['currency']} differs from {currency_of(parent)} of '{parent}' it extends")
            books[book_id] = self.pricebook(f, data, currency, sellable, categories, families, bundle_attrs, catalog,
                                            rounding_of(book_id))
        self.check_inherited_stacking(books, cyclic, catalog)
        return books

    def check_inherited_stacking(self, books: dict[str, Pricebook], cyclic: set[str], catalog) -> None:
        """A book's adjustments also meet those of the books it extends: same rule as within a book."""
        # by book and priority: every rule, and the unstacked ones (a stacked rule only clashes with those)
        by_priority = {b.id: {} for b in books.values()}
        unstacked = {b.id: {} for b in books.values()}
        for b in books.values():
            for a in b.adjustments:
                by_priority[b.id].setdefault(a.priority, []).append(a)
                if a.stack is None:
                    unstacked[b.id].setdefault(a.priority, []).append(a)
        for book in books.values():
            ancestors, cur = [], book.extends
            while cur in books and cur not in cyclic and cur not in (a.id for a in ancestors):
                ancestors.append(books[cur])
                cur = books[cur].extends
            for own in book.adjustments:
                for parent in ancestors:
                    pool = by_priority if own.stack is None else unstacked
                    for inherited in pool[parent.id].get(own.priority, ()):
                        if _may_meet(own.applies_to, inherited.applies_to, catalog):
                            self.error(own.source.path, (own.source.line, own.source.col), own.id, "ambiguous_stacking",
                                       f"'{own.id}' and '{inherited.id}' (inherited from '{parent.id}') can apply to "
                                       f"the same line at priority {own.priority}; give them different priorities "
                                       "or a 'stack' policy")

    def pricebook(self, f: _File, data, currency, sellable, categories, families, bundle_attrs, catalog,
                  rounding: tuple[str, str]) -> Pricebook:
        book_id = data["id"]
        prices: dict[str, tuple[PriceEntry, ...]] = {}
        mapping = data.get("prices") or {}
        for sku, value in mapping.items():
            if sku not in sellable:
                self.error(f.path, mapping.key_pos[sku], book_id, "unknown_product",
                           f"price for unknown product or option '{sku}'", did_you_mean(sku, sellable), ref=sku)
                continue
            entries = value if isinstance(value, list) else [value]
            positions = value.item_pos if isinstance(value, yamlpos.PosList) else [mapping.value_pos[sku]]
            built = [self.price_entry(f, book_id, sku, e, pos, sellable[sku], bundle_attrs)
                     for e, pos in zip(entries, positions, strict=True)]
            built = [b for b in built if b is not None]
            self.check_overlaps(f.path, book_id, sku, built)
            prices[sku] = tuple(built)
        self.table_prices(f, data, prices, sellable, bundle_attrs)
        condition_scope = ContextScope(quote=True, line=True, subtotal=True)
        adjustments = [self.adjustment(f, spec, data["adjustments"].item_pos[i], sellable, categories, families,
                                       condition_scope)
                       for i, spec in enumerate(data.get("adjustments") or [])]
        self.table_adjustments(f, data, adjustments, sellable, categories, families, condition_scope)
        self.check_stacking(f, adjustments, catalog)
        floors = []
        for i, spec in enumerate(data.get("floors") or []):
            pos = data["floors"].item_pos[i]
            self.claim_id(f, spec["id"], pos, "floor")
            floors.append(Floor(
                id=spec["id"], applies_to=self.applies_to(f, spec, spec["id"], sellable, categories, families),
                when=self.expression(f, spec, "when", condition_scope, spec["id"], Type.BOOL) if "when" in spec else None,
                min_price=_amount(spec["min_price"]) if "min_price" in spec else None,
                max_discount=_percent(spec["max_discount"]) if "max_discount" in spec else None,
                source=Source(f.path, *pos),
            ))
        tax = None
        if "tax" in data:
            t = data["tax"]
            rates = {k: _percent(v) for k, v in t["rates"].items()}
            for category in t.get("categories") or {}:
                if category not in categories:
                    self.error(f.path, t["categories"].key_pos[category], book_id, "unknown_category",
                               f"tax category '{category}' is not a category of any product or option",
                               did_you_mean(category, categories))
            named = [("default", t, "default")] if "default" in t else []
            named += [(c, t["categories"], c) for c in (t.get("categories") or {})]
            for _label, holder, key in named:
                if holder[key] not in rates:
                    self.error(f.path, holder.value_pos[key], book_id, "unknown_tax_rate",
                               f"unknown tax rate '{holder[key]}'", did_you_mean(holder[key], rates))
            tax = TaxPolicy(frozen_map(rates), t.get("default"), frozen_map(t.get("categories") or {}))
        return Pricebook(
            id=book_id, name=data.get("name", book_id), currency=currency, extends=data.get("extends"),
            channel=data.get("channel"), account=data.get("account"), partner=data.get("partner"),
            rounding_mode=rounding[0], rounding_level=rounding[1],
            effective=_effective(data.get("effective")), prices=frozen_map(prices),
            adjustments=tuple(adjustments), floors=tuple(floors), tax=tax, source=Source(f.path, *data.pos),
        )

    def check_overlaps(self, path: str, book_id: str, sku: str, entries: list[PriceEntry]) -> None:
        for i, a in enumerate(entries):
            for b in entries[i + 1:]:
                if a.effective.overlaps(b.effective):
                    self.error(path, (b.source.line, b.source.col), book_id, "overlapping_dates",
                               f"prices for '{sku}' overlap in time (with line {a.source.line})")

    def adjustment(self, f, spec, pos, sellable, categories, families, condition_scope) -> Adjustment:
        """One adjustment rule from its mapping (a YAML `adjustments:` entry or a row of a table)."""
        self.claim_id(f, spec["id"], pos, "adjustment")
        kind = next(k for k in ("discount", "markup", "amount_off", "price") if k in spec)
        return Adjustment(
            id=spec["id"], kind=kind, value=_percent(spec[kind]),
            applies_to=self.applies_to(f, spec, spec["id"], sellable, categories, families),
            when=self.expression(f, spec, "when", condition_scope, spec["id"], Type.BOOL) if "when" in spec else None,
            priority=spec.get("priority", 0), stack=spec.get("stack"), label=spec.get("label", spec["id"]),
            effective=_effective(spec.get("effective")), source=Source(f.path, *pos),
        )

    def price_entry(self, f, book_id, sku, spec, pos, attributes, bundle_attrs) -> PriceEntry | None:
        source = Source(f.path, *pos)
        if not isinstance(spec, dict):
            return PriceEntry(sku, Effective(), "one_time", None, _amount(spec), None, None, None, source)
        tiers = None
        if "tiers" in spec:
            tiers = self.tiers(f, book_id, sku, spec)
            if tiers is None:
                return None
        formula = None
        if "formula" in spec:
            formula = self.expression(f, spec, "formula", FormulaScope(attributes, bundle_attrs), book_id, Type.NUMBER)
            if formula is None:
                return None
        return PriceEntry(
            sku=sku, effective=_effective(spec.get("effective")), charge=spec.get("charge", "one_time"),
            term_months=spec.get("term_months"), unit=_amount(spec["unit"]) if "unit" in spec else None,
            tiers=tiers, formula=formula, cost=_amount(spec["cost"]) if "cost" in spec else None, source=source,
        )

    def tiers(self, f, book_id, sku, spec) -> Tiers | None:
        bands_spec = spec["bands"]
        bands, ok, expect = [], True, None
        for i, b in enumerate(bands_spec):
            pos = bands_spec.item_pos[i]
            first, last = b["from"], b.get("to")
            if expect is not None and first != expect:
                ok = False
                what = "a gap" if first > expect else "an overlap"
                self.error(f.path, pos, book_id, "bad_tiers",
                           f"tier table for '{sku}' has {what}: band starts at {first}, expected {expect}")
            if last is not None and last < first:
                ok = False
                self.error(f.path, pos, book_id, "bad_tiers", f"tier band for '{sku}' ends ({last}) before it starts ({first})")
            if last is None and i != len(bands_spec) - 1:
                ok = False
                self.error(f.path, pos, book_id, "bad_tiers", f"only the last tier band for '{sku}' may be open-ended")
            expect = (last + 1) if last is not None else None
            bands.append(Band(first, last, _amount(b["unit"]) if "unit" in b else None,
                              _amount(b["flat"]) if "flat" in b else None, Source(f.path, *pos)))
        if bands and bands[0].first != 1:
            ok = False
            self.error(f.path, bands_spec.item_pos[0], book_id, "bad_tiers", f"tier table for '{sku}' must start at 1, not {bands[0].first}")
        mode = spec["tiers"]
        if mode != "block" and bands and bands[-1].last is not None:
            ok = False
            self.error(f.path, bands_spec.item_pos[len(bands) - 1], book_id, "bad_tiers",
                       f"{mode} tiers for '{sku}' end at {bands[-1].last}: leave 'to' off the last band "
                       "so that every quantity has a price")
        if mode == "block" and bands and bands[-1].last is not None and "overage" not in spec:
            ok = False
            self.error(f.path, bands_spec.pos, book_id, "bad_tiers",
                       f"block tiers for '{sku}' end at {bands[-1].last}: add an open last band or an 'overage' rate")
        if "overage" in spec and bands and bands[-1].last is None:
            ok = False
            self.error(f.path, spec.value_pos["overage"], book_id, "bad_tiers",
                       f"'overage' for '{sku}' needs a last band with 'to'")
        if not ok:
            return None
        overage = spec.get("overage") or {}
        return Tiers(mode, spec.get("scope", "line"), tuple(bands),
                     _amount(overage["unit"]) if "unit" in overage else None, overage.get("per", 1))

    def applies_to(self, f, spec, rule_id, sellable, categories, families) -> AppliesTo:
        a = spec.get("applies_to") or {}
        for key, what, known in (("products", "product", sellable), ("categories", "category", categories),
                                 ("families", "family", families)):
            values = a.get(key) or []
            for i, v in enumerate(values):
                if v not in known:
                    self.error(f.path, values.item_pos[i], rule_id, f"unknown_{what}",
                               f"applies_to names unknown {what} '{v}'", did_you_mean(v, known))
        return AppliesTo(tuple(a.get("products") or ()), tuple(a.get("categories") or ()),
                         tuple(a.get("families") or ()), tuple(a.get("accounts") or ()))

    def check_stacking(self, f: _File, adjustments: list[Adjustment], catalog: dict[str, tuple[str, str]]) -> None:
        """Two rules that may meet on one line at one priority need an explicit stacking policy."""
        by_priority: dict[int, list[Adjustment]] = {}
        for adjustment in adjustments:
            by_priority.setdefault(adjustment.priority, []).append(adjustment)
        for group in by_priority.values():
            policies: dict[str, Adjustment] = {}
            for a in group:
                if a.stack is not None:
                    policies.setdefault(a.stack, a)
            if len(policies) > 1:
                first, *others = policies.values()
                for other in others:
                    self.error(other.source.path, (other.source.line, other.source.col), other.id, "ambiguous_stacking",
                               f"'{other.id}' stacks '{other.stack}' but '{first.id}' at the same priority "
                               f"{other.priority} stacks '{first.stack}'; one priority has one stacking policy")
            position = {id(a): i for i, a in enumerate(group)}
            for u in (a for a in group if a.stack is None):
                for b in group:
                    if b is u or (b.stack is None and position[id(b)] < position[id(u)]):
                        continue  # itself, or a pair of unstacked rules already judged
                    a, b = (u, b) if position[id(u)] < position[id(b)] else (b, u)
                    if _may_meet(a.applies_to, b.applies_to, catalog):
                        self.error(b.source.path, (b.source.line, b.source.col), b.id, "ambiguous_stacking",
                                   f"'{a.id}' and '{b.id}' can apply to the same line at priority {a.priority}; "
                                   "give them different priorities or a 'stack' policy")

    # ------------------------------------------------------------------ approvals
    def build_approvals(self, files: list[_File]):
        policies, limits = [], {}
        scope = ContextScope(quote=True, subtotal=True)
        limit_source: dict[str, Source] = {}
        for f in files:
            self.claim_id(f, f.data["id"], f.data.value_pos["id"], "approvals file")
            mapping = f.data.get("discount_limits") or {}
            for role, pct in mapping.items():
                if role in limits:
                    self.error(f.path, mapping.key_pos[role], f.data["id"], "duplicate_id",
                               f"discount limit for '{role}' is already set at {limit_source[role]}")
                    continue
                limits[role] = _percent(pct)
                limit_source[role] = Source(f.path, *mapping.key_pos[role])
            for i, spec in enumerate(f.data["policies"]):
                pos = f.data["policies"].item_pos[i]
                self.claim_id(f, spec["id"], pos, "approval policy")
                when = self.expression(f, spec, "when", scope, spec["id"], Type.BOOL)
                if when is not None:
                    policies.append(ApprovalPolicy(spec["id"], when, spec["requires"], spec["message"], Source(f.path, *pos)))
        return policies, limits


def _targets(applies: AppliesTo, sku: str, category: str, family: str) -> bool:
    """Whether a rule's applies_to selects a line of this SKU (an empty list selects every line)."""
    return ((not applies.products or sku in applies.products)
            and (not applies.categories or category in applies.categories)
            and (not applies.families or family in applies.families))


def _may_meet(a: AppliesTo, b: AppliesTo, catalog: dict[str, tuple[str, str]]) -> bool:
    """Whether some line of the catalog is selected by both rules (and their accounts can coincide)."""
    if a.accounts and b.accounts and not set(a.accounts) & set(b.accounts):
        return False
    return any(_targets(a, sku, cat, fam) and _targets(b, sku, cat, fam) for sku, (cat, fam) in catalog.items())


def _amount(value) -> Decimal:
    return Decimal(str(value).strip())


def _percent(value) -> Decimal:
    text = str(value).strip()
    return Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)


_ALWAYS = Effective()  # shared: most rules and prices have no dates (20,000 rules, one object)


def _effective(spec) -> Effective:
    from datetime import date

    if not spec:
        return _ALWAYS
    start, end = spec.get("from"), spec.get("to")
    return Effective(date.fromisoformat(str(start)) if start else None, date.fromisoformat(str(end)) if end else None)


def _fields_at(schema: Schema, path: tuple) -> list[str]:
    """The field names the schema expects in the mapping at `path` (for "did you mean")."""
    current: object = schema
    for step in path:
        if isinstance(current, Schema):
            field = next((f for name, f in current.fields.items() if (f.data_key or name) == step), None)
            if field is None:
                return []
            current = field
        elif isinstance(current, fields.Dict):
            current = current.value_field
        elif isinstance(current, fields.List):
            current = current.inner
        else:
            return []
        if isinstance(current, fields.Nested):
            current = current.schema
    if isinstance(current, fields.Nested):
        current = current.schema
    return [f.data_key or name for name, f in current.fields.items()] if isinstance(current, Schema) else []


PRUNABLE = frozenset({"options", "products", "features", "components", "constraints", "rules", "prices",
                      "adjustments", "floors", "policies"})


def _prunable(path: tuple) -> tuple | None:
    """The deepest (collection, entry) prefix of an error path that can be dropped, or None."""
    for i in range(len(path) - 1, 0, -1):
        if path[i - 1] in PRUNABLE and isinstance(path[i], int | str) and path[i] not in PRUNABLE:
            return path[: i + 1]
    return None


def _nearest_id(data, path: tuple, file_id: str) -> str:
    """The id of the innermost rule/product/option that contains `path` (for error lines)."""
    best, current, parent_key = file_id, data, None
    for step in path:
        if isinstance(current, dict) and isinstance(current.get("id"), str):
            best = current["id"]
        if parent_key in ("products", "options", "prices") and isinstance(step, str):
            best = step
        try:
            current = current[step]
        except (KeyError, IndexError, TypeError):
            break
        parent_key = step
    if isinstance(current, dict) and isinstance(current.get("id"), str):
        best = current["id"]
    return best


def _flatten(messages, data, path: tuple = ()):
    """marshmallow's nested error dict → (path, message) pairs, skipping its 'value'/'key' levels."""
    if isinstance(messages, list):
        for m in messages:
            if isinstance(m, dict | list):
                yield from _flatten(m, data, path)
            else:
                yield path, str(m)
        return
    for key, sub in messages.items():
        step = key
        container = data
        for p in path:
            try:
                container = container[p]
            except (KeyError, IndexError, TypeError):
                container = None
                break
        if key in ("value", "key") and not (isinstance(container, dict) and key in container):
            if key == "key":
                for m in _flatten(sub, data, path):
                    yield m[0], f"key: {m[1]}"
            else:
                yield from _flatten(sub, data, path)
            continue
        if isinstance(key, str) and key.isdigit() and isinstance(container, list):
            step = int(key)
        yield from _flatten(sub, data, (*path, step))
