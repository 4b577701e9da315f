"""`deskmigrate mappings transforms`: every transform listed with what it does, its arguments and an example rule that
is a valid rule using that very transform."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.transforms.registry import REGISTRY, describe_transforms
from deskmigrate.transforms.spec import Rule


def test_every_transform_has_a_valid_example_rule_that_uses_it() -> None:
    described = {t["name"]: t for t in describe_transforms()}
    assert set(described) == set(REGISTRY)
    for name, transform in described.items():
        rule = yaml.safe_load(transform["example"])
        Rule.model_validate(rule)  # a rule as a mapping file writes it
        steps = rule["transform"] if isinstance(rule["transform"], list) else [rule["transform"]]
        assert any(step == name or (isinstance(step, dict) and name in step) for step in steps), name


def test_the_command_lists_them_on_screen_and_as_json() -> None:
    screen = CliRunner().invoke(app, ["mappings", "transforms"])
    assert screen.exit_code == 0 and "unix_time (" in screen.stdout and "- {to: signed_up_at" in screen.stdout
    document = json.loads(CliRunner().invoke(app, ["mappings", "transforms", "--json"]).stdout)
    assert {t["name"] for t in document} == set(REGISTRY)
