"""Converting one vendor object: a malformed one is a located rejection, never the end of the read."""

from __future__ import annotations

from typing import Any

from deskmigrate.core.model import Company, SourceRejection
from deskmigrate.core.source import convert_or_reject


def company(raw: dict[str, Any], size_key: str = "size") -> Company:
    return Company(source="zendesk", source_id=raw["id"], name=raw["name"], size=raw.get(size_key))


def test_a_good_object_becomes_its_record() -> None:
    record = convert_or_reject("companies", {"id": 7, "name": "Acme", "employees": 12}, "GET orgs page 1", company, size_key="employees")
    assert isinstance(record, Company) and record.source_id == "7" and record.size == 12


def test_an_invalid_field_is_rejected_with_its_name_and_where_it_was_read() -> None:
    rejection = convert_or_reject("companies", {"id": 8, "name": "Acme", "size": "many"}, "GET orgs page 2", company)
    assert isinstance(rejection, SourceRejection)
    assert (rejection.source_id, rejection.location, rejection.field) == ("8", "GET orgs page 2", "size")


def test_a_missing_key_is_an_unreadable_object() -> None:
    rejection = convert_or_reject("companies", {"id": 9}, "GET orgs page 3", company)
    assert isinstance(rejection, SourceRejection) and rejection.reason.startswith("unreadable ") and "KeyError('name')" in rejection.reason
