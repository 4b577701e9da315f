"""The README documents every command and every option (as sqlite-utils' docs test does for its CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from deskmigrate.cli import app

# Options many commands take, documented once under "Options every command takes".
COMMON = {"--config", "--verbose", "--quiet", "--json", "--new-ledger"}
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def command_options() -> list[tuple[str, str]]:
    """(command path, option) for every command of the CLI, e.g. ("rollback", "--dry-run")."""
    found: list[tuple[str, str]] = []

    def walk(command: Any, path: str) -> None:
        if hasattr(command, "commands"):  # a group (typer vendors click, so no isinstance on click's classes)
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}".strip())
            return
        found.append((path, ""))
        for param in command.params:
            if getattr(param, "param_type_name", "") == "option":
                found.extend((path, option) for option in param.opts if option.startswith("--") and option != "--help")

    walk(typer.main.get_command(app), "")
    return found


@pytest.mark.parametrize(("command", "option"), command_options(), ids=lambda value: value or "command")
def test_the_readme_documents_every_command_and_option(command: str, option: str) -> None:
    assert f"deskmigrate {command}" in README, f"README does not mention `deskmigrate {command}`"
    if option in COMMON:
        assert option in README.split("Options every command takes", 1)[1].split("\n\n", 1)[0]
    elif option:
        row = next((line for line in README.splitlines() if f"`deskmigrate {command}" in line and line.startswith("|")), "")
        assert option in row, f"README's row for `deskmigrate {command}` does not document `{option}`"


def test_the_readme_stands_alone() -> None:
    assert "../" not in README and "shared/" not in README
