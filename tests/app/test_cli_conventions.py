"""The command line as clig.dev describes it (issue 12, items 7 and 9): --version, an example in every --help, errors on
stderr and results on stdout, one JSON document with --json, -q, DESKMIGRATE_CONFIG, no wrapping off a terminal, status
that names runs in full, and network errors said in one sentence a person can act on."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from deskmigrate import __version__
from deskmigrate.cli import app
from tests.app.conftest import TOKEN, Project

ENV = {"E2E_TOKEN": TOKEN}


def invoke(project: Project, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, [*args, "-c", str(project.config)], env={**ENV, **(env or {})})


def commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    found = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        found.extend([[name, sub] for sub in subcommands] if subcommands else [[name]])
    return found


def test_version_prints_and_exits_0() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"deskmigrate {__version__}"


@pytest.mark.parametrize("command", commands(), ids=lambda c: " ".join(c))
def test_every_command_has_help_with_an_example_and_no_bool_placeholders(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout
    examples = result.stdout.split("Examples:\n", 1)[1]
    assert f"deskmigrate {' '.join(command)}" in examples


def test_errors_go_to_stderr_and_results_to_stdout(project: Project) -> None:
    assert invoke(project, "run").exit_code == 0
    unknown = invoke(project, "status", "--run", "no-such-run")
    assert unknown.exit_code == 2
    assert unknown.stdout == "" and "no run 'no-such-run'" in unknown.stderr
    known = invoke(project, "status")
    assert known.exit_code == 0 and "Runs" in known.stdout and known.stderr == ""


@pytest.mark.parametrize("command", [["check"], ["plan"], ["status"], ["validate"], ["rollback", "--all", "--dry-run"]],
                         ids=lambda c: " ".join(c))
def test_json_prints_one_document_and_nothing_else(project: Project, command: list[str]) -> None:
    assert invoke(project, "run").exit_code == 0
    result = invoke(project, *command, "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)  # the whole of stdout is one JSON document
    expected_key = {"check": "target", "plan": "plan", "status": "runs", "validate": "reconciliation", "rollback": "plan"}[command[0]]
    assert expected_key in document


def test_status_names_runs_in_full_with_what_each_wrote(project: Project) -> None:
    assert invoke(project, "run").exit_code == 0
    document = json.loads(invoke(project, "status", "--json").stdout)
    [run] = document["runs"]
    assert run["writes"] > 0 and run["open_failures"] == 0
    table = invoke(project, "status", "--run", "latest", env={"COLUMNS": "60"})
    assert table.exit_code == 0 and run["run_id"] in table.stdout


def test_quiet_prints_nothing_but_problems(project: Project) -> None:
    result = invoke(project, "run", "-q")
    assert result.exit_code == 0 and result.stdout == ""


def test_the_config_path_can_come_from_the_environment(project: Project) -> None:
    result = CliRunner().invoke(app, ["check"], env={**ENV, "DESKMIGRATE_CONFIG": str(project.config)})
    assert result.exit_code == 0, result.stderr
    assert "config and mapping are valid" in result.stdout


def test_output_off_a_terminal_is_not_wrapped(project: Project) -> None:
    rows = project.contacts
    rows[0] = {**rows[0], "email": "not-an-email-and-a-rather-long-one-so-the-line-is-longer-than-eighty-columns"}
    project.write_contacts(rows)
    result = CliRunner().invoke(app, ["run", "--accept-rejections", "-c", str(project.config)], env=ENV)  # no COLUMNS: not a terminal
    line = next(line for line in result.stdout.splitlines() if "fix the source row or the mapping" in line)
    assert len(line) > 80 and line.rstrip().endswith("`deskmigrate status --failures --format csv`")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(("base_url", "said"), [
    (f"http://127.0.0.1:{closed_port()}", "refused the connection"),
    ("https://deskmigrate-test-host.invalid", "cannot find the host deskmigrate-test-host.invalid (DNS lookup failed)"),
], ids=["refused", "dns"])
def test_an_unreachable_target_is_one_plain_sentence(project: Project, base_url: str, said: str) -> None:
    project.set_target(base_url=base_url)
    result = invoke(project, "check")
    assert result.exit_code == 1
    assert said in result.stderr and "Traceback" not in result.stderr and "HTTPConnectionPool" not in result.stderr
    assert "gave up after 2 attempts" in result.stderr  # check tries twice, a few seconds each, then says so


def test_sandbox_serve_on_a_busy_port_says_so(project: Project) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(project, "sandbox", "serve", "--port", str(port))
    assert result.exit_code == 2
    assert f"cannot serve the sandbox on port {port}" in result.stderr and "--port" in result.stderr
