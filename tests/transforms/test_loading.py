"""Loading mappings: built-ins, every problem reported at once with file and line, overrides merged by key and by `to`."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskmigrate.core.errors import MappingError, Problem
from deskmigrate.transforms import builtin_mapping_names, load_mapping, parse_mapping_text

FIXTURES = Path(__file__).parent / "fixtures"


def problems_of(error: pytest.ExceptionInfo[MappingError]) -> list[Problem]:
    return error.value.problems


def find(problems: list[Problem], path: str) -> Problem:
    matching = [problem for problem in problems if problem.path == path]
    assert matching, f"no problem at {path}; got {[str(p) for p in problems]}"
    return matching[0]


def test_builtin_mappings_are_listed_and_load_by_source_name() -> None:
    assert "csv" in builtin_mapping_names()
    spec = load_mapping("csv")
    assert spec.contact is not None and spec.company is not None


def test_a_mapping_path_is_loaded_from_disk() -> None:
    spec = load_mapping("zendesk", FIXTURES / "base.yaml")
    assert spec.contact is not None
    assert [rule.to for rule in spec.contact.rules] == ["external_id", "email", "name", "phone"]


def test_an_unknown_builtin_name_is_a_mapping_error_listing_the_builtins() -> None:
    with pytest.raises(MappingError, match="built-in: .*csv"):
        load_mapping("csv", "cvs")


def test_every_problem_is_listed_at_once_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping("csv", FIXTURES / "many_errors.yaml")
    problems = problems_of(caught)
    file = str(FIXTURES / "many_errors.yaml")
    assert all(problem.file == file for problem in problems)

    unknown_key = find(problems, "contact.rulez")
    assert (unknown_key.line, unknown_key.message) == (4, "unknown key (did you mean 'rules'?)")
    unknown_transform = find(problems, "contact.rules[1].transform")
    assert unknown_transform.line == 7
    assert "unknown transform 'lowercse'" in unknown_transform.message and "'lowercase'" in unknown_transform.message
    bad_arg = find(problems, "contact.rules[2].args.length")
    assert bad_arg.line == 8 and "truncate" in bad_arg.message
    undeclared = find(problems, "contact.rules[3].to")
    assert undeclared.line == 9 and "custom attribute 'tier' is not declared" in undeclared.message
    missing_map = find(problems, "contact.rules[4].args.map")
    assert missing_map.line == 10 and "no value map named 'roles'" in missing_map.message
    assert len(problems) == 5
    assert f"{file}:4: contact.rulez: unknown key" in str(caught.value)


def test_structure_and_semantics_are_reported_together() -> None:
    text = "version: 2\ncontact:\n  rules:\n    - {to: email, from: mail}\n  unmapped: sometimes\n"
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(text, "inline.yaml")
    lines = {problem.path: problem.line for problem in problems_of(caught)}
    assert lines == {"version": 1, "contact.rules[0].from": 4, "contact.unmapped": 5}


def test_unknown_targets_and_missing_version_are_reported() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping_text("contacts:\n  rules: []\n", "m.yaml")
    messages = {problem.path: problem.message for problem in problems_of(caught)}
    assert messages["version"] == "missing required key"
    assert messages["contacts"].startswith("unknown key (did you mean 'contact")


def test_two_rules_writing_one_field_in_one_file_is_an_error() -> None:
    text = "version: 1\ncontact:\n  rules:\n    - {to: name, from: name}\n    - {to: name, from: email}\n"
    with pytest.raises(MappingError) as caught:
        parse_mapping_text(text, "m.yaml")
    (problem,) = problems_of(caught)
    assert (problem.path, problem.line) == ("contact.rules[1].to", 5)
    assert "also line 4" in problem.message


def test_a_rule_needs_a_source_or_a_default() -> None:
    with pytest.raises(MappingError, match="needs `from`"):
        parse_mapping_text("version: 1\ncontact:\n  rules:\n    - {to: name}\n")


def test_custom_attribute_policy_is_refused_where_intercom_has_no_attributes() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping_text("version: 1\narticle:\n  unmapped: custom_attribute\n  rules:\n    - {to: title, from: title}\n")
    assert problems_of(caught)[0].path == "article.unmapped"


def test_a_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\ncontact:\n  rules: [\n", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping("csv", overrides=[broken])
    (problem,) = problems_of(caught)
    assert problem.file == str(broken) and problem.line is not None and "YAML syntax error" in problem.message


def test_override_replaces_drops_and_adds_rules_and_merges_value_maps() -> None:
    spec = load_mapping("zendesk", FIXTURES / "base.yaml", [FIXTURES / "override.yaml"])
    assert spec.contact is not None
    rules = {rule.to: rule for rule in spec.contact.rules}
    assert list(rules) == ["external_id", "email", "name", "custom_attributes.plan_tier"]
    assert rules["name"].transform == "uppercase"  # replaced in place
    assert rules["external_id"].args == {"prefix": "zd:"}  # untouched
    assert spec.value_maps["status"].values == {"open": "open", "pending": "snoozed", "solved": "closed", "hold": "snoozed"}
    assert spec.value_maps["status"].default == "open"
    assert spec.contact.unmapped == "drop" and [a.name for a in spec.contact.attributes] == ["plan_tier"]


def test_later_overrides_win(tmp_path: Path) -> None:
    second = tmp_path / "second.yaml"
    second.write_text("contact:\n  unmapped: error\n  rules:\n    - {to: name, from: name, transform: lowercase}\n", encoding="utf-8")
    spec = load_mapping("zendesk", FIXTURES / "base.yaml", [FIXTURES / "override.yaml", second])
    assert spec.contact is not None
    assert spec.contact.unmapped == "error"
    assert next(rule for rule in spec.contact.rules if rule.to == "name").transform == "lowercase"


def test_problems_in_an_override_name_the_override_file_and_its_lines() -> None:
    with pytest.raises(MappingError) as caught:
        load_mapping("zendesk", FIXTURES / "base.yaml", [FIXTURES / "override_with_errors.yaml"])
    problems = problems_of(caught)
    override = str(FIXTURES / "override_with_errors.yaml")
    located = {(problem.file, problem.line, problem.path) for problem in problems}
    assert (override, 3, "contact.rules[0].transform") in located  # unknown transform 'shout'
    assert (override, 4, "contact.rules[1].args") in located  # truncate needs `length`
    assert (override, 5, "contact.rules[2].to") in located  # undeclared custom attribute
    assert (override, 6, "contact.rules[3].to") in located  # nothing to drop
    assert (override, 7, "contact.colour") in located  # unknown key
    assert len(problems) == 5


def test_a_problem_in_the_default_file_still_names_the_default_file_after_merging(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("version: 1\ncontact:\n  rules:\n    - {to: name, from: name}\n    - {to: email, from: e_mail}\n", encoding="utf-8")
    override = tmp_path / "override.yaml"
    override.write_text("contact:\n  rules:\n    - {to: name, drop: true}\n", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping("csv", base, [override])
    (problem,) = problems_of(caught)
    assert (problem.file, problem.line, problem.path) == (str(base), 5, "contact.rules[1].from")


def test_a_drop_rule_must_be_exactly_to_and_drop(tmp_path: Path) -> None:
    override = tmp_path / "o.yaml"
    override.write_text("contact:\n  rules:\n    - {to: name, drop: true, from: name}\n", encoding="utf-8")
    with pytest.raises(MappingError, match="exactly"):
        load_mapping("zendesk", FIXTURES / "base.yaml", [override])


def test_an_override_merges_attribute_declarations_by_name(tmp_path: Path) -> None:
    override = tmp_path / "override.yaml"
    override.write_text(
        "contact:\n  attributes:\n"
        "    - {name: plan_tier, type: string, description: tiers are words here}\n"
        "    - {name: newsletter, drop: true}\n"
        "    - {name: region, type: string}\n",
        encoding="utf-8",
    )
    base = {a.name: a for a in load_mapping("csv").contact.attributes}  # type: ignore[union-attr]
    merged = {a.name: a for a in load_mapping("csv", None, [override]).contact.attributes}  # type: ignore[union-attr]
    assert merged["plan_tier"].type == "string"
    assert "newsletter" in base and "newsletter" not in merged
    assert merged["region"].type == "string"
    assert set(base) - {"newsletter"} <= set(merged)  # the others stay as the built-in mapping declares them


def test_dropping_an_attribute_that_was_never_declared_names_its_line(tmp_path: Path) -> None:
    override = tmp_path / "override.yaml"
    override.write_text("contact:\n  attributes:\n    - {name: nowhere, drop: true}\n", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping("csv", None, [override])
    assert [(p.line, p.path) for p in problems_of(caught)] == [(3, "contact.attributes[0].name")]
