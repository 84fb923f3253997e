"""YAML that remembers where things are: every mapping key's line, every list item's line.

PyYAML's SafeLoader forgets positions once it builds Python objects. `load_located` builds the
same plain dicts and lists, but as `LocatedDict` / `LocatedList`, which carry the 1-based line
of each key (of each item, for lists), so a validation error on `stages[2].when` can name the
line that holds `when:`. Duplicate keys, which PyYAML silently lets the last one win, are
reported instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, SequenceNode


class LocatedDict(dict):
    """A dict from YAML; `lines[key]` is the line of the key, `line` that of the mapping."""

    line: int = 1
    lines: dict[Any, int]


class LocatedList(list):
    """A list from YAML; `lines[i]` is the line of item i, `line` that of the list."""

    line: int = 1
    lines: list[int]


@dataclass(frozen=True)
class YamlProblem:
    line: int
    field: str
    message: str


class _Loader(yaml.SafeLoader):
    """SafeLoader building LocatedDict / LocatedList and noting duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.problems: list[YamlProblem] = []


def _construct_mapping(loader: _Loader, node: MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    result = LocatedDict()
    result.line = node.start_mark.line + 1
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            loader.problems.append(YamlProblem(line, "?", "a mapping key must be a plain value"))
            continue
        if key in result:
            loader.problems.append(
                YamlProblem(line, str(key), f"duplicate key (first on line {result.lines[key]})")
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = line
    return result


def _construct_sequence(loader: _Loader, node: SequenceNode) -> LocatedList:
    result = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_located(text: str) -> tuple[Any, list[YamlProblem]]:
    """Parse one YAML document. Raises yaml.YAMLError (with marks) on a syntax error."""
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    return data, loader.problems


def line_of(root: Any, loc: Sequence[Any]) -> int:
    """The line of the deepest element of `loc` (keys and list indexes) found under `root`.

    Path elements that are not in the tree (pydantic's union tags, a missing field) are
    skipped, so the answer is the line of the nearest enclosing element that exists.
    """
    node = root
    line = getattr(root, "line", 1)
    for part in loc:
        if isinstance(node, LocatedDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, LocatedList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lines[part]
            node = node[part]
    return line


def field_path(loc: Sequence[Any]) -> str:
    """`('stages', 2, 'when')` -> `stages[2].when`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"
