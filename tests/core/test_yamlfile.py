"""YAML files: every value located by line, and a key written twice is an error naming both lines."""

from __future__ import annotations

import pytest

from deskmigrate.core.yamlfile import YamlSyntaxError, parse_yaml

OVERRIDE = """\
version: 1
contact:
  rules:
    - {to: phone, from: phone, transform: phone, args: {default_region: GB}}
  unmapped: drop
  rules:
    - {to: name, from: name}
"""


def test_a_key_written_twice_names_both_lines() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(OVERRIDE, "my-mapping.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.path) == ("my-mapping.yaml", 6, "contact.rules")
    assert "duplicate key 'rules'" in problem.message and "line 3" in problem.message and "line 6" in problem.message


def test_every_duplicate_is_reported_and_equal_keys_in_different_mappings_are_fine() -> None:
    text = "a: {x: 1, x: 2}\nb: {x: 1}\nc: 1\nc: 2\n"
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(text)
    assert [(p.path, p.line) for p in caught.value.problems] == [("a.x", 1), ("c", 4)]
    assert parse_yaml("a: {x: 1}\nb: {x: 2}\n").data == {"a": {"x": 1}, "b": {"x": 2}}
