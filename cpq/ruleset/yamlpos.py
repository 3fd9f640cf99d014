"""Read YAML keeping the line and column of every mapping, key, sequence item and scalar.

Numbers written with a fraction become `Decimal` from their exact text (never float); dates
and timestamps stay text (the schemas parse them); duplicate keys are reported, not merged.
"""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

Pos = tuple[int, int]


class PosDict(dict):
    """A mapping that remembers where it and each of its keys and values start."""

    pos: Pos = (1, 1)
    key_pos: dict
    value_pos: dict
    value_style: dict


class PosList(list):
    """A sequence that remembers where it and each of its items start."""

    pos: Pos = (1, 1)
    item_pos: list


class DuplicateKey(Exception):
    def __init__(self, key: str, pos: Pos, first: Pos):
        super().__init__(f"duplicate key {key!r} (first at line {first[0]})")
        self.key, self.pos, self.first = key, pos, first


_scalars = SafeConstructor()
_resolver = yaml.resolver.Resolver()


@functools.lru_cache(maxsize=1 << 16)
def _resolve_scalar(value: str, implicit: tuple[bool, bool]) -> str:
    return _resolver.resolve(ScalarNode, value, implicit)


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """libyaml's C parser when PyYAML has it (same marks, 10× faster), and a memoised tag resolver:
    large pricebooks repeat the same scalars ("USD", "1", "unit") hundreds of thousands of times."""

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode and isinstance(value, str):
            return _resolve_scalar(value, tuple(implicit))
        return super().resolve(kind, value, implicit)


_LOADER = _FastLoader


def _mark(node) -> Pos:
    return node.start_mark.line + 1, node.start_mark.column + 1


_STR = "tag:yaml.org,2002:str"


def _scalar(node: ScalarNode):
    tag = node.tag
    if tag == _STR:
        return node.value  # what SafeConstructor makes of a str scalar, without its bookkeeping
    if tag == "tag:yaml.org,2002:float":
        try:
            return Decimal(node.value.replace("_", ""))
        except InvalidOperation:
            return _construct(node)  # .inf / .nan: schemas reject them
    if tag == "tag:yaml.org,2002:timestamp":
        return node.value
    return _construct(node)


def _construct(node: ScalarNode):
    """One scalar through PyYAML's safe constructor, which is shared and must not keep the node.

    `construct_object` remembers every node it built (for anchors within one document) until the
    next document is constructed — which never happens for this module-level constructor, so every
    scalar node of every file ever loaded, with its two marks, stayed alive (1.1 million objects per
    26,000-option catalog, walked by each full collection of the process afterwards).
    """
    try:
        return _scalars.construct_object(node)
    finally:
        _scalars.constructed_objects.pop(node, None)


def build(node, duplicates: list[DuplicateKey]):
    """Turn a composed YAML node into PosDict / PosList / plain scalars."""
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode):
        out = PosList(build(n, duplicates) for n in node.value)
        out.pos = _mark(node)
        out.item_pos = [_mark(n) for n in node.value]
        return out
    if isinstance(node, MappingNode):
        out = PosDict()
        out.pos = _mark(node)
        out.key_pos, out.value_pos, out.value_style = key_pos, value_pos, value_style = {}, {}, {}
        for key_node, value_node in node.value:
            # plain text keys and values (most of a file) are read here, as _scalar reads them
            if key_node.__class__ is ScalarNode and key_node.tag == _STR:
                key = key_node.value
            else:
                key = build(key_node, duplicates)
                if not isinstance(key, str | int | bool | Decimal):
                    key = str(key)
            mark = key_node.start_mark
            if key in key_pos:
                duplicates.append(DuplicateKey(str(key), (mark.line + 1, mark.column + 1), key_pos[key]))
                continue
            if value_node.__class__ is ScalarNode:
                out[key] = value_node.value if value_node.tag == _STR else _scalar(value_node)
                value_style[key] = value_node.style
            else:
                out[key] = build(value_node, duplicates)
                value_style[key] = getattr(value_node, "style", None)
            key_pos[key] = (mark.line + 1, mark.column + 1)
            mark = value_node.start_mark
            value_pos[key] = (mark.line + 1, mark.column + 1)
        return out
    raise TypeError(f"unexpected YAML node {node!r}")  # pragma: no cover


def load(text: str) -> tuple[object, list[DuplicateKey]]:
    """Parse one YAML document; raise yaml.YAMLError on syntax errors."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        yaml.compose(text, Loader=yaml.SafeLoader)  # the pure-Python parser words its errors better
        raise
    duplicates: list[DuplicateKey] = []
    if node is None:
        return None, duplicates
    return build(node, duplicates), duplicates


def locate(data, path: tuple) -> Pos:
    """The position of the value at `path` (keys / indexes), or of its nearest located parent."""
    pos = getattr(data, "pos", (1, 1))
    current = data
    for step in path:
        if isinstance(current, PosDict) and step in current:
            pos = current.value_pos.get(step, pos)
            current = current[step]
        elif isinstance(current, PosDict) and step in current.key_pos:
            pos = current.key_pos[step]
            break
        elif isinstance(current, PosList) and isinstance(step, int) and 0 <= step < len(current):
            pos = current.item_pos[step]
            current = current[step]
        else:
            break
    return pos


def locate_key(data, path: tuple) -> Pos:
    """The position of the last key of `path` itself (where an unknown field is written)."""
    parent = data
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return locate(data, path)
    if isinstance(parent, PosDict) and path and path[-1] in parent.key_pos:
        return parent.key_pos[path[-1]]
    return locate(data, path)
