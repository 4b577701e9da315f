"""YAML loading that remembers where each value stood, so errors can name the file, path and line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deskmigrate.core.errors import Problem

PathKey = tuple[Any, ...]


@dataclass
class LocatedYaml:
    """Parsed YAML data plus the 1-based line of every mapping key and sequence item."""

    data: Any
    file: str | None
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: Iterable[Any]) -> int | None:
        """The line of the deepest known prefix of `path` (pydantic locs include union tags we skip)."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def problem(self, path: Iterable[Any], message: str) -> Problem:
        parts = tuple(path)
        return Problem(path=dotted(parts), message=message, file=self.file, line=self.line_of(parts))


def dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], duplicates: list[tuple[PathKey, int, int]]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        first_lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(key_node, yaml.ScalarNode) else _scalar(key_node)
            line = key_node.start_mark.line + 1
            if _hashable(key) and key in first_lines:
                # PyYAML keeps the last of two equal keys without a word: the first one's settings would vanish.
                duplicates.append((path + (key,), first_lines[key], line))
                continue
            if _hashable(key):
                first_lines[key] = line
            lines[path + (key,)] = line
            result[key] = _walk(value_node, path + (key,), lines, duplicates)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            items.append(_walk(item, path + (index,), lines, duplicates))
        return items
    return _scalar(node)


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _scalar(node: yaml.Node) -> Any:
    constructor = yaml.SafeLoader("")
    try:
        return constructor.construct_object(node, deep=True)
    finally:
        constructor.dispose()


def parse_yaml(text: str, file: str | None = None) -> LocatedYaml:
    """Parse YAML text; a syntax error becomes a Problem with the line it was found on."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(Problem(path="", message=f"YAML syntax error: {getattr(exc, 'problem', exc)}", file=file, line=line)) from None
    if node is None:
        return LocatedYaml(data={}, file=file, lines={(): 1})
    lines: dict[PathKey, int] = {}
    duplicates: list[tuple[PathKey, int, int]] = []
    data = _walk(node, (), lines, duplicates)
    if duplicates:
        raise YamlSyntaxError(*[
            Problem(path=dotted(key_path), message=f"duplicate key {key_path[-1]!r}: on line {first} and again on line {again}",
                    file=file, line=again)
            for key_path, first, again in duplicates
        ])
    return LocatedYaml(data=data, file=file, lines=lines)


def load_yaml_file(path: Path) -> LocatedYaml:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlSyntaxError(Problem(path="", message=f"cannot read file: {exc.strerror}", file=str(path))) from None
    return parse_yaml(text, str(path))


class YamlSyntaxError(Exception):
    """Carries the Problem a YAML syntax error is (`problems`: every duplicate key, when that is what is wrong);
    callers wrap it in ConfigError or MappingError."""

    def __init__(self, problem: Problem, *more: Problem) -> None:
        super().__init__("; ".join(str(each) for each in (problem, *more)))
        self.problem = problem
        self.problems = [problem, *more]
