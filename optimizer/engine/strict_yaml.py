"""Strict YAML: what PyYAML's safe loader lets through silently, refused with the line it is on.

The safe loader builds no objects, but it still accepts documents that mean something other than
what the planner wrote, or that cost far more than their size. Refused here, before the schema:

- a key given twice in one mapping (PyYAML keeps the last: a second ``quotas:`` block silently
  dropped the first) — the error names both lines;
- the decimal comma: in a flow mapping ``{lo: 193,06}`` reads as ``lo: 193`` plus a key ``06``
  without a value, which an ``extends:`` overlay then treats as "remove" — "use a decimal point";
- nesting deeper than :data:`MAX_DEPTH` (PyYAML composes recursively: a RecursionError otherwise),
  checked on the event stream before anything is composed;
- aliases that expand the document to more than :data:`MAX_EXPANSION` times the nodes written
  (an alias bomb of a few hundred bytes grows ×10 per level), or that contain themselves;
- numbers that are not finite (``.nan``, ``.inf``, ``1e400``) or beyond ±:data:`MAX_MAGNITUDE`:
  run.json cannot hold them, solvers lose all precision with them, and no planning figure
  (hectares, metres, weights, seeds) is that large.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from optimizer.engine.errors import InputError

MAX_DEPTH = 32
MAX_EXPANSION = 4
EXPANSION_SLACK = 256
"""an expanded document may hold at most MAX_EXPANSION × the nodes written, plus this many"""
MAX_MAGNITUDE = 1e12

_INT, _FLOAT, _NULL = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


def _where(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys and the decimal comma as each mapping is built."""

    label = "<yaml>"

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self._check_pairs(node)
        return super().construct_mapping(node, deep=deep)

    def _check_pairs(self, node: yaml.MappingNode) -> None:
        seen: dict[Any, yaml.Node] = {}
        previous_value = None
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                previous_value = None
                continue
            if isinstance(key_node, yaml.ScalarNode):
                if (key_node.tag in (_INT, _FLOAT) and value_node.tag == _NULL and value_node.value == ""
                        and isinstance(previous_value, yaml.ScalarNode) and previous_value.tag in (_INT, _FLOAT)):
                    written = f"{previous_value.value},{key_node.value}"
                    raise InputError(self.label, _where(previous_value),
                                     f"`{written}` has a decimal comma: YAML reads it as the number {previous_value.value} "
                                     f"followed by a key {key_node.value} without a value",
                                     f"use a decimal point ({previous_value.value}.{key_node.value}) and no thousands separators")
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the constructor refuses it with its own message
                    first = None
                if first is not None:
                    raise InputError(self.label, _where(key_node),
                                     f"key {key_node.value!r} is given twice in one mapping (first at {_where(first)}); "
                                     "YAML would silently keep only the last one",
                                     "merge the two entries into one")
                try:
                    seen[key] = key_node
                except TypeError:
                    pass
            previous_value = value_node


def _check_depth(text: str, label: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the parser's events (the parser is iterative; the composer is not)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise InputError(label, _where(event), f"nested more than {MAX_DEPTH} levels deep",
                                 "a scenario never needs this depth; check the brackets and indentation")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_aliases(root: yaml.Node, label: str) -> None:
    """Count the nodes written (each node object once) and the nodes after expanding every alias (a node
    once per reference), iteratively, so that neither a long alias chain nor a cycle can recurse."""
    size: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            visiting.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            continue
        if key in size:
            continue
        if key in visiting:  # reached again from inside itself
            raise InputError(label, _where(node), "an alias refers to the node that contains it (a recursive document)",
                             "remove the alias; write the values out")
        visiting.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node))
    written, expanded = len(size), size[id(root)]
    if expanded > MAX_EXPANSION * written + EXPANSION_SLACK:
        raise InputError(label, None, f"aliases expand {written:,} written YAML nodes to {expanded:,}, more than "
                         f"{MAX_EXPANSION}× the document (an alias bomb?)", "write the values out instead of nesting aliases")


def load_yaml(text: str, label: str) -> Any:
    """A YAML document read with the safe loader and the checks above; InputError names the file and line."""
    try:
        _check_depth(text, label)
        loader = _Loader(text)
        loader.label = label
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_aliases(node, label)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except ValueError as e:  # a value Python cannot hold, e.g. an integer of more than 4,300 digits
        raise InputError(label, None, f"a value cannot be read: {e}", "check the numbers in the file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise InputError(label, where, f"invalid YAML: {getattr(e, 'problem', None) or e}", "fix the YAML syntax") from None


def check_numbers(node: Any, label: str, path: str = "") -> None:
    """Every number of a loaded document finite and within ±MAX_MAGNITUDE, named by its dotted path."""
    stack = [(node, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, f"{where}.{i}" if where else str(i)) for i, v in enumerate(value))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise InputError(label, where or None, f"{value} is not a finite number",
                                 "write a number such as 1.5 (YAML reads .nan, .inf and 1e400 as not-a-number or infinity)")
            if abs(value) > MAX_MAGNITUDE:
                text = f"{value:g}" if isinstance(value, float) else f"a number of {int(value.bit_length() * 0.30103) + 1} digits"
                raise InputError(label, where or None, f"{text} is beyond ±{MAX_MAGNITUDE:g}, larger than any planning "
                                 "figure (ha, m, weights, seeds) and beyond what solvers hold precisely",
                                 "check the units and the number of digits")
