"""Checks a mapping beyond its schema: transform names and args, field names, value-map references, custom attributes."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from deskmigrate.core.yamlfile import dotted
from deskmigrate.transforms.registry import REGISTRY, BoundTransform
from deskmigrate.transforms.spec import (
    ATTRIBUTE_MODELS,
    ATTRIBUTE_NAME_PATTERN,
    BODY_KEYS,
    CUSTOM_ATTRIBUTES,
    PHONE_ORIGINAL,
    TARGET_RECORD_TYPES,
    TARGETS,
    MappingSpec,
)

CUSTOM_FIELDS = "custom_fields"
PathKey = tuple[Any, ...]
Found = list[tuple[PathKey, str]]
MAP_VALUE = "map_value"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def compile_steps(transform: Any, shared_args: Any, rule_path: PathKey, found: Found) -> list[BoundTransform]:
    """Turn a rule's `transform` + `args` into bound transforms, appending a located problem for anything wrong.

    `transform` is a name, a `{name: {args}}` step, or a list of them. Each key of the rule's shared `args` goes
    to every transform in the chain that takes an argument of that name.
    """
    steps = _step_specs(transform, rule_path, found)
    shared = shared_args if isinstance(shared_args, dict) else {}
    used: set[str] = set()
    bound: list[BoundTransform] = []
    for name, own_args, step_path in steps:
        known = REGISTRY.get(name)
        if known is None:
            found.append((step_path, f"unknown transform {name!r}{did_you_mean(name, REGISTRY)}"))
            continue
        takes = known.arg_names()
        args = {key: value for key, value in shared.items() if key in takes}
        used.update(args)
        args.update(own_args)
        try:
            bound.append(known.bind(args))
        except ValidationError as exc:
            args_path = step_path if step_path[-1] == name else rule_path + ("args",)
            for error in exc.errors():
                found.append(_arg_problem(error, name, takes, own_args, args_path, step_path))
    if steps and len(bound) == len(steps):
        for key in shared:
            if key not in used:
                takers = ", ".join(f"{step.name}: {', '.join(step.transform.arg_names()) or 'nothing'}" for step in bound)
                found.append((rule_path + ("args", key), f"no transform in this rule takes argument {key!r} ({takers})"))
    return bound


def _step_specs(transform: Any, rule_path: PathKey, found: Found) -> list[tuple[str, dict[str, Any], PathKey]]:
    if transform is None:
        return []
    items = transform if isinstance(transform, list) else [transform]
    steps = []
    for index, item in enumerate(items):
        step_path = rule_path + (("transform", index) if isinstance(transform, list) else ("transform",))
        if isinstance(item, str):
            steps.append((item, {}, step_path))
        elif isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item)), str):
            name, args = next(iter(item.items()))
            if args is None or isinstance(args, dict):
                steps.append((name, dict(args or {}), step_path + (name,)))
            else:
                found.append((step_path + (name,), "the arguments of a step must be a mapping, e.g. {prefix: {prefix: 'zd:'}}"))
        else:
            found.append((step_path, "a transform is a name, or a one-key mapping {name: {args}}"))
    return steps


def _arg_problem(
    error: Any, name: str, takes: list[str], own_args: dict[str, Any], args_path: PathKey, step_path: PathKey
) -> tuple[PathKey, str]:
    """Locate one argument error: at the step's own args when given there, else at the rule's shared `args`."""
    loc = tuple(error["loc"])
    key = loc[0] if loc else None
    base = step_path if key in own_args else args_path
    if error["type"] == "missing":
        return base, f"transform {name!r} needs argument {key!r}"
    if error["type"] == "extra_forbidden":
        hint = did_you_mean(str(key), takes)
        return base + loc, f"transform {name!r} takes no argument {key!r}{hint} (it takes: {', '.join(takes) or 'nothing'})"
    return base + loc, f"transform {name!r}: {error['msg']}"


def mapping_problems(data: Any) -> Found:
    """Every semantic problem of a (merged) mapping given as plain data; structure errors are left to the schema."""
    found: Found = []
    if not isinstance(data, dict):
        return found
    value_maps = data.get("value_maps")
    map_names = set(value_maps) if isinstance(value_maps, dict) else set()
    for target in TARGETS:
        section = data.get(target)
        if isinstance(section, dict):
            _check_target(target, section, map_names, found)
    _check_names_unique_across_models(data, found)
    _check_phone_original(data, found)
    return found


def source_field_problems(spec: MappingSpec, observed: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Rules reading a custom field no staged record has: (YAML path of the rule's `from`, message with a did-you-mean).

    `observed` maps a target (contact, company, conversation, ...) to the custom_fields keys its records have; a
    target with no observed records is not judged.
    """
    found: list[tuple[str, str]] = []
    for target, section in spec.targets().items():
        keys = observed.get(target)
        if not keys:
            continue
        for index, rule in enumerate(section.rules):
            paths = rule.source_paths()
            for offset, source in enumerate(paths):
                head, _, key = source.partition(".")
                if head != CUSTOM_FIELDS or not key or key in keys or key.split(".", 1)[0] in keys:
                    continue
                where: PathKey = (target, "rules", index, "from") + ((offset,) if isinstance(rule.from_, list) else ())
                hint = did_you_mean(key, keys)
                if rule.required:
                    message = f"{source}: required, but no record has this field, so every {target} would be rejected{hint}"
                else:
                    message = f"{source}: no record has this field{hint}"
                found.append((dotted(where), message))
    return found


