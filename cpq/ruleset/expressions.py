"""The rule-file expression language: a closed grammar, typed at load time, compiled to sympy.

Text is parsed by a LALR grammar (lark) into a small AST; nothing here ever hands text to
`eval`, `sympify` or `parse_expr`. Names are resolved and typed against a `Scope`, and the
checked AST is turned into sympy objects by `to_sympy`.

Names may contain hyphens so that SKU codes read as written (`CPU-64C`); subtraction is
therefore written with spaces (`a - b`), as in CSS `calc()`. An id that is also a keyword of the
language (an option called `in`, say) can be written in backticks: `` `in`.qty ``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

import sympy
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR = r"""
?start: expr
?expr: or_expr
?or_expr: and_expr ("or" and_expr)*       -> or_
?and_expr: not_expr ("and" not_expr)*     -> and_
?not_expr: "not" not_expr                 -> not_
         | comparison
?comparison: sum_expr
           | sum_expr COMPARE sum_expr    -> compare
           | sum_expr "in" list           -> in_
           | sum_expr "not" "in" list     -> not_in
?sum_expr: product_expr
         | sum_expr ADDOP product_expr    -> arith
?product_expr: unary
             | product_expr MULOP unary   -> arith
?unary: "-" unary                         -> neg
      | atom
?atom: NUMBER                             -> number
     | PERCENT                            -> percent
     | STRING                             -> string
     | "true"                             -> true
     | "false"                            -> false
     | name
     | FUNC "(" [expr ("," expr)*] ")"    -> call
     | "(" expr ")"
list: "[" [expr ("," expr)*] "]"
name: ident ("." ident)*
ident: IDENT | QUOTED_IDENT

COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADDOP: "+" | "-"
MULOP: "*" | "/"
FUNC.2: /(sum|count|min|max|abs|if|subtotal)(?=\s*\()/
IDENT: /[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*/
QUOTED_IDENT: /`[^`\n]+`/
PERCENT.2: /\d+(\.\d+)?%/
NUMBER: /\d+(\.\d+)?/
STRING: /'[^'\n]*'/ | /"[^"\n]*"/
%import common.WS
%ignore WS
"""

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
FUNCTIONS = ("sum", "count", "min", "max", "abs", "if", "subtotal")

_parser = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


class Type(Enum):
    """The three value types of the language."""

    BOOL = "yes/no"
    NUMBER = "number"
    STRING = "text"


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Node:
    line: int
    col: int


@dataclass(frozen=True)
class Literal(Node):
    value: Decimal | str | bool

    @property
    def type(self) -> Type:
        if isinstance(self.value, bool):
            return Type.BOOL
        return Type.STRING if isinstance(self.value, str) else Type.NUMBER


@dataclass(frozen=True)
class Name(Node):
    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Arith(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    items: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    operand: Node


def walk(node: Node) -> Iterable[Node]:
    """Every node of the tree, depth first."""
    yield node
    for child in _children(node):
        yield from walk(child)


def _children(node: Node) -> Sequence[Node]:
    match node:
        case Call(args=args):
            return args
        case Neg(operand=o) | Not(operand=o):
            return (o,)
        case Arith(left=a, right=b) | Compare(left=a, right=b):
            return (a, b)
        case InList(operand=o, items=items):
            return (o, *items)
        case BoolOp(operands=ops):
            return ops
    return ()


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class ExprError:
    """A problem in one expression; line/col are relative to the expression text (1-based)."""

    line: int
    col: int
    code: str
    message: str
    suggestion: str | None = None


class ExpressionError(Exception):
    def __init__(self, errors: list[ExprError]):
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors))


def _pos(meta_or_token) -> tuple[int, int]:
    return getattr(meta_or_token, "line", 1), getattr(meta_or_token, "column", 1)


@v_args(meta=True)
class _ToAst(Transformer):
    def number(self, meta, children):
        return Literal(*_pos(meta), Decimal(str(children[0])))

    def percent(self, meta, children):
        return Literal(*_pos(meta), Decimal(str(children[0])[:-1]) / 100)

    def string(self, meta, children):
        return Literal(*_pos(meta), str(children[0])[1:-1])

    def true(self, meta, children):
        return Literal(*_pos(meta), True)

    def false(self, meta, children):
        return Literal(*_pos(meta), False)

    def ident(self, meta, children):
        text = str(children[0])
        return text[1:-1] if text.startswith("`") else text

    def name(self, meta, children):
        return Name(*_pos(meta), tuple(children))

    def call(self, meta, children):
        func = str(children[0])
        return Call(*_pos(meta), func, tuple(c for c in children[1:] if c is not None))

    def list(self, meta, children):
        return tuple(c for c in children if c is not None)

    def neg(self, meta, children):
        return Neg(*_pos(meta), children[0])

    def arith(self, meta, children):
        left, op, right = children
        return Arith(*_pos(meta), str(op), left, right)

    def compare(self, meta, children):
        left, op, right = children
        return Compare(*_pos(meta), str(op), left, right)

    def in_(self, meta, children):
        return InList(*_pos(meta), children[0], children[1], False)

    def not_in(self, meta, children):
        return InList(*_pos(meta), children[0], children[1], True)

    def and_(self, meta, children):
        return children[0] if len(children) == 1 else BoolOp(*_pos(meta), "and", tuple(children))

    def or_(self, meta, children):
        return children[0] if len(children) == 1 else BoolOp(*_pos(meta), "or", tuple(children))

    def not_(self, meta, children):
        return Not(*_pos(meta), children[0])


_TOKEN_WORDS = {
    "COMPARE": "a comparison",
    "ADDOP": "'+' or '-'",
    "MULOP": "'*' or '/'",
    "NUMBER": "a number",
    "PERCENT": "a percentage",
    "STRING": "a quoted text",
    "IDENT": "a name",
    "QUOTED_IDENT": "a name",
    "FUNC": "a function",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "DOT": "'.'",
    "$END": "the end",
}


def _describe_expected(expected: Iterable[str]) -> str:
    words = sorted({_TOKEN_WORDS.get(e, e.lower().strip('"')) for e in expected})
    if len(words) > 4:
        return "a value, a name or an operator"
    return " or ".join(words)


def parse(text: str) -> Node:
    """Parse an expression into an AST, or raise ExpressionError with the position of the problem."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError([ExprError(1, 1, "rule_syntax", "empty expression")])
    try:
        tree = _parser.parse(text)
    except UnexpectedCharacters as exc:
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        hint = None
        if char == "=":
            hint = "'==' to compare"
        elif char in "&|":
            hint = "'and' / 'or'" if char else None
        elif char == "!":
            hint = "'not' or '!='"
        raise ExpressionError(
            [ExprError(exc.line, exc.column, "rule_syntax", f"unexpected character {char!r}", hint)]
        ) from None
    except UnexpectedToken as exc:
        tok: Token = exc.token
        if tok.type == "$END":
            msg = f"expression ends early; expected {_describe_expected(exc.expected)}"
            line, col = _end_position(text)
        else:
            msg = f"unexpected {tok.value!r}; expected {_describe_expected(exc.expected)}"
            line, col = tok.line, tok.column
        raise ExpressionError([ExprError(line, col, "rule_syntax", msg)]) from None
    except UnexpectedEOF as exc:
        line, col = _end_position(text)
        msg = f"expression ends early; expected {_describe_expected(exc.expected)}"
        raise ExpressionError([ExprError(line, col, "rule_syntax", msg)]) from None
    except UnexpectedInput as exc:  # pragma: no cover - lark's other input errors
        raise ExpressionError(
            [ExprError(exc.line, exc.column, "rule_syntax", "cannot read expression")]
        ) from None
    if isinstance(tree, Token):  # a lone terminal that no rule wrapped
        raise ExpressionError([ExprError(1, 1, "rule_syntax", "cannot read expression")])
    return _ToAst().transform(tree)


def _end_position(text: str) -> tuple[int, int]:
    lines = text.rstrip().split("\n")
    return len(lines), len(lines[-1]) + 1


# --------------------------------------------------------------------------- names and types


@dataclass(frozen=True)
class Binding:
    """What a name means: a kind understood by the scope that produced it, its type and refs."""

    kind: str
    type: Type
    ref: tuple = ()


class NameProblem(Exception):
    def __init__(self, message: str, suggestion: str | None = None):
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to `word`, if any is close enough to be a likely typo."""
    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        matches = [lowered[m] for m in matches]
    return f"'{matches[0]}'" if matches else None


class Scope:
    """Resolves names for one kind of expression (constraint, filter, formula, condition…).

    `aggregate` is the function whose argument is being resolved (`sum`, `count`, `subtotal`)
    or None at top level; scopes decide which names exist inside which aggregate.
    """

    aggregates: frozenset[str] = frozenset()

    def cache_key(self) -> tuple | None:
        """A hashable description of the scope when equal keys resolve every name alike, else None."""
        return None

    def resolve(self, name: Name, aggregate: str | None) -> Binding:
        raise NotImplementedError

    # sympy compilation hooks
    def iterate(self, aggregate: str) -> Iterable[object]:
        """The items an aggregate ranges over (options, lines)."""
        raise NotImplementedError

    def symbol(self, binding: Binding, item: object | None) -> sympy.Basic:
        """The sympy value of a binding, for one aggregate item or at top level."""
        raise NotImplementedError

    def member(self, item: object) -> sympy.Basic:
        """Whether an aggregate item takes part (an option is chosen, a line exists)."""
        return sympy.true

    def aggregate(self, func: str, term) -> sympy.Basic:
        """sum/count over the scope's items; `term(item)` compiles the argument for one item."""
        items = self.iterate(func)
        if func == "count":
            return sympy.Add(*(sympy.Piecewise((1, sympy.And(self.member(i), term(i))), (0, True)) for i in items))
        return sympy.Add(*(sympy.Piecewise((term(i), self.member(i)), (0, True)) for i in items))


_ARITY = {
    "sum": (1, 1),
    "count": (1, 1),
    "subtotal": (1, 1),
    "abs": (1, 1),
    "if": (3, 3),
    "min": (2, None),
    "max": (2, None),
}


class Checker:
    """Types an AST against a scope, collecting every error (not just the first)."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.errors: list[ExprError] = []
        self.bindings: dict[int, Binding] = {}

    def error(self, node: Node, code: str, message: str, suggestion: str | None = None) -> None:
        self.errors.append(ExprError(node.line, node.col, code, message, suggestion))

    def check(self, node: Node, aggregate: str | None = None) -> Type | None:
        match node:
            case Literal():
                return node.type
            case Name():
                return self._name(node, aggregate)
            case Neg(operand=o):
                self._expect(o, Type.NUMBER, aggregate, "'-'")
                return Type.NUMBER
            case Arith(op=op, left=a, right=b):
                self._expect(a, Type.NUMBER, aggregate, f"'{op}'")
                self._expect(b, Type.NUMBER, aggregate, f"'{op}'")
                return Type.NUMBER
            case Compare(op=op, left=a, right=b):
                ta, tb = self.check(a, aggregate), self.check(b, aggregate)
                if ta and tb:
                    if op in ("<", "<=", ">", ">=") and (ta is not Type.NUMBER or tb is not Type.NUMBER):
                        bad = a if ta is not Type.NUMBER else b
                        self.error(bad, "type_error", f"'{op}' compares numbers, not {(ta if ta is not Type.NUMBER else tb).value}")
                    elif ta is not tb:
                        self.error(node, "type_error", f"cannot compare {ta.value} with {tb.value}")
                return Type.BOOL
            case InList(operand=o, items=items):
                to = self.check(o, aggregate)
                for item in items:
                    ti = self.check(item, aggregate)
                    if to and ti and ti is not to:
                        self.error(item, "type_error", f"list item is {ti.value}, expected {to.value}")
                return Type.BOOL
            case BoolOp(op=op, operands=ops):
                for o in ops:
                    self._expect(o, Type.BOOL, aggregate, f"'{op}'")
                return Type.BOOL
            case Not(operand=o):
                self._expect(o, Type.BOOL, aggregate, "'not'")
                return Type.BOOL
            case Call():
                return self._call(node, aggregate)
        raise AssertionError(f"unknown node {node!r}")  # pragma: no cover

    def _expect(self, node: Node, want: Type, aggregate: str | None, where: str) -> None:
        got = self.check(node, aggregate)
        if got is not None and got is not want:
            self.error(node, "type_error", f"{where} needs a {want.value} value, got {got.value}")

    def _name(self, node: Name, aggregate: str | None) -> Type | None:
        try:
            binding = self.scope.resolve(node, aggregate)
        except NameProblem as problem:
            self.error(node, "unknown_name", problem.message, problem.suggestion)
            return None
        self.bindings[id(node)] = binding
        return binding.type

    def _call(self, node: Call, aggregate: str | None) -> Type | None:
        lo, hi = _ARITY[node.func]
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}"
            self.error(node, "type_error", f"{node.func}() takes {want} argument(s), got {n}")
            return Type.NUMBER
        if node.func in ("sum", "count", "subtotal"):
            if aggregate is not None:
                self.error(node, "type_error", f"{node.func}() cannot be nested inside {aggregate}()")
                return Type.NUMBER
            if node.func not in self.scope.aggregates:
                self.error(node, "unknown_name", f"{node.func}() is not available here")
                return Type.NUMBER
            want = Type.NUMBER if node.func == "sum" else Type.BOOL
            self._expect(node.args[0], want, node.func, f"{node.func}()")
            return Type.NUMBER
        if node.func == "if":
            self._expect(node.args[0], Type.BOOL, aggregate, "if()")
            ta, tb = self.check(node.args[1], aggregate), self.check(node.args[2], aggregate)
            if ta and tb and ta is not tb:
                self.error(node, "type_error", f"if() branches differ: {ta.value} and {tb.value}")
            return ta or tb
        for arg in node.args:  # min, max, abs
            self._expect(arg, Type.NUMBER, aggregate, f"{node.func}()")
        return Type.NUMBER


def check(node: Node, scope: Scope, expected: Type | None = None) -> Checker:
    """Type-check `node`; the returned checker carries errors and the resolved bindings."""
    checker = Checker(scope)
    got = checker.check(node)
    if expected is not None and got is not None and got is not expected and not checker.errors:
        checker.error(node, "type_error", f"expected a {expected.value} expression, got {got.value}")
    return checker


def compile_expression(text: str, scope: Scope, expected: Type | None = None) -> tuple[Node, Checker]:
    """Parse and type-check; raise ExpressionError with every problem found."""
    node = parse(text)
    checker = check(node, scope, expected)
    if checker.errors:
        raise ExpressionError(checker.errors)
    return node, checker


# --------------------------------------------------------------------------- sympy


def _to_sympy_number(value: Decimal) -> sympy.Rational:
    # Exact: Decimal → Rational through its integer ratio, never through float.
    num, den = value.as_integer_ratio()
    return sympy.Rational(num, den)


_REL = {
    "==": sympy.Eq,
    "!=": sympy.Ne,
    "<": sympy.Lt,
    "<=": sympy.Le,
    ">": sympy.Gt,
    ">=": sympy.Ge,
}


def text_symbol(value: str) -> sympy.Symbol:
    """A text constant as a sympy atom (sympy has no strings): equal texts are the same symbol."""
    return sympy.Symbol(f"'{value}'")


def to_sympy(node: Node, checker: Checker, item: object | None = None) -> sympy.Basic:
    """Turn a checked AST into a sympy expression (numbers exact, booleans as sympy logic)."""
    scope = checker.scope

    def go(n: Node) -> sympy.Basic:
        return to_sympy(n, checker, item)

    match node:
        case Literal(value=v):
            if isinstance(v, bool):
                return sympy.true if v else sympy.false
            if isinstance(v, str):
                return text_symbol(v)
            return _to_sympy_number(v)
        case Name():
            return scope.symbol(checker.bindings[id(node)], item)
        case Neg(operand=o):
            return -go(o)
        case Arith(op=op, left=a, right=b):
            x, y = go(a), go(b)
            return {"+": x + y, "-": x - y, "*": x * y, "/": x / y}[op]
        case Compare(op=op, left=a, right=b):
            return _REL[op](go(a), go(b))
        case InList(operand=o, items=items, negated=neg):
            x = go(o)
            expr = sympy.Or(*(sympy.Eq(x, go(i)) for i in items)) if items else sympy.false
            return sympy.Not(expr) if neg else expr
        case BoolOp(op="and", operands=ops):
            return sympy.And(*(go(o) for o in ops))
        case BoolOp(operands=ops):
            return sympy.Or(*(go(o) for o in ops))
        case Not(operand=o):
            return sympy.Not(go(o))
        case Call(func="sum" | "count" | "subtotal" as f, args=(arg,)):
            return scope.aggregate(f, lambda it: to_sympy(arg, checker, it))
        case Call(func="abs", args=(arg,)):
            return sympy.Abs(go(arg))
        case Call(func="min", args=args):
            return sympy.Min(*(go(a) for a in args))
        case Call(func="max", args=args):
            return sympy.Max(*(go(a) for a in args))
        case Call(func="if", args=(c, a, b)):
            return sympy.Piecewise((go(a), go(c)), (go(b), True))
    raise AssertionError(f"cannot compile {node!r}")  # pragma: no cover
