"""Request-body checks the emulator shares across resources: field types, emails, custom attributes."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from deskmigrate.sandbox.api import ApiError, bad_request
from deskmigrate.sandbox.db import Database

DATA_TYPES = ("string", "integer", "float", "boolean", "date", "datetime")

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

# Expected JSON types of request fields; bool is excluded from int explicitly (JSON true is not a number).
STRING = "string"
INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
OBJECT = "object"
ARRAY = "array"


def is_valid_email(value: str) -> bool:
    return bool(EMAIL.match(value))


def matches_type(value: Any, expected: str) -> bool:
    if expected == STRING:
        return isinstance(value, str)
    if expected == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == BOOLEAN:
        return isinstance(value, bool)
    if expected == OBJECT:
        return isinstance(value, dict)
    if expected == ARRAY:
        return isinstance(value, list)
    raise ValueError(f"unknown expected type {expected}")


def check_fields(body: dict[str, Any], allowed: dict[str, str], nullable: frozenset[str] = frozenset()) -> None:
    """Reject keys the spec's request schema does not define and values of the wrong JSON type."""
    for key, value in body.items():
        if key not in allowed:
            raise ApiError(400, "bad_request", f"bad '{key}' parameter")
        if value is None:
            if key in nullable:
                continue
            raise bad_request(f"{key} must not be null", field=key)
        if not matches_type(value, allowed[key]):
            article = "an" if allowed[key][0] in "aeiou" else "a"
            raise bad_request(f"{key} must be {article} {allowed[key]}", field=key)


def custom_value_matches(value: Any, data_type: str) -> bool:
    if data_type == "string":
        return isinstance(value, str)
    if data_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if data_type == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if data_type == "boolean":
        return isinstance(value, bool)
    # date and datetime attributes take unix timestamps in seconds
    return isinstance(value, int) and not isinstance(value, bool)


def declared_attributes(db: Database, model: str) -> dict[str, dict[str, Any]]:
    return {attribute["name"]: attribute for attribute in db.all("data_attributes") if attribute["model"] == model}


def apply_custom_attributes(db: Database, model: str, current: dict[str, Any], changes: Any) -> dict[str, Any]:
    """Merge `changes` into `current`; every key must be a declared attribute of `model` and match its type; null clears.

    Intercom rejects unknown keys instead of creating them (intercom-node #349 shows the conversation analogue).
    """
    if not isinstance(changes, dict):
        raise bad_request("custom_attributes must be an object", field="custom_attributes")
    declared = declared_attributes(db, model)
    merged = dict(current)
    for name, value in changes.items():
        attribute = declared.get(name)
        if attribute is None or attribute.get("archived"):
            raise bad_request(f"Custom attribute '{name}' does not exist", field=name)
        if value is None:
            merged.pop(name, None)
            continue
        if not custom_value_matches(value, attribute["data_type"]):
            raise bad_request(f"Custom attribute '{name}' must be of type {attribute['data_type']}", field=name)
        options = attribute.get("options") or []
        if options and value not in options:
            raise bad_request(f"Custom attribute '{name}' must be one of: {', '.join(options)}", field=name)
        merged[name] = value
    return merged


def is_valid_attribute_name(name: str) -> bool:
    """Alphanumerics, currency symbols, hyphens; underscores and spaces appear in Intercom's own valid examples."""
    return bool(name.strip()) and all(ch.isalnum() or ch in "-_ " or unicodedata.category(ch) == "Sc" for ch in name)