def _check_phone_original(data: dict[str, Any], found: Found) -> None:
    # The loader keeps a phone Intercom refused in the contact's text attribute `phone_original`; a declaration
    # of that name must be that attribute, and another model cannot have it (Intercom names are unique across models).
    contact = data.get("contact")
    rules = contact.get("rules") if isinstance(contact, dict) else None
    if not isinstance(rules, list) or not any(isinstance(rule, dict) and rule.get("to") == "phone" for rule in rules):
        return
    for target in ATTRIBUTE_MODELS:
        section = data.get(target)
        attributes = section.get("attributes") if isinstance(section, dict) else None
        for index, attribute in enumerate(attributes if isinstance(attributes, list) else []):
            if not isinstance(attribute, dict) or str(attribute.get("name", "")).casefold() != PHONE_ORIGINAL:
                continue
            if target != "contact":
                found.append(((target, "attributes", index, "name"),
                              f"{PHONE_ORIGINAL!r} is the contact attribute that keeps a phone Intercom refuses; use another name"))
            elif attribute.get("type") != "string":
                found.append(((target, "attributes", index, "type"),
                              f"{PHONE_ORIGINAL!r} keeps a phone Intercom refuses, as text: declare it as type string or rename yours"))


def _check_names_unique_across_models(data: dict[str, Any], found: Found) -> None:
    # Intercom refuses an attribute whose name another model already uses ("You already have 'X' in your
    # company data"), see reference/api-facts.md § 1.5.
    owners: dict[str, str] = {}
    for target in (name for name in TARGETS if name in ATTRIBUTE_MODELS):
        section = data.get(target)
        attributes = section.get("attributes") if isinstance(section, dict) else None
        for index, attribute in enumerate(attributes if isinstance(attributes, list) else []):
            name = attribute.get("name") if isinstance(attribute, dict) else None
            if not isinstance(name, str):
                continue
            owner = owners.setdefault(name.casefold(), target)
            if owner != target:
                found.append(
                    (
                        (target, "attributes", index, "name"),
                        f"{owner} declares {name!r} too; Intercom attribute names are unique across models",
                    )
                )


def _check_target(target: str, section: dict[str, Any], map_names: set[str], found: Found) -> None:
    declared = _declared_attribute_names(target, section, found)
    policy = section.get("unmapped", "drop")
    if policy == "custom_attribute" and target not in ATTRIBUTE_MODELS:
        found.append(((target, "unmapped"), f"{target} records have no custom attributes; use drop or error"))
    rules = section.get("rules")
    if isinstance(rules, list):
        writers: dict[str, int] = {}
        for index, rule in enumerate(rules):
            if isinstance(rule, dict):
                _check_rule(target, (target, "rules", index), rule, declared, policy, map_names, found)
                to = rule.get("to")
                if isinstance(to, str):
                    if to in writers:
                        found.append(((target, "rules", index, "to"), f"rules [{writers[to]}] and [{index}] both write {to!r}"))
                    writers.setdefault(to, index)
    tags = section.get("tags")
    if isinstance(tags, dict):
        sources = tags.get("from")
        for offset, path in enumerate([sources] if isinstance(sources, str) else sources if isinstance(sources, list) else []):
            where = (target, "tags", "from") if isinstance(sources, str) else (target, "tags", "from", offset)
            _check_source_path(target, path, where, found)


