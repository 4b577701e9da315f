"""`run` opens its target, checks the token and reads the admins while it reads and plans the source: the calls it makes stay the same,
a wrong token still stops it before any write with exit 2 (what it read stays staged), and a run refused for its
rejections is not held up by the target."""

from __future__ import annotations

import json

import yaml

from deskmigrate.cli import app
from deskmigrate.sandbox import SandboxServer, SandboxSettings
from tests.app.conftest import TOKEN, Project


def test_the_token_is_checked_and_the_admins_read_once_per_run(project: Project) -> None:
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    assert project.store().count_requests(route="GET /me") == 1
    assert project.store().count_requests(route="GET /admins") == 1, "read while the source is planned, used by the preflight"
    [path] = list((project.state / "reports").glob("*.json"))
    report = json.loads(path.read_text())
    assert report["api"]["calls"] == len(project.store().request_log())


def test_a_wrong_token_stops_the_run_before_any_write_and_keeps_what_it_read(project: Project) -> None:
    server = SandboxServer(SandboxSettings(path=project.sandbox_path, token=TOKEN, search_delay_s=0))
    url = server.start()
    wrong = {"WRONG_TOKEN": "tok_not_the_workspace_token_1234", "COLUMNS": "250"}
    try:
        project.set_target(base_url=url, token="${WRONG_TOKEN}")
        result = project.runner.invoke(app, ["run", "-c", str(project.config)], env=wrong)
    finally:
        server.stop()
    assert result.exit_code == 2, result.output
    assert "Intercom refused the token" in result.output
    assert project.writes() == 0
    status = project.runner.invoke(app, ["status", "-c", str(project.config)], env=wrong)
    assert "crashed" in status.output
    table = status.output.split("Every record accounted for")[1]
    assert "companies" in table and "contacts" in table  # read and staged before the load stopped: the next run goes on


def test_a_run_refused_for_its_rejections_ends_without_waiting_for_an_unreachable_target(project: Project) -> None:
    rows = project.contacts
    rows[1] = {**rows[1], "email": "not-an-email"}
    rows[2] = {**rows[2], "email": "nor-this"}
    project.write_contacts(rows)
    # nothing listens there: a load would retry until its deadline, a refused run never asks
    project.set_target(base_url="http://127.0.0.1:9")
    config = yaml.safe_load(project.config.read_text())
    config["load"] = {**config.get("load", {}), "max_attempts": 20, "retry_deadline_s": 600}
    project.config.write_text(yaml.safe_dump(config, sort_keys=False))
    result = project.cli("run")
    assert result.exit_code == 2, result.output
    assert "Nothing was written to Intercom" in result.output
