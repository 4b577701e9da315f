"""End to end: a rehearsal (`run --sample N`) from each other source (issue 15, item 4): Freshdesk and Help Scout choose
from their ticket lists and read only the candidates' histories by id; a JSON Lines export (a file source, histories
at hand) is profiled from its records. Each sampled ticket has its reasons and lands in the rehearsal's own sandbox."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.app.test_freshdesk_e2e import make_project as freshdesk_project
from tests.app.test_helpscout_e2e import make_project as helpscout_project
from tests.app.vendor_e2e import INTERCOM_TOKEN_VARIABLE, VendorProject, declare_conversation_attributes, write_project_config
from tests.connectors.jsonl.account import write_account
from tests.fakes.freshdesk import FakeFreshdesk
from tests.fakes.freshdesk import messy_account as freshdesk_account
from tests.fakes.helpscout import FakeHelpScout
from tests.fakes.helpscout import messy_account as helpscout_account

SIZE = 6


def rehearsal(project: VendorProject[Any]) -> dict[str, Any]:
    reports = sorted((project.state / "rehearsal" / "reports").glob("*.json"))
    return json.loads(reports[-1].read_text())["rehearsal"]


def assert_sampled_and_landed(project: VendorProject[Any], total: int) -> dict[str, Any]:
    section = rehearsal(project)
    assert len(section["tickets"]) == min(SIZE, total)
    assert all(ticket["picked_for"] for ticket in section["tickets"])
    assert any(reason.startswith("status: ") for ticket in section["tickets"] for reason in ticket["picked_for"] + ticket["also"])
    landed = [ticket for ticket in section["tickets"] if ticket["outcome"] == "landed"]
    assert landed and all(ticket["intercom_id"] for ticket in landed)
    assert all(ticket["outcome"].startswith(("landed", "skipped: ")) for ticket in section["tickets"]), section["tickets"]
    return section


@pytest.fixture
def freshdesk(tmp_path: Path) -> Iterator[VendorProject[FakeFreshdesk]]:
    with FakeFreshdesk(freshdesk_account()) as fake:
        yield freshdesk_project(tmp_path, fake, per_page=20, include_solutions=False)


def test_freshdesk_chooses_from_the_ticket_list_and_reads_only_candidates(freshdesk: VendorProject[FakeFreshdesk]) -> None:
    result = freshdesk.cli("run", "--sample", str(SIZE))
    assert result.exit_code == 0, result.output
    total = len(freshdesk.fake.account["tickets"])
    section = assert_sampled_and_landed(freshdesk, total)
    histories = {p for p in freshdesk.fake.paths() if re.fullmatch(r"/api/v2/tickets/\d+/conversations", p)}
    assert len(histories) == section["read_whole"] < total
    again = freshdesk.cli("run", "--sample", str(SIZE))
    assert again.exit_code == 0 and rehearsal(freshdesk)["reused"]


@pytest.fixture
def helpscout(tmp_path: Path) -> Iterator[VendorProject[FakeHelpScout]]:
    with FakeHelpScout(helpscout_account(), page_size=10) as fake:
        yield helpscout_project(tmp_path, fake)


def test_helpscout_chooses_from_the_conversation_list_and_reads_only_candidates(helpscout: VendorProject[FakeHelpScout]) -> None:
    result = helpscout.cli("run", "--sample", str(SIZE))
    assert result.exit_code == 0, result.output
    conversations = helpscout.fake.account["conversations"]
    section = assert_sampled_and_landed(helpscout, len(conversations))
    requests = helpscout.fake.requests
    assert not any(r.path.endswith("/conversations") and r.query.get("embed") == "threads" for r in requests)  # no history listed
    by_id = {r.path for r in requests if re.fullmatch(r"/v2/conversations/\d+", r.path)}
    assert len(by_id) == section["read_whole"] < len(conversations)


def test_a_jsonl_export_is_profiled_from_its_records(tmp_path: Path) -> None:
    write_account(tmp_path / "export")
    config = write_project_config(tmp_path, {"type": "jsonl", "folder": "export"}, "jsonl")
    declare_conversation_attributes(config, dict.fromkeys(["original_status", "original_priority", "original_channel", "original_group",
                                                          "original_conversation_id", "order_number"], "string"))
    data = yaml.safe_load(config.read_text())
    data["load"]["max_rejected"] = "50%"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    project: VendorProject[None] = VendorProject(root=tmp_path, config=config, fake=None, env={INTERCOM_TOKEN_VARIABLE: "jsonl-rehearsal-token"})
    result = project.cli("run", "--sample", str(SIZE))
    assert result.exit_code in (0, 3), result.output
    section = rehearsal(project)
    assert section["tickets"] and all(ticket["picked_for"] for ticket in section["tickets"])
    assert any(ticket.get("intercom_id") for ticket in section["tickets"])


def test_a_csv_of_people_rehearses_the_hardest_contacts(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    for name in ("companies.csv", "contacts.csv", "tags.csv"):
        (tmp_path / name).write_bytes((examples / name).read_bytes())
    source = {"type": "csv", "companies": {"path": "companies.csv", "tags_column": "tags"},
              "contacts": {"path": "contacts.csv", "company_column": "company_id", "company_by": "id", "tags_column": "tags"},
              "tags": {"path": "tags.csv"}}
    config = write_project_config(tmp_path, source, "csv")
    project: VendorProject[None] = VendorProject(root=tmp_path, config=config, fake=None, env={INTERCOM_TOKEN_VARIABLE: "csv-rehearsal-token"})
    result = project.cli("run", "--sample", "5")
    assert result.exit_code == 0, result.output
    section = rehearsal(project)
    assert section["entity"] == "contacts" and len(section["tickets"]) == 5
    reasons = {reason.split(" (")[0] for contact in section["tickets"] for reason in contact["picked_for"]}
    assert {"several companies", "a lead", "most tags"} <= reasons
    assert all(contact["intercom_kind"] == "contact" and contact["intercom_id"] for contact in section["tickets"])
    assert "Rehearsal sample: why each contact" in result.output