def _declared_attribute_names(target: str, section: dict[str, Any], found: Found) -> set[str]:
    attributes = section.get("attributes")
    if not isinstance(attributes, list):
        return set()
    if attributes and target not in ATTRIBUTE_MODELS:
        found.append(((target, "attributes"), f"Intercom has no custom attributes on {target}s"))
    names: set[str] = set()
    for index, attribute in enumerate(attributes):
        name = attribute.get("name") if isinstance(attribute, dict) else None
        if isinstance(name, str):
            if name in names:
                found.append(((target, "attributes", index, "name"), f"attribute {name!r} is declared twice"))
            names.add(name)
    return names


def _check_rule(
    target: str, path: PathKey, rule: dict[str, Any], declared: set[str], policy: Any, map_names: set[str], found: Found
) -> None:
    to = rule.get("to")
    if isinstance(to, str):
        _check_destination(target, to, path + ("to",), declared, policy, found)
    source = rule.get("from")
    if isinstance(source, str):
        _check_source_path(target, source, path + ("from",), found)
    elif isinstance(source, list) and source and all(isinstance(item, str) for item in source):
        for index, item in enumerate(source):
            _check_source_path(target, item, path + ("from", index), found)
    elif source is not None:
        found.append((path + ("from",), "`from` is a field name or dotted path, or a list of them"))
    if source is None and rule.get("default") is None:
        found.append((path, "a rule needs `from` (where to read) or `default` (a constant)"))
    if rule.get("args") and rule.get("transform") is None:
        found.append((path + ("args",), "`args` given but the rule has no `transform`"))
    steps = compile_steps(rule.get("transform"), rule.get("args"), path, found)
    for step in steps:
        if (step.name == MAP_VALUE or "map" in step.args) and step.args["map"] not in map_names:
            known = ", ".join(sorted(map_names)) or "none defined"
            found.append((path + ("args", "map"), f"no value map named {step.args['map']!r} (value_maps: {known})"))


def _check_destination(target: str, to: str, path: PathKey, declared: set[str], policy: Any, found: Found) -> None:
    head, _, rest = to.partition(".")
    if not head or (head != CUSTOM_ATTRIBUTES and any(not part for part in to.split("."))):
        found.append((path, f"{to!r} is not a dotted path such as name or custom_attributes.plan_tier"))
        return
    body_keys = BODY_KEYS.get(target)
    if body_keys is not None and head not in body_keys:
        found.append((path, f"Intercom's {target} body has no key {head!r}{did_you_mean(head, body_keys)}"))
        return
    if head != CUSTOM_ATTRIBUTES:
        return
    if target not in ATTRIBUTE_MODELS:
        found.append((path, f"Intercom has no custom attributes on {target}s"))
    elif not rest:
        found.append((path, "write one attribute: custom_attributes.<name>"))
    elif rest not in declared and policy != "custom_attribute":
        hint = did_you_mean(rest, declared)
        found.append(
            (
                path,
                f"custom attribute {rest!r} is not declared{hint}: add it to {target}.attributes, or set {target}.unmapped: custom_attribute",
            )
        )
    elif rest not in declared and not re.match(ATTRIBUTE_NAME_PATTERN, rest):
        found.append((path, f"{rest!r} cannot be an Intercom attribute name: use letters, digits, '_' and '-'"))


def _check_source_path(target: str, source: Any, path: PathKey, found: Found) -> None:
    if not isinstance(source, str) or not source:
        found.append((path, "a source path is a field name or a dotted path such as custom_fields.Plan Tier"))
        return
    fields = TARGET_RECORD_TYPES[target].model_fields
    head = source.split(".", 1)[0]
    if head not in fields:
        found.append((path, f"a canonical {target} has no field {head!r}{did_you_mean(head, fields)}; fields: {', '.join(fields)}"))
