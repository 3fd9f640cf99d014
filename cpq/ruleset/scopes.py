"""What names mean in each kind of expression, and their sympy symbols.

Symbols: `sel[OPT]` (option chosen, boolean), `qty[OPT]` (units chosen, integer, 0 when not
chosen), `comp[ID]` / `compqty[ID]` for bundle components, and dotted context fields such as
`account.segment`. Option attributes are constants: they become numbers (or text atoms).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import sympy

from cpq.catalog import AttributeValue, Feature, Option
from cpq.ruleset.expressions import (
    Binding,
    Name,
    NameProblem,
    Scope,
    Type,
    did_you_mean,
    text_symbol,
)

# Context vocabulary every expression may use (documented in docs/rule-files.md).
CONTEXT_FIELDS: Mapping[str, Mapping[str, Type]] = {
    "context": {"channel": Type.STRING, "country": Type.STRING, "partner": Type.STRING,
                "currency": Type.STRING, "language": Type.STRING},
    "account": {"id": Type.STRING, "segment": Type.STRING, "country": Type.STRING,
                "partner": Type.STRING, "parent": Type.STRING},
}
# Percentage fields hold fractions (12.5 % is 0.125) so that `quote.discount_percent > 10%` reads
# as written: the `%` literal is a fraction too.
QUOTE_FIELDS: Mapping[str, Type] = {
    "total": Type.NUMBER, "list_total": Type.NUMBER, "discount_percent": Type.NUMBER,
    "margin_percent": Type.NUMBER, "line_count": Type.NUMBER, "term_months": Type.NUMBER,
    "currency": Type.STRING,
}
LINE_FIELDS: Mapping[str, Type] = {
    "product": Type.STRING, "category": Type.STRING, "family": Type.STRING, "charge": Type.STRING,
    "quantity": Type.NUMBER, "list_price": Type.NUMBER, "unit_price": Type.NUMBER,
    "discount_percent": Type.NUMBER,
}
ATTRIBUTE_TYPE = {"integer": Type.NUMBER, "decimal": Type.NUMBER, "string": Type.STRING, "boolean": Type.BOOL}


def sel(option_id: str) -> sympy.Symbol:
    return sympy.Symbol(f"sel[{option_id}]")


def qty(option_id: str) -> sympy.Symbol:
    return sympy.Symbol(f"qty[{option_id}]", integer=True, nonnegative=True)


def indicator(option_id: str) -> sympy.Basic:
    return sympy.Piecewise((1, sel(option_id)), (0, True))


def constant(value: AttributeValue) -> sympy.Basic:
    if isinstance(value, bool):
        return sympy.true if value else sympy.false
    if isinstance(value, str):
        return text_symbol(value)
    num, den = Decimal(value).as_integer_ratio()
    return sympy.Rational(num, den)


def zero_of(kind: Type) -> sympy.Basic:
    return {Type.NUMBER: sympy.Integer(0), Type.BOOL: sympy.false, Type.STRING: text_symbol("")}[kind]


class Subtotal(sympy.Function):
    """subtotal(predicate): the net amount of the quote lines the predicate holds for."""


LINE = object()  # the item a per-line predicate is compiled for


def _unknown(word: str, what: str, candidates: Iterable[str]) -> NameProblem:
    return NameProblem(f"unknown {what} '{word}'", did_you_mean(word, candidates))


class ContextScope(Scope):
    """Names every scope shares: context.*, account.*, and (optionally) quote.* and line.*."""

    def __init__(self, *, quote: bool = False, line: bool = False, subtotal: bool = False):
        self.groups = {k: dict(v) for k, v in CONTEXT_FIELDS.items()}
        if quote:
            self.groups["quote"] = dict(QUOTE_FIELDS)
        if line:
            self.groups["line"] = dict(LINE_FIELDS)
        self.aggregates = frozenset({"subtotal"} if subtotal else ())

    def cache_key(self) -> tuple | None:
        if type(self) is not ContextScope:
            return None
        return ("context", tuple(sorted(self.groups)), tuple(sorted(self.aggregates)))

    def top_names(self) -> list[str]:
        return list(self.groups)

    def dotted_names(self) -> list[str]:
        return [f"{g}.{f}" for g, fields in self.groups.items() for f in fields]

    def resolve_context(self, name: Name, aggregate: str | None) -> Binding | None:
        head = name.parts[0]
        if aggregate == "subtotal":
            if len(name.parts) == 1 and head in LINE_FIELDS:
                return Binding("line", LINE_FIELDS[head], (head,))
            raise _unknown(name.dotted, "line field", LINE_FIELDS)
        if head not in self.groups:
            return None
        fields = self.groups[head]
        if len(name.parts) != 2:
            raise NameProblem(f"'{head}' needs a field, e.g. '{head}.{next(iter(fields))}'")
        if name.parts[1] not in fields:
            raise _unknown(name.dotted, f"{head} field", [f"{head}.{f}" for f in fields])
        return Binding("field", fields[name.parts[1]], (name.dotted,))

    def resolve(self, name: Name, aggregate: str | None) -> Binding:
        binding = self.resolve_context(name, aggregate)
        if binding is None:
            raise _unknown(name.dotted, "name", self.dotted_names() if len(name.parts) > 1 else self.top_names())
        return binding

    def iterate(self, aggregate: str):
        return [LINE]

    def symbol(self, binding: Binding, item: object | None) -> sympy.Basic:
        if binding.kind == "field":
            return sympy.Symbol(binding.ref[0])
        if binding.kind == "line":
            return sympy.Symbol(f"line.{binding.ref[0]}")
        if binding.kind == "const":
            return constant(binding.ref[0])
        raise AssertionError(binding)  # pragma: no cover

    def aggregate(self, func: str, term) -> sympy.Basic:
        if func == "subtotal":
            return Subtotal(term(LINE))
        return super().aggregate(func, term)


class FormulaScope(ContextScope):
    """Names in a price formula for one SKU: qty, cost, the SKU's attributes, bundle sums."""

    def __init__(self, attributes: Mapping[str, AttributeValue], bundle_attributes: Iterable[str]):
        super().__init__(quote=True, line=True, subtotal=True)
        self.attributes = dict(attributes)
        self.bundle_attributes = sorted(set(bundle_attributes))

    def cache_key(self) -> tuple | None:
        return ("formula", tuple(sorted((k, repr(v)) for k, v in self.attributes.items())), tuple(self.bundle_attributes))

    def top_names(self) -> list[str]:
        return [*super().top_names(), "qty", "cost", "bundle", *self.attributes]

    def resolve(self, name: Name, aggregate: str | None) -> Binding:
        binding = self.resolve_context(name, aggregate)
        if binding is not None:
            return binding
        head = name.parts[0]
        if len(name.parts) == 1 and head in ("qty", "quantity"):
            return Binding("field", Type.NUMBER, ("line.quantity",))
        if len(name.parts) == 1 and head == "cost":
            return Binding("field", Type.NUMBER, ("line.cost",))
        if len(name.parts) == 1 and head in self.attributes:
            return Binding("const", _type_of(self.attributes[head]), (self.attributes[head],))
        if head == "bundle" and len(name.parts) == 2:
            if name.parts[1] not in self.bundle_attributes:
                raise _unknown(name.dotted, "bundle attribute", [f"bundle.{a}" for a in self.bundle_attributes])
            return Binding("field", Type.NUMBER, (name.dotted,))
        raise _unknown(name.dotted, "name", self.top_names() + self.dotted_names())


