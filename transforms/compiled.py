"""The mapping compiled for speed (rules with their transforms bound, targets with what they read and declare), and the
small pieces the Mapper works with: reading a dotted source path, writing a body key, what one record's mapping found."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from deskmigrate.core.errors import MappingError, Problem
from deskmigrate.core.model import Record
from deskmigrate.core.payload import AttributeDeclaration, FieldNote
from deskmigrate.core.yamlfile import dotted
from deskmigrate.transforms import coercion
from deskmigrate.transforms.checks import compile_steps
from deskmigrate.transforms.registry import BoundTransform, RecordHints, TransformContext, ValueRejected
from deskmigrate.transforms.spec import (
    CUSTOM_ATTRIBUTES,
    TIME_KEYS,
    AttributeSpec,
    OnError,
    Rule,
    TargetSpec,
)

CUSTOM_FIELDS = "custom_fields"


ATTRIBUTE_NAME_MAX = 190


COERCIONS: dict[str, Callable[[Any], Any]] = {
    "string": coercion.as_text,
    "integer": coercion.as_int,
    "float": coercion.as_float,
    "boolean": coercion.as_bool,
    "date": coercion.as_unix_seconds,
    "datetime": coercion.as_unix_seconds,
}


# Errors a transform may raise on a value it cannot handle; they cost what the rule's on_error says. Anything else is a bug.
VALUE_ERRORS = (ValueError, TypeError, ArithmeticError)


def sanitize_attribute_name(field_name: str) -> str:
    """A source field name as an Intercom attribute name: lower case, only [a-z0-9_-] ("Plan Tier" → "plan_tier")."""
    name = re.sub(r"[^a-z0-9_-]+", "_", field_name.strip().lower()).strip("_")
    return (name or "field")[:ATTRIBUTE_NAME_MAX]


def is_empty(value: Any) -> bool:
    """Missing for mapping purposes: None, blank text, an empty list or dict."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, dict, tuple)) and not value)


def read_path(source: Any, path: str) -> Any:
    """Read a field or a dotted path into dicts and models; a dict key containing dots is matched whole first."""
    if source is None:
        return None
    if isinstance(source, dict):
        if path in source:
            return source[path]
        head, _, rest = path.partition(".")
        return read_path(source.get(head), rest) if rest else None
    head, _, rest = path.partition(".")
    value = getattr(source, head, None) if isinstance(source, BaseModel) else None
    return read_path(value, rest) if rest else value


def path_reader(path: str) -> Callable[[Any], Any]:
    """read_path for one path, fixed ahead: a plain field name is read without splitting it each time."""
    if "." in path:
        return lambda source: read_path(source, path)

    def read(source: Any) -> Any:
        if isinstance(source, BaseModel):
            return getattr(source, path, None)
        return source.get(path) if isinstance(source, dict) else None

    return read


@dataclass(frozen=True)
class CompiledRule:
    to: str
    to_path: tuple[str, ...]
    sources: tuple[str, ...]
    reads_many: bool
    steps: tuple[BoundTransform, ...]
    default: Any
    required: bool
    on_error: OnError = "drop_field"
    explicit_on_error: OnError | None = None  # as the rule wrote it: also governs the type check of the attribute it writes
    writes_time: bool = False  # its `to` is a time Intercom takes as unix seconds (spec.TIME_KEYS)
    readers: tuple[Callable[[Any], Any], ...] = ()  # one per source path
    needs_context: bool = False  # a step takes the TransformContext, or the value may be a time to read
    date_key: str = ""  # "<target>.<to>": where the mapper keeps the day/month order its values showed


@dataclass
class CompiledTarget:
    name: str
    rules: list[CompiledRule]
    unmapped: str
    declared: dict[str, AttributeSpec]
    tags_from: list[str]
    tags_add: list[str]
    read_custom_fields: set[str]
    reads_all_custom_fields: bool
    # custom attribute → the on_error a rule writing it set explicitly (else the attribute's own on_error applies)
    attribute_policies: dict[str, OnError] = field(default_factory=dict)


@dataclass
class MapperState:
    """What a Mapper learns while it maps, beyond its report: the day/month order date columns showed, the attributes
    declared (auto-declared ones included, in order) and the names unmapped fields got, and the attributes written."""

    date_orders: dict[str, str]
    declarations: dict[tuple[str, str], AttributeDeclaration]
    unmapped_names: dict[tuple[str, str], str]
    written: set[tuple[str, str]]


@dataclass
class Outcome:
    """What happened to one record, committed to the report only once the record is mapped or rejected."""

    failures: list[tuple[str, ValueRejected]] = field(default_factory=list)
    defaults: list[str] = field(default_factory=list)
    unmapped_dropped: list[str] = field(default_factory=list)
    unmapped_kept: list[str] = field(default_factory=list)
    losses: list[tuple[str, str]] = field(default_factory=list)
    lost_items: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)  # (to, kind, what went by name)
    misses: list[tuple[str, Any]] = field(default_factory=list)
    notes: list[FieldNote] = field(default_factory=list)
    ambiguous_dates: list[tuple[str, str]] = field(default_factory=list)  # (field, order read as)
    part_notes: list[FieldNote] = field(default_factory=list)  # a ticket's parts' notes, reported under `part` already

    def note(self, field_name: str, reason: str, action: str, value: Any, location: str | None) -> None:
        self.notes.append(FieldNote(field=field_name, reason=reason, action=action, value_kind=value_kind(value), location=location))  # type: ignore[arg-type]


