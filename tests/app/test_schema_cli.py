"""`deskmigrate schema`: the canonical model's shape as JSON Schema, for people exporting another help desk to it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from deskmigrate.cli import app

ENTITIES = ["companies", "contacts", "agents", "collections", "articles", "conversations"]


def schema(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["schema", *args])
    return result.exit_code, result.output


def test_one_entity_prints_its_record_with_nested_parts_and_attachments() -> None:
    code, output = schema("conversations")
    assert code == 0
    printed = json.loads(output)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed["additionalProperties"] is False  # the model is closed: an unknown field is not silently carried
    assert {"source_id", "requester_id", "assignee_id", "status", "tags", "parts", "custom_fields"} <= set(printed["properties"])
    assert printed["required"] == ["source", "source_id"]
    part = printed["$defs"]["Part"]
    assert part["properties"]["author_kind"]["enum"] == ["contact", "agent", "system"]
    assert part["required"] == ["source_id", "author_kind"]
    assert set(printed["$defs"]["Attachment"]["required"]) == {"filename", "url"}
    assert "source id of the contact who asked" in printed["properties"]["requester_id"]["description"]


def test_without_an_entity_any_record_is_told_apart_by_its_entity() -> None:
    code, output = schema()
    printed = json.loads(output)
    assert code == 0 and printed["discriminator"]["propertyName"] == "entity"
    assert sorted(printed["discriminator"]["mapping"]) == sorted(ENTITIES)
    assert len(printed["oneOf"]) == len(ENTITIES)


def test_an_unknown_entity_is_a_usage_error_naming_the_entities() -> None:
    code, output = schema("tickets")
    assert code == 2
    assert "no canonical entity 'tickets'" in output and all(entity in output for entity in ENTITIES)
