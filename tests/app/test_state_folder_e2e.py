"""End to end: one state folder, one ledger (issue 11, problems 8–10).

A lost ledger beside earlier runs stops every writing command; --new-ledger starts over without ever letting a
rollback remove what it did not add. Two runs on one state folder: the second exits 2 naming the first; a dead
holder's lock is taken over. A ledger written by deskmigrate 0.1.0 (schema 1) opens, migrates and resumes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import Project
from tests.app.test_ownership_e2e import get, linked_companies, objects, seed_hand_made, tag_names, workspace, writes_in_log

SCHEMA1_PROJECT = Path(__file__).parents[1] / "core" / "fixtures" / "ledger_schema1"


# -- 8. a lost ledger is not a fresh start ------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["zero bytes", "missing"])
def test_a_lost_ledger_stops_every_writing_command_with_exit_2(project: Project, loss: str) -> None:
    seed_hand_made(project)
    assert project.cli("run").exit_code == 0
    after_run, writes = workspace(project), writes_in_log(project)
    ledger = project.state / "ledger.db"
    for sidecar in ("-wal", "-shm"):
        Path(str(ledger) + sidecar).unlink(missing_ok=True)
    if loss == "zero bytes":
        ledger.write_bytes(b"")
    else:
        ledger.unlink()

    for command in (("run",), ("load",), ("extract",), ("plan",), ("rollback", "--all", "--yes")):
        result = project.cli(*command)
        assert result.exit_code == 2, (command, result.output)
        text = " ".join(result.output.split())
        assert "the ledger is lost" in text and "--new-ledger" in text and "put the ledger back" in text
        assert "1 run report in reports/" in text
    assert workspace(project) == after_run and writes_in_log(project) == writes, "nothing was written to Intercom"
    assert not ledger.exists() or ledger.stat().st_size == 0, "no empty ledger was made in its place"


def test_starting_over_with_new_ledger_adopts_everything_and_a_rollback_then_removes_nothing(project: Project) -> None:
    person = seed_hand_made(project)
    assert project.cli("run").exit_code == 0
    with project.store() as store:  # a teammate tags a migrated contact by hand, after the migration
        u005 = next(c for c in store.objects("contacts") if c["external_id"] == "u005")
    from tests.app.test_e2e import requests_session

    with requests_session(project) as (api, url):
        api.post(f"{url}/tags", json={"name": "hand-picked", "users": [{"id": u005["id"]}]}).raise_for_status()
    (project.state / "ledger.db").write_bytes(b"")
    before = workspace(project)

    again = project.cli("run", "--new-ledger")
    assert again.exit_code == 0, again.output
    assert "started a new ledger" in again.output
    assert list(project.state.glob("ledger.db.lost-*")), "the lost file is set aside, not deleted"
    assert workspace(project) == before, "re-adopting everything changes nothing"
    report = json.loads(sorted((project.state / "reports").glob("*.json"))[-1].read_text())
    assert {p["phase"]: p["adopted"] for p in report["phases"]}["contacts"] == 12

    rolled = project.cli("rollback", "--all", "--yes")
    assert rolled.exit_code == 0, rolled.output
    after = workspace(project)
    assert after["tags"] == before["tags"] and after["companies"].keys() == before["companies"].keys()
    assert {cid: c[3:] for cid, c in after["contacts"].items()} == {cid: c[3:] for cid, c in before["contacts"].items()}, \
        "no tagging and no company link of any contact was removed"
    assert get(project, "contacts", person["id"])["name"] == "Person Nümber 1", "what the lost ledger's run wrote stays"
    again_plan = project.cli("run", "--new-ledger")
    assert again_plan.exit_code == 2 and "not lost" in again_plan.output


# -- 9. one run per state folder ---------------------------------------------------------------------------------------


def run_holding_the_lock(project: Project) -> tuple[subprocess.Popen[bytes], Path]:
    """A slow `deskmigrate run` in its own process, once it holds the state folder."""
    project.set_target(latency_ms=30)
    process = project.cli_subprocess("run")
    lock = project.state / "deskmigrate.lock"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (lock.exists() and lock.stat().st_size):
        time.sleep(0.02)
    return process, lock


def test_a_second_run_on_the_same_state_folder_exits_2_naming_the_first(project: Project) -> None:
    first, lock = run_holding_the_lock(project)
    holder = json.loads(lock.read_text())
    assert holder["pid"] == first.pid and holder["command"] == "run"

    for command in (("run",), ("load",), ("rollback", "--all", "--yes"), ("extract",)):
        second = project.cli(*command)
        assert second.exit_code == 2, (command, second.output)
        text = " ".join(second.output.split())
        assert f"pid {first.pid} on {socket.gethostname()}" in text and "deskmigrate run" in text, text
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 0, output.decode()
    assert not lock.exists()
    from deskmigrate.core.ledger import Ledger

    ledger = Ledger(project.state / "ledger.db")
    assert [r["command"] for r in ledger.runs()] == ["run"], "the refused commands never started a run"
    assert all(w.action != "adopt" for w in ledger.writes()), "nothing created by one run was adopted by another"


def test_a_lock_left_by_a_killed_run_is_taken_over_with_a_notice(project: Project) -> None:
    killed, lock = run_holding_the_lock(project)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert json.loads(lock.read_text())["pid"] == killed.pid, "kill -9 leaves the lock file behind"
    project.set_target(latency_ms=0)
    resumed = project.cli("run")
    assert resumed.exit_code == 0, resumed.output
    assert "took over the state folder's lock" in resumed.output and f"pid {killed.pid}" in " ".join(resumed.output.split())


def test_a_lock_naming_a_live_process_on_another_host_is_never_taken_over(project: Project) -> None:
    project.state.mkdir(parents=True, exist_ok=True)
    (project.state / "deskmigrate.lock").write_text(json.dumps(
        {"pid": 4242, "host": "build-server-7", "command": "run", "started_at": time.time() - 60, "process_start": None}))
    refused = project.cli("run")
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert "pid 4242 on build-server-7" in text and "delete" in text
    assert not project.sandbox_path.exists() or writes_in_log(project) == 0


# -- 10. a ledger made by deskmigrate 0.1.0 opens, migrates and resumes ---------------------------------------------------


@pytest.fixture
def schema1_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(SCHEMA1_PROJECT, root, ignore=shutil.ignore_patterns("make_fixture.py"))
    return root


def schema1_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIXTURE_TOKEN": "tok_fixture_schema1"}
    return subprocess.run([sys.executable, "-m", "deskmigrate", *args, "-c", str(root / "config.yaml")], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=300)


def fixture_workspace(root: Path) -> dict[str, Any]:
    project = Project(root=root, config=root / "config.yaml", contacts=[])
    return workspace(project)


def test_a_schema_1_ledger_opens_migrates_and_resumes(schema1_project: Path) -> None:
    root = schema1_project
    from deskmigrate.core.ledger import Ledger

    resumed = schema1_cli(root, "run")
    assert resumed.returncode == 0, resumed.stdout
    assert "ledger migrated to schema 2" in resumed.stdout
    [backup] = list((root / "state").glob("ledger.db.schema1-*.bak"))
    ledger = Ledger(root / "state" / "ledger.db")
    assert ledger.schema_version() == 2 and ledger.migrations()[0]["backup"] == str(backup)
    assert [r["command"] for r in ledger.runs()] == ["run", "run"]
    project = Project(root=root, config=root / "config.yaml", contacts=[])
    contacts = {c["external_id"]: c for c in objects(project, "contacts")}
    assert set(contacts) == {f"u{i:03d}" for i in range(1, 13)}, "every contact once: u008, created before the kill, was found"
    person = contacts["u001"]
    assert tag_names(project, person) == {"vip", "beta", "early-adopter"}
    assert linked_companies(project, person) == {"c2", "hand-1"}
    assert schema1_cli(root, "validate").returncode == 0

    rolled = schema1_cli(root, "rollback", "--all", "--yes")
    assert rolled.returncode == 0, rolled.stdout
    after = fixture_workspace(root)
    assert list(after["contacts"].values()) == [("Old Name", "person1@example.com", "u001", ("vip",), ("c2", "hand-1"))]
    assert after["companies"] == {"c2": ("Globex (before)", "enterprise", 10, ()), "hand-1": ("Hand Made Co", None, None, ())}
    assert after["tags"] == ["vip"]
    text = " ".join(rolled.stdout.split())
    assert "owner unknown" in text and "link c2 of contact u001" in text, "schema 1 did not record whether u001 had c2 before"


def test_a_schema_1_ledger_of_a_killed_run_rolls_back_without_resuming(schema1_project: Path) -> None:
    root = schema1_project
    rolled = schema1_cli(root, "rollback", "--all", "--yes")
    assert rolled.returncode == 0, rolled.stdout
    after = fixture_workspace(root)
    assert list(after["contacts"].values()) == [("Old Name", "person1@example.com", "u001", ("vip",), ("c2", "hand-1"))], \
        "u008, created by the killed run and never recorded, is found by its external_id and deleted"
    assert set(after["companies"]) == {"c2", "hand-1"} and after["companies"]["c2"][:3] == ("Globex (before)", "enterprise", 10)
    report = json.loads(next((root / "state" / "reports").glob("*.json")).read_text())
    assert report["result"]["pending_found"] == 1 and report["result"]["errors"] == []