def value_kind(value: Any) -> str:
    """The kind of a value, for notes and logs that must not show customer data: "text (12 characters)", "number"."""
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return f"text ({len(value)} characters)"
    if isinstance(value, list):
        return f"list of {len(value)}"
    return type(value).__name__


def compile_target(name: str, spec: TargetSpec) -> CompiledTarget:
    rules = [compile_rule(rule, TIME_KEYS.get(name, frozenset()), name) for rule in spec.rules]
    read_fields: set[str] = set()
    reads_all = False
    for rule in spec.rules:
        for path in rule.source_paths():
            head, _, rest = path.partition(".")
            if head == CUSTOM_FIELDS:
                reads_all = reads_all or not rest
                read_fields.add(rest)
    return CompiledTarget(
        name=name,
        rules=rules,
        unmapped=spec.unmapped,
        declared={attribute.name: attribute for attribute in spec.attributes},
        tags_from=list(spec.tags.from_),
        tags_add=list(spec.tags.add),
        read_custom_fields=read_fields,
        reads_all_custom_fields=reads_all,
        attribute_policies={
            rule.to_path[1]: rule.explicit_on_error for rule in rules if rule.to_path[0] == CUSTOM_ATTRIBUTES and rule.explicit_on_error
        },
    )


def compile_rule(rule: Rule, time_keys: frozenset[str] = frozenset(), target: str = "") -> CompiledRule:
    found: list[tuple[Any, str]] = []
    steps = compile_steps(rule.transform, rule.args, (), found)
    if found:  # mapping_problems ran on the same data first, so this is unreachable for a spec that passed it
        raise MappingError([Problem(path=dotted(path), message=message) for path, message in found])
    head, _, rest = rule.to.partition(".")
    to_path = (head, rest) if head == CUSTOM_ATTRIBUTES else tuple(rule.to.split("."))
    return CompiledRule(
        to=rule.to,
        to_path=to_path,
        sources=tuple(rule.source_paths()),
        reads_many=isinstance(rule.from_, list),
        steps=tuple(steps),
        default=rule.default,
        required=rule.required,
        on_error=rule.error_policy(),
        explicit_on_error=rule.on_error,
        writes_time=rule.to in time_keys,
        readers=tuple(path_reader(path) for path in rule.source_paths()),
        needs_context=rule.to in time_keys or any(step.transform.wants_context for step in steps),
        date_key=f"{target}.{rule.to}",
    )


def record_hints(record: Any) -> RecordHints:
    """Where the record's person is, as the source says (contacts carry country, locale, time zone)."""
    def text(name: str) -> str | None:
        value = getattr(record, name, None)
        return value if isinstance(value, str) and value.strip() else None

    return RecordHints(country=text("country"), locale=text("locale"), time_zone=text("time_zone"))


def as_written(value: Any) -> str | None:
    """The value as the source wrote it, for keep_raw; None for what has no text form (nested data)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def run_chain(steps: tuple[BoundTransform, ...], value: Any, ctx: TransformContext) -> Any:
    for step in steps:
        if is_empty(value) and not step.transform.handles_missing:
            return value
        try:
            value = step(value, ctx)
        except ValueRejected:
            raise
        except VALUE_ERRORS as exc:
            raise ValueRejected(f"transform {step.name} failed", str(exc)) from None
    return value


def write_path(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = body
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


_JSON_SCALARS = frozenset({str, int, float, bool})


def finish_body(body: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready body: no nulls, times as unix seconds, models as JSON, custom_attributes keys sorted."""
    finished: dict[str, Any] = {}
    for key, value in body.items():
        cleaned = jsonable(value)
        if cleaned is None or (isinstance(cleaned, dict) and not cleaned):
            continue
        finished[key] = dict(sorted(cleaned.items())) if key == CUSTOM_ATTRIBUTES and isinstance(cleaned, dict) else cleaned
    return finished


def jsonable(value: Any) -> Any:
    if type(value) in _JSON_SCALARS:
        return value
    if isinstance(value, dict):
        return {str(key): cleaned for key, item in value.items() if (cleaned := jsonable(item)) is not None}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(item) for item in value if item is not None]
    if isinstance(value, (datetime, date)):
        return coercion.as_unix_seconds(value)  # Intercom takes every timestamp as unix seconds
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    return value


def collect_tags(target: CompiledTarget, record: Record) -> list[str]:
    tags: dict[str, str] = {}
    for path in target.tags_from:
        value = read_path(record, path)
        for tag in value if isinstance(value, list) else [value]:
            if not is_empty(tag):
                text = coercion.as_text(tag).strip()
                tags.setdefault(text.casefold(), text)
    for tag in target.tags_add:
        if tag.strip():
            tags.setdefault(tag.strip().casefold(), tag.strip())
    return list(tags.values())
