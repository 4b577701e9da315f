"""End to end: CSV files → `deskmigrate` → the sandbox, asserting what lands in Intercom, the report and the exit code."""

from __future__ import annotations

import json
import signal
import time

import requests

from tests.app.conftest import COMPANIES, TOKEN, Project


def expected_tags(row: dict[str, str]) -> set[str]:
    tags = {t for t in row["tags"].split(";") if t}
    if row["id"] in ("u001", "u002"):
        tags.add("early-adopter")
    return tags


def assert_complete(project: Project) -> None:
    """Every contact once, with its fields, custom attributes, company links and tags; every company once."""
    store = project.store()
    contacts = project.contacts_in_sandbox()
    assert set(contacts) == {row["id"] for row in project.contacts}
    companies = {c["company_id"]: c for c in store.objects("companies")}
    assert set(companies) == {c["id"] for c in COMPANIES}
    assert companies["c1"]["name"] == "Acme Ltd" and companies["c1"]["size"] == 120
    tag_names = {t["id"]: t["name"] for t in store.objects("tags")}
    for row in project.contacts:
        contact = contacts[row["id"]]
        assert contact["email"] == row["email"]
        assert contact["name"] == row["name"]
        assert contact["custom_attributes"]["plan_tier"] == int(row["plan_tier"])
        assert contact["custom_attributes"]["newsletter"] is (row["newsletter"] == "yes")
        linked = {companies_by_id(store)[c["id"]] for c in contact["companies"]["data"]}
        assert linked == {c for c in row["company_id"].split(";") if c}, row["id"]
        assert {tag_names[t["id"]] for t in contact["tags"]["data"]} == expected_tags(row), row["id"]


def companies_by_id(store) -> dict[str, str]:
    return {c["id"]: c["company_id"] for c in store.objects("companies")}


def test_run_migrates_everything_and_rerun_writes_nothing(project: Project) -> None:
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    assert_complete(project)
    attributes = {(a["model"], a["name"]): a["data_type"] for a in project.store().objects("data_attributes") if a.get("custom")}
    assert attributes[("contact", "plan_tier")] == "integer"
    assert attributes[("contact", "newsletter")] == "boolean"
    report = json.loads(next((project.state / "reports").glob("*.json")).read_text())
    assert report["exit_code"] == 0 and report["failure_count"] == 0
    assert report["api"]["calls"] > 0

    writes_before = project.writes()
    again = project.cli("run")
    assert again.exit_code == 0, again.output
    log = project.store().request_log()
    assert project.writes() == writes_before, [(e["route"], e["status"]) for e in log if e["write"]][writes_before:]


def test_one_changed_row_sends_exactly_one_update(project: Project) -> None:
    assert project.cli("run").exit_code == 0
    rows = project.contacts
    rows[4] = {**rows[4], "name": "Renamed Person"}
    project.write_contacts(rows)
    log_before = len(project.store().request_log())
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    new_writes = [r for r in project.store().request_log()[log_before:] if r["method"] != "GET" and "search" not in r["route"]]
    assert [r["route"] for r in new_writes] == ["PUT /contacts/{id}"]
    assert project.contacts_in_sandbox()["u005"]["name"] == "Renamed Person"


def test_invalid_email_is_rejected_before_the_api_and_retried_next_run(project: Project) -> None:
    rows = project.contacts
    rows[2] = {**rows[2], "email": "not-an-email"}
    project.write_contacts(rows)
    result = project.cli("run", "--accept-rejections")  # 1 of 12 is more than load.max_rejected's 5%
    assert result.exit_code == 3, result.output
    assert "u003" in result.output and "email" in result.output
    assert "u003" not in project.contacts_in_sandbox()
    assert not any(r["status"] == 400 for r in project.store().request_log())
    report = json.loads(next((project.state / "reports").glob("*.json")).read_text())
    assert [(f["source_id"], f["field"]) for f in report["failures"]] == [("u003", "email")]

    rows[2] = {**rows[2], "email": "fixed@example.com"}
    project.write_contacts(rows)
    fixed = project.cli("run")
    assert fixed.exit_code == 0, fixed.output
    assert project.contacts_in_sandbox()["u003"]["email"] == "fixed@example.com"