def _type_of(value: AttributeValue) -> Type:
    if isinstance(value, bool):
        return Type.BOOL
    return Type.STRING if isinstance(value, str) else Type.NUMBER


class ProductScope(ContextScope):
    """Names in a product's constraints and rules: its options, features, components, attributes."""

    def __init__(
        self,
        options: Mapping[str, Option],
        features: Iterable[Feature],
        attribute_types: Mapping[str, str],
        product_attributes: Mapping[str, AttributeValue],
        components: Iterable[str] = (),
    ):
        super().__init__()
        self.features = {f.id: f for f in features}
        self.options = {o: options[o] for f in self.features.values() for o in f.options if o in options}
        self.attribute_types = {k: ATTRIBUTE_TYPE[v] for k, v in attribute_types.items()}
        self.product_attributes = dict(product_attributes)
        self.components = tuple(components)
        self.aggregates = frozenset({"sum", "count"})

    def top_names(self) -> list[str]:
        return [*super().top_names(), "product", *self.features, *self.options, *self.components]

    # -- resolution
    def resolve(self, name: Name, aggregate: str | None) -> Binding:
        binding = self.resolve_context(name, aggregate)
        if binding is not None:
            return binding
        head, rest = name.parts[0], name.parts[1:]
        if len(rest) > 1:
            raise NameProblem(f"'{name.dotted}' has too many parts")
        field = rest[0] if rest else None
        if head == "product":
            if field not in self.product_attributes:
                raise _unknown(name.dotted, "product attribute", [f"product.{a}" for a in self.product_attributes])
            value = self.product_attributes[field]
            return Binding("const", _type_of(value), (value,))
        if head in self.options:
            return self._option(head, field)
        if head in self.features:
            return self._feature(head, field, aggregate)
        if head in self.components:
            if field not in (None, "qty"):
                raise NameProblem(f"component '{head}' has only '{head}.qty'")
            return Binding("component_qty" if field else "component", Type.NUMBER if field else Type.BOOL, (head,))
        if aggregate is not None and field is None:
            if head == "qty":
                return Binding("iter_qty", Type.NUMBER)
            if head == "category":
                return Binding("iter_category", Type.STRING)
            if head in self.attribute_types:
                return Binding("iter_attr", self.attribute_types[head], (head,))
            raise _unknown(head, "attribute", ["qty", "category", *self.attribute_types, *self.top_names()])
        if field is None and head in self.attribute_types:
            raise NameProblem(f"attribute '{head}' needs an option or an aggregate, e.g. 'sum({head} * qty)'")
        if field is not None:
            raise _unknown(name.dotted, "name", self.dotted_names() + [f"{head}.{field}" for head in self.top_names()])
        raise _unknown(name.dotted, "option or feature", self.top_names())

    def _option(self, option_id: str, field: str | None) -> Binding:
        if field is None:
            return Binding("option", Type.BOOL, (option_id,))
        if field == "qty":
            return Binding("option_qty", Type.NUMBER, (option_id,))
        attrs = self.options[option_id].attributes
        if field not in attrs:
            raise _unknown(f"{option_id}.{field}", f"attribute of {option_id}", [f"{option_id}.{a}" for a in (*attrs, "qty")])
        return Binding("const", _type_of(attrs[field]), (attrs[field],))

    def _feature(self, feature_id: str, field: str | None, aggregate: str | None) -> Binding:
        feature = self.features[feature_id]
        if field is None:
            return Binding("iter_in_feature" if aggregate else "feature", Type.BOOL, (feature_id,))
        if field in ("qty", "count") and aggregate is None:
            return Binding(f"feature_{field}", Type.NUMBER, (feature_id,))
        if field == "qty":
            return Binding("iter_feature_qty", Type.NUMBER, (feature_id,))
        if field == "count":
            raise NameProblem(f"'{feature_id}.count' is already a total; use it outside {aggregate}()")
        if field not in self.attribute_types:
            raise _unknown(f"{feature_id}.{field}", f"attribute of feature {feature_id}",
                           [f"{feature_id}.{a}" for a in (*self.attribute_types, "qty", "count")])
        kind = self.attribute_types[field]
        if aggregate is not None:
            return Binding("iter_feature_attr", kind, (feature_id, field))
        if feature.max != 1:
            hint = (f"count({feature_id}.{field})" if kind is Type.BOOL
                    else f"sum({feature_id}.{field} * qty)" if kind is Type.NUMBER else "one option's attribute")
            raise NameProblem(
                f"feature '{feature_id}' allows {feature.max} options, so '{feature_id}.{field}' is ambiguous; "
                f"use {hint}"
            )
        return Binding("feature_attr", kind, (feature_id, field))

    # -- sympy
    def iterate(self, aggregate: str):
        return list(self.options)

    def member(self, item) -> sympy.Basic:
        return sel(item)

    def symbol(self, binding: Binding, item) -> sympy.Basic:
        kind, ref = binding.kind, binding.ref
        if kind in ("field", "line", "const"):
            return super().symbol(binding, item)
        if kind == "option":
            return sel(ref[0])
        if kind == "option_qty":
            return qty(ref[0])
        if kind == "component":
            return sympy.Symbol(f"comp[{ref[0]}]")
        if kind == "component_qty":
            return sympy.Symbol(f"compqty[{ref[0]}]", integer=True, nonnegative=True)
        if kind == "feature":
            return sympy.Or(*(sel(o) for o in self.features[ref[0]].options))
        if kind == "feature_qty":
            return sympy.Add(*(qty(o) for o in self.features[ref[0]].options))
        if kind == "feature_count":
            return sympy.Add(*(indicator(o) for o in self.features[ref[0]].options))
        if kind == "feature_attr":
            return self._selected_attribute(ref[0], ref[1], binding.type)
        # per-option values inside sum()/count()
        option = self.options[item]
        if kind == "iter_qty":
            return qty(item)
        if kind == "iter_category":
            return text_symbol(option.category)
        if kind == "iter_attr":
            value = option.attributes.get(ref[0])
            return zero_of(binding.type) if value is None else constant(value)
        in_feature = item in self.features[ref[0]].options
        if kind == "iter_in_feature":
            return sympy.true if in_feature else sympy.false
        if kind == "iter_feature_qty":
            return qty(item) if in_feature else sympy.Integer(0)
        if kind == "iter_feature_attr":
            value = option.attributes.get(ref[1]) if in_feature else None
            return zero_of(binding.type) if value is None else constant(value)
        raise AssertionError(binding)  # pragma: no cover

    def _selected_attribute(self, feature_id: str, attr: str, kind: Type) -> sympy.Basic:
        options = self.features[feature_id].options
        if kind is Type.NUMBER:
            return sympy.Add(*(
                constant(self.options[o].attributes[attr]) * indicator(o)
                for o in options if attr in self.options[o].attributes
            ))
        pieces = [(constant(self.options[o].attributes[attr]), sel(o))
                  for o in options if attr in self.options[o].attributes]
        return sympy.Piecewise(*pieces, (zero_of(kind), True))


def is_text(atom) -> bool:
    return isinstance(atom, sympy.Symbol) and atom.name.startswith("'")


def bind_text_fields(expr: sympy.Basic, values: Mapping[str, str]) -> sympy.Basic:
    """Substitute text fields (e.g. {'context.channel': 'web'}) and decide the text comparisons.

    sympy cannot tell that two different symbols differ, so equality between text atoms is
    decided here by comparing their names.
    """
    bound = expr.xreplace({sympy.Symbol(k): text_symbol(v) for k, v in values.items()})

    def decided(e) -> bool:
        return isinstance(e, sympy.Eq | sympy.Ne) and all(is_text(a) for a in e.args)

    def decide(e):
        same = e.args[0] == e.args[1]
        return sympy.true if same == isinstance(e, sympy.Eq) else sympy.false

    return bound.replace(decided, decide)
