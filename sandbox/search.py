"""The query language of `POST /contacts/search`: filters, AND/OR groups and Intercom's per-type operators."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from deskmigrate.sandbox.api import bad_request

# https://developers.intercom.com/docs/references/rest-api/api.intercom.io/contacts/searchcontacts
MAX_FILTERS_PER_GROUP = 15
MAX_NESTING = 2
WORKSPACE_TIMEZONE = ZoneInfo("Europe/Dublin")

STRING_OPERATORS = {"=", "!=", "IN", "NIN", "~", "!~", "^", "$"}
INTEGER_OPERATORS = {"=", "!=", "IN", "NIN", "<", ">", "<=", ">="}
BOOLEAN_OPERATORS = {"=", "!=", "IN", "NIN"}
# Date fields match by calendar day in the workspace time zone and allow only these three operators.
DATE_OPERATORS = {"=", "<", ">"}
TAG_OPERATORS = {"=", "!="}

STRING_FIELDS = {"id", "email", "external_id", "role", "name", "phone", "email_domain"}
DATE_FIELDS = {"created_at", "updated_at", "signed_up_at", "last_seen_at"}

Record = dict[str, Any]


def check_query(query: Any, depth: int = 0) -> None:
    """Reject a malformed query before evaluating it, as Intercom does (400 for the whole request)."""
    if not isinstance(query, dict):
        raise bad_request("query must be an object", field="query")
    operator = query.get("operator")
    if operator in ("AND", "OR"):
        if depth >= MAX_NESTING:
            raise bad_request(f"Nesting of AND/OR groups is limited to {MAX_NESTING} levels", field="query")
        filters = query.get("value")
        if not isinstance(filters, list) or not filters:
            raise bad_request(f"{operator} needs a non-empty list of filters", field="query")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise bad_request(f"At most {MAX_FILTERS_PER_GROUP} filters are allowed in one {operator} group", field="query")
        for each in filters:
            check_query(each, depth + 1)
        return
    field = query.get("field")
    if not isinstance(field, str) or "value" not in query:
        raise bad_request("Each filter needs field, operator and value", field="query")
    allowed = operators_for(field)
    if operator not in allowed:
        raise bad_request(f"Operator '{operator}' is not supported for field '{field}'", field=field)
    if operator in ("IN", "NIN") and not isinstance(query["value"], list):
        raise bad_request(f"{operator} needs an array value", field=field)


def operators_for(field: str) -> set[str]:
    if field in STRING_FIELDS:
        return STRING_OPERATORS
    if field in DATE_FIELDS:
        return DATE_OPERATORS
    if field == "tag_id":
        return TAG_OPERATORS
    if field.startswith("custom_attributes."):
        return STRING_OPERATORS | INTEGER_OPERATORS
    raise bad_request(f"'{field}' is not a searchable field in the sandbox", field=field)


def matches(query: dict[str, Any], record: Record, tag_ids: set[str] | None = None) -> bool:
    """Whether a contact view satisfies a checked query; `tag_ids` are all its tags (else those its view embeds)."""
    operator = query["operator"]
    if operator == "AND":
        return all(matches(each, record, tag_ids) for each in query["value"])
    if operator == "OR":
        return any(matches(each, record, tag_ids) for each in query["value"])
    field, value = query["field"], query["value"]
    if field == "tag_id":
        carried = tag_ids if tag_ids is not None else {tag["id"] for tag in record["tags"]["data"]}
        return (str(value) in carried) == (operator == "=")
    if field in DATE_FIELDS:
        return compare_dates(record.get(field), operator, value)
    actual = (
        record.get("custom_attributes", {}).get(field.split(".", 1)[1]) if field.startswith("custom_attributes.") else record.get(field)
    )
    return compare(actual, operator, value)


def compare_dates(actual: int | None, operator: str, value: Any) -> bool:
    if actual is None:
        return False
    try:
        wanted = int(value)
    except (TypeError, ValueError):
        raise bad_request("date filters take a unix timestamp", field="value") from None
    actual_day, wanted_day = day_of(actual), day_of(wanted)
    if operator == "=":
        return actual_day == wanted_day
    return actual_day < wanted_day if operator == "<" else actual_day > wanted_day


def day_of(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, WORKSPACE_TIMEZONE).date().isoformat()


def normalised(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def compare(actual: Any, operator: str, value: Any) -> bool:
    """String comparisons are case-insensitive; a missing value matches only `!=`/`NIN`/`!~`."""
    left = normalised(actual)
    if operator in ("IN", "NIN"):
        inside = left is not None and left in {normalised(v) for v in value}
        return inside == (operator == "IN")
    right = normalised(value)
    if operator == "=":
        return left == right
    if operator == "!=":
        return left != right
    if left is None:
        return operator == "!~"
    if operator in ORDERING:
        try:
            return ORDERING[operator](left, right)
        except TypeError:
            return False
    text, needle = str(left), str(right)
    if operator == "~":
        return needle in text
    if operator == "!~":
        return needle not in text
    if operator == "^":
        return text.startswith(needle)
    return text.endswith(needle)