def test_existing_contact_is_adopted_and_rollback_restores_it(project: Project) -> None:
    # A contact that was in Intercom before the migration, with the same email as u001.
    project.cli("check")
    store = project.store()
    assert store is not None
    with requests_session(project) as (session, url):
        before = session.post(f"{url}/contacts", json={"role": "user", "email": "person1@example.com", "name": "Old Name"}).json()
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    adopted = project.store().get("contacts", before["id"])
    assert adopted["name"] == "Person Nümber 1" and adopted["external_id"] == "u001"
    assert len(project.contacts_in_sandbox()) == len(project.contacts)

    assert project.cli("status").exit_code == 0
    run_id = latest_run(project)
    rolled = project.cli("rollback", "--run", run_id, "--yes")
    assert rolled.exit_code == 0, rolled.output
    remaining = project.store().objects("contacts")
    assert [c["id"] for c in remaining] == [before["id"]], "only the pre-existing contact survives"
    assert remaining[0]["name"] == "Old Name" and remaining[0]["email"] == "person1@example.com"
    # Intercom refuses to clear an external_id; the rollback says it kept it.
    assert "identifiers kept" in rolled.output
    assert project.store().objects("companies") == []
    assert project.store().objects("tags") == []


def test_validate_catches_a_record_changed_behind_our_back(project: Project) -> None:
    assert project.cli("run").exit_code == 0
    clean = project.cli("validate")
    assert clean.exit_code == 0, clean.output
    contact = project.contacts_in_sandbox()["u007"]
    project.store().put_raw("contacts", {**contact, "name": "Someone Else"})
    result = project.cli("validate")
    assert result.exit_code == 3
    assert "u007" in result.output and "Someone Else" in result.output


def test_faults_5xx_and_dropped_connections_lose_and_duplicate_nothing(project: Project) -> None:
    project.set_target(error_rate=0.05, drop_rate=0.05, fault_seed=7)
    result = project.cli("run")
    if result.exit_code == 3:  # a record whose retries ran out is listed and retried by the next run
        result = project.cli("run")
    assert result.exit_code == 0, result.output
    project.set_target(error_rate=0.0, drop_rate=0.0)
    assert_complete(project)
    assert project.cli("validate").exit_code == 0


