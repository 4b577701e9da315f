"""The transform registry: named, typed, documented pure functions a mapping rule can apply to a value."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from deskmigrate.core.timeparse import DateOrder, LooseTime, UnreadableTime, parse_loose_time

CONTEXT_PARAMETER = "ctx"
UNREADABLE_DATE = "unreadable date"


class ValueRejected(ValueError):
    """A value a transform or a type coercion cannot accept; the rule's on_error says what it costs (the field, by default).

    `reason` is short and value-free (it groups rejections in the report); `detail` may quote the value.
    """

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ValueMapLookup(typing.Protocol):
    """What `map_value` needs from a value map (spec.ValueMap implements it)."""

    def lookup(self, value: Any) -> tuple[bool, Any]: ...


def loose_time(value: Any, *, dayfirst: bool | None = None, date_format: str | None = None) -> LooseTime:
    """core.timeparse.parse_loose_time, failing as ValueRejected("unreadable date") like every value problem."""
    try:
        return parse_loose_time(value, dayfirst=dayfirst, date_format=date_format)
    except UnreadableTime as exc:
        raise ValueRejected(UNREADABLE_DATE, str(exc)) from None


class ValueMemo(typing.Protocol):
    """What a costly transform concluded about a value in an earlier plan, by a key naming everything the conclusion
    depends on (the transform, its version, its arguments and the value): accepted with its output, or refused."""

    def recall(self, key: str) -> tuple[bool, str] | None: ...

    def remember(self, key: str, accepted: bool, text: str) -> None: ...


@dataclass(frozen=True)
class RecordHints:
    """What the record says about where its person is (Contact.country, .locale, .time_zone), as the source wrote it."""

    country: str | None = None
    locale: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True)
class TimeReading:
    """One date a transform read: what the value showed, and what decided a day/month order it did not show."""

    time: LooseTime
    decided_by: typing.Literal["value", "column", "rule", "default"]
    order: DateOrder


@dataclass(slots=True)
class TransformContext:
    """Per-record side channel: the value maps, the record's hints, the column's date order, and what a
    transform lost, could not map or read (for the report)."""

    value_maps: typing.Mapping[str, ValueMapLookup]
    misses: list[tuple[str, Any]] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    lost_items: dict[str, set[str]] = field(default_factory=dict)
    # the mapper's fallback for phone numbers without +country (config `defaults.phone_region`); a rule's
    # default_region and the record's hints come first
    phone_region: str | None = None
    hints: RecordHints = field(default_factory=RecordHints)
    # the day/month order this rule's column has shown so far (None: no value proved it yet), and the mapper's default
    column_order: DateOrder | None = None
    default_dayfirst: bool = False
    readings: list[TimeReading] = field(default_factory=list)
    memo: ValueMemo | None = None  # costly transforms (phone) remember their conclusions here across plans

    def read_time(self, value: Any, *, dayfirst: bool | None = None, date_format: str | None = None) -> LooseTime:
        """Read a date as the column shows, else as the rule's `dayfirst` says, else the mapper's default; remembered."""
        if self.column_order is not None:
            decided_by: typing.Literal["value", "column", "rule", "default"] = "column"
            use_dayfirst = self.column_order == "dayfirst"
        elif dayfirst is not None:
            decided_by, use_dayfirst = "rule", dayfirst
        else:
            decided_by, use_dayfirst = "default", self.default_dayfirst
        time = loose_time(value, dayfirst=use_dayfirst, date_format=date_format)
        if time.numeric:
            if time.shows is not None:
                decided_by = "value"
            order: DateOrder = time.shows or ("dayfirst" if use_dayfirst else "monthfirst")
            self.readings.append(TimeReading(time, decided_by, order))
        return time

    def value_map_miss(self, map_name: str, value: Any) -> None:
        self.misses.append((map_name, value))

    def content_dropped(self, kind: str, items: typing.Iterable[str] = ()) -> None:
        """`kind` is value-free (it groups losses in the report); `items` name what went, e.g. the tags removed."""
        if kind not in self.losses:
            self.losses.append(kind)
        named = {str(item) for item in items}
        if named:
            self.lost_items.setdefault(kind, set()).update(named)

    def loss_details(self) -> list[str]:
        """One line per loss, naming what went where known: "html tags removed: script, table"."""
        return [loss_detail(kind, self.lost_items.get(kind, ())) for kind in self.losses]


def loss_detail(kind: str, items: typing.Iterable[str]) -> str:
    named = sorted(set(items))
    return f"{kind}: {', '.join(named)}" if named else kind


@dataclass(frozen=True)
class Transform:
    """One registered transform: its function, the model its keyword arguments validate against, its summary."""

    name: str
    function: Callable[..., Any]
    args_model: type[BaseModel]
    summary: str
    wants_context: bool
    handles_missing: bool = False

    def arg_names(self) -> list[str]:
        return list(self.args_model.model_fields)

    def bind(self, args: typing.Mapping[str, Any]) -> BoundTransform:
        """Validate `args` (raises pydantic.ValidationError) and fix them for every later call."""
        validated = self.args_model.model_validate(dict(args))
        return BoundTransform(self, {name: getattr(validated, name) for name in self.args_model.model_fields})


@dataclass(frozen=True)
class BoundTransform:
    """A transform with validated arguments, ready to apply to values."""

    transform: Transform
    args: dict[str, Any]

    @property
    def name(self) -> str:
        return self.transform.name

    def __post_init__(self) -> None:
        # the call a rule makes per value, fixed once: the function with its arguments, told whether to pass ctx
        object.__setattr__(self, "_call", functools.partial(self.transform.function, **self.args))
        object.__setattr__(self, "_wants_context", self.transform.wants_context)

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if self._wants_context:  # type: ignore[attr-defined]
            return self._call(value, ctx=ctx)  # type: ignore[attr-defined]
        return self._call(value)  # type: ignore[attr-defined]


REGISTRY: dict[str, Transform] = {}


def register(name: str, *, handles_missing: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function `f(value, *, arg: type = default, ..., ctx)` under `name`.

    Keyword-only parameters become the transform's arguments, typed by their annotations; `ctx`, when
    declared, receives the TransformContext. A chain stops at a missing value (None) unless the next
    transform `handles_missing`.
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY:
            raise ValueError(f"transform {name!r} is registered twice")
        REGISTRY[name] = _describe(name, function, handles_missing)
        return function

    return decorate


def _describe(name: str, function: Callable[..., Any], handles_missing: bool) -> Transform:
    hints = typing.get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    wants_context = False
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        if parameter.name == CONTEXT_PARAMETER:
            wants_context = True
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints.get(parameter.name, Any), default)
    args_model = create_model(f"{name}_args", __config__=ConfigDict(extra="forbid"), **fields)
    summary = (inspect.getdoc(function) or "").split("\n", 1)[0]
    if not summary:
        raise ValueError(f"transform {name!r} needs a docstring")
    return Transform(
        name=name, function=function, args_model=args_model, summary=summary, wants_context=wants_context, handles_missing=handles_missing
    )


def transform_names() -> list[str]:
    return sorted(REGISTRY)


# One rule per transform as a mapping file writes it, for `deskmigrate mappings transforms` (a test keeps it complete).
EXAMPLES: dict[str, str] = {
    "date_text": '{to: body, from: created_at, transform: {date_text: {template: "First published on {date}."}}}',
    "default_if_empty": "{to: name, from: name, transform: [strip, {default_if_empty: {default: Unknown}}]}",
    "email": "{to: email, from: email, transform: email, on_error: drop_field}",
    "first": "{to: custom_attributes.main_domain, from: domains, transform: first}",
    "html_to_text": "{to: custom_attributes.summary, from: description, transform: html_to_text}",
    "join": '{to: custom_attributes.domains, from: domains, transform: {join: {sep: "; "}}}',
    "look_up": "{to: custom_attributes.region, from: custom_fields.country, transform: {look_up: {map: regions}}}",
    "lowercase": "{to: email, from: email, transform: [strip, lowercase]}",
    "map_value": "{to: state, from: status, transform: {map_value: {map: zendesk_status}}}",
    "phone": "{to: phone, from: phone, transform: phone, args: {default_region: GB}}",
    "prefix": '{to: external_id, from: source_id, transform: {prefix: {prefix: "zd:"}}}',
    "rename": "{to: custom_attributes.plan, from: plan, transform: {rename: {map: plan_names}}}",
    "sanitize_html": "{to: body, from: body_html, transform: {sanitize_html: {profile: article}}}",
    "sanitize_translations": "{to: translated_content, from: translations, transform: sanitize_translations}",
    "split": '{to: custom_attributes.products, from: custom_fields.Products, transform: {split: {sep: "|"}}}',
    "strip": "{to: name, from: name, transform: strip}",
    "to_bool": "{to: custom_attributes.newsletter, from: custom_fields.newsletter, transform: to_bool}",
    "to_float": "{to: custom_attributes.mrr, from: custom_fields.MRR, transform: to_float}",
    "to_int": "{to: custom_attributes.seats, from: custom_fields.seats, transform: to_int, on_error: keep_raw}",
    "truncate": "{to: custom_attributes.note, from: custom_fields.note, transform: {truncate: {length: 250}}}",
    "unix_time": "{to: signed_up_at, from: signed_up_at, transform: unix_time, args: {dayfirst: true}}",
    "uppercase": "{to: custom_attributes.country, from: country, transform: uppercase}",
}


def describe_transforms() -> list[dict[str, Any]]:
    """Every transform with its summary and arguments (name, type, default), for `deskmigrate mappings transforms`."""
    described = []
    for name in transform_names():
        transform = REGISTRY[name]
        arguments = []
        for arg_name, info in transform.args_model.model_fields.items():
            arguments.append(
                {
                    "name": arg_name,
                    "type": _type_label(info.annotation),
                    "required": info.is_required(),
                    "default": None if info.is_required() else info.default,
                }
            )
        described.append({"name": name, "summary": transform.summary, "args": arguments, "example": EXAMPLES.get(name, "")})
    return described


def _type_label(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