def test_a_429_storm_still_lands_every_record(project: Project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another app on the same workspace spends the whole window first: our run meets 429s and must absorb them."""
    from deskmigrate.sandbox import SandboxServer

    project.set_target(rate_limit=100)
    original_start = SandboxServer.start
    neighbour_calls = 0

    def start_after_a_greedy_neighbour(self):  # type: ignore[no-untyped-def]
        nonlocal neighbour_calls
        url = original_start(self)
        with requests.Session() as neighbour:
            neighbour.headers["Authorization"] = f"Bearer {TOKEN}"
            # Spend the window to its last call; one about to end is waited out and the next spent instead, so that
            # the run's first calls meet the refusal however the 10-second windows fall.
            while True:
                answer = neighbour.get(f"{url}/me")
                neighbour_calls += 1
                if answer.status_code == 429:
                    reset_in = int(answer.headers["X-RateLimit-Reset"]) - time.time()
                    if reset_in > 3:
                        break
                    time.sleep(max(reset_in, 0) + 0.05)
        return url

    monkeypatch.setattr(SandboxServer, "start", start_after_a_greedy_neighbour)
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    ours = project.store().request_log()[neighbour_calls:]
    report = json.loads(next((project.state / "reports").glob("*.json")).read_text())
    assert report["api"]["rate_limited"] == sum(1 for r in ours if r["status"] == 429) >= 1
    monkeypatch.undo()
    assert_complete(project)


def test_kill_dash_nine_mid_load_then_resume(project: Project) -> None:
    project.write_contacts([*project.contacts, *[{**project.contacts[0], "id": f"x{i:03d}", "email": f"extra{i}@example.com"}
                                                 for i in range(60)]])
    project.set_target(latency_ms=40)
    process = project.cli_subprocess("run")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if project.sandbox_path.exists() and 10 < project.store().count_requests(route="POST /contacts"):
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(project.contacts_in_sandbox()) < len(project.contacts), "killed before the end"
    project.set_target(latency_ms=0)
    result = project.cli("run")
    assert result.exit_code == 0, result.output
    assert_complete(project)
    assert project.cli("validate").exit_code == 0


def test_the_token_never_leaks(project: Project) -> None:
    rows = project.contacts
    rows[1] = {**rows[1], "email": "broken@"}
    project.write_contacts(rows)
    project.set_target(error_rate=0.05, fault_seed=3)
    outputs = [project.cli(cmd).output for cmd in ("check", "plan", "run", "validate", "status")]
    for text in outputs:
        assert TOKEN not in text
    for path in project.state.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_check_lists_every_problem_with_its_line(project: Project) -> None:
    project.config.write_text(
        "source:\n  type: csv\n  contacts:\n    path: contacts.csv\n    colour: blue\n"
        "target:\n  type: sandbox\n  token: ${DESKMIGRATE_UNSET_VAR}\n  speed: 11\n"
        "mapping: csv\n"
    )
    result = project.cli("check")
    assert result.exit_code == 2
    assert "DESKMIGRATE_UNSET_VAR" in result.output
    assert "config.yaml:5" in result.output and "colour" in result.output
    assert "config.yaml:9" in result.output and "speed" in result.output


def test_check_names_a_missing_source_file_before_anything_is_written(project: Project) -> None:
    (project.root / "contacts.csv").unlink()
    result = project.cli("check")
    assert result.exit_code == 2, result.output
    assert "contacts.csv" in result.output
    assert not project.sandbox_path.exists(), "check stops before it reaches the target"


def test_status_lists_runs_progress_and_failures(project: Project) -> None:
    rows = project.contacts
    rows[0] = {**rows[0], "email": "nope"}
    project.write_contacts(rows)
    assert project.cli("run", "--accept-rejections").exit_code == 3
    result = project.cli("status")
    assert result.exit_code == 0, result.output
    assert "run" in result.output and "contacts" in result.output and "done" in result.output
    assert "u001" in result.output and "email" in result.output


def test_check_reports_workspace_and_region(project: Project) -> None:
    result = project.cli("check")
    assert result.exit_code == 0, result.output
    assert "region" in result.output and "US" in result.output


def test_plan_counts_and_writes_payloads_without_touching_intercom(project: Project) -> None:
    result = project.cli("plan")
    assert result.exit_code == 0, result.output
    assert not project.sandbox_path.exists() or project.writes() == 0
    lines = (project.plan_folder() / "contacts.jsonl").read_text().splitlines()
    assert len(lines) == len(project.contacts)
    first = json.loads(lines[0])
    assert first["action"] == "create" and first["body"]["external_id"] == "u001"
    assert "create" in result.output
    assert "plan_tier" in result.output, "the mapping report names the fields kept as custom attributes"


def latest_run(project: Project) -> str:
    from deskmigrate.core.ledger import Ledger

    ledger = Ledger(project.state / "ledger.db")
    return [r["run_id"] for r in ledger.runs() if r["command"] == "run"][-1]


class requests_session:
    """A requests session against the project's sandbox file, served by a private sandbox server."""

    def __init__(self, project: Project) -> None:
        from deskmigrate.sandbox import SandboxServer, SandboxSettings

        self.server = SandboxServer(SandboxSettings(path=project.sandbox_path, token=TOKEN, search_delay_s=0))

    def __enter__(self):  # type: ignore[no-untyped-def]
        url = self.server.start()
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.15"})
        self.session = session
        return session, url

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self.server.stop()


def test_a_run_that_dies_still_leaves_its_report_without_the_token(project: Project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from deskmigrate import loading
    from deskmigrate.cli import app

    def die(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"the disk caught fire while holding {TOKEN}")

    monkeypatch.setattr(loading, "load", die)
    result = project.runner.invoke(app, ["run", "-c", str(project.config)], env={"E2E_TOKEN": TOKEN})
    assert result.exit_code != 0
    [path] = list((project.state / "reports").glob("*.json"))
    report = json.loads(path.read_text())
    assert report["status"] == "crashed" and report["command"] == "run"
    assert "disk caught fire" in report["error"] and TOKEN not in path.read_text()
    assert project.cli("status").output.count("crashed") >= 1
