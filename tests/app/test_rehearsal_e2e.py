"""End to end: `deskmigrate run --sample 20` from a fake Zendesk account holding every stratum (issue 15).

A rehearsal picks at least one ticket of each hard case and lands them (with their people, companies and linked
articles) in the rehearsal's own sandbox; its report names each ticket's reasons and its Intercom id; the next
rehearsal takes the same sample, reading only those tickets by id; --resample chooses another.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.sandbox.db import Database
from tests.app.vendor_e2e import INTERCOM_TOKEN_VARIABLE, VendorProject, write_project_config
from tests.fakes.zendesk import (
    FAKE_EMAIL,
    FAKE_SUBDOMAIN,
    FAKE_TOKEN,
    STRATA_BRANDS,
    STRATA_DELETED_REQUESTER,
    STRATA_FORMS,
    STRATA_LOCALES,
    STRATA_LONG,
    STRATA_PRIORITIES,
    STRATA_STATUSES,
    STRATA_TYPES,
    FakeZendesk,
    stratified_account,
)

ZendeskProject = VendorProject[FakeZendesk]
HARD_CASES = [
    "one of the longest threads", "over Intercom's 500-part limit", "one of the most attachments", "one of the most inline images",
    "HTML tables", "code blocks", "embedded media", "private notes", "opened by the support team", "opened by a teammate",
    "requester deleted in the source", "requester suspended", "requester shares an email with another person (merged contact)",
]
EVERY_STRATUM = HARD_CASES + [
    *(f"status: {s}" for s in STRATA_STATUSES), *(f"priority: {p}" for p in STRATA_PRIORITIES), *(f"type: {t}" for t in STRATA_TYPES),
    *(f"ticket form: {f}" for f in STRATA_FORMS.values()), *(f"language: {lang}" for lang in STRATA_LOCALES),
    *(f"brand/mailbox: {b}" for b in STRATA_BRANDS.values()),
]


@pytest.fixture
def stratified(tmp_path: Path) -> Iterator[ZendeskProject]:
    with FakeZendesk(stratified_account()) as fake:
        source = {
            "type": "zendesk", "subdomain": FAKE_SUBDOMAIN, "email": FAKE_EMAIL, "token": "${E2E_ZENDESK_TOKEN}", "base_url": fake.base_url,
            "incremental_requests_per_minute": 100_000, "page_size": 10, "retry_backoff_s": 0,
        }
        config = write_project_config(tmp_path, source, "zendesk")
        env = {"E2E_ZENDESK_TOKEN": FAKE_TOKEN, INTERCOM_TOKEN_VARIABLE: "e2e-rehearsal-token-51c9"}
        yield ZendeskProject(root=tmp_path, config=config, fake=fake, env=env)


def rehearsal_reports(project: ZendeskProject) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((project.state / "rehearsal" / "reports").glob("*.json"))]


def reasons(ticket: dict[str, Any]) -> list[str]:
    return ticket["picked_for"] + ticket["also"]


def covered(section: dict[str, Any]) -> dict[str, list[str]]:
    """Each stratum → the sampled tickets showing it (a reason is the stratum, with its detail in brackets)."""
    found: dict[str, list[str]] = {}
    for ticket in section["tickets"]:
        for reason in reasons(ticket):
            stratum = next((s for s in EVERY_STRATUM if reason == s or reason.startswith(f"{s} (")), reason)
            found.setdefault(stratum, []).append(ticket["source_id"])
    return found


def rehearsal_conversations(project: ZendeskProject) -> dict[str, dict[str, Any]]:
    """The rehearsal sandbox's conversations by their Intercom id."""
    database = Database(project.state / "rehearsal" / "sandbox.db")
    try:
        with database.transaction() as db:
            return {str(c["id"]): c for c in db.all("conversations")}
    finally:
        database.close()


def test_a_rehearsal_of_20_covers_every_stratum_and_lands_each_ticket(stratified: ZendeskProject) -> None:
    result = stratified.cli("run", "--sample", "20")
    assert result.exit_code == 0, result.output
    section = rehearsal_reports(stratified)[-1]["rehearsal"]
    assert len(section["tickets"]) == 20 and section["uncovered"] == []
    found = covered(section)
    assert [stratum for stratum in EVERY_STRATUM if stratum not in found] == []
    assert str(STRATA_LONG) in found["over Intercom's 500-part limit"]
    # Each ticket says where it is: the conversation a support lead opens beside the Zendesk ticket.
    conversations = rehearsal_conversations(stratified)
    for ticket in section["tickets"]:
        if ticket["source_id"] in {str(t) for t in STRATA_DELETED_REQUESTER}:
            assert ticket["outcome"].startswith("skipped: requester deleted in the source"), ticket
            continue
        assert ticket["outcome"] == "landed" and ticket["intercom_kind"] == "conversation", ticket
        assert ticket["intercom_id"] in conversations, ticket
    assert len(conversations) == 19  # nothing but the sample
    # The articles the sample needs: the one a ticket links to, and two that link to each other.
    articles = {a["source_id"]: a for a in section["articles"]}
    assert set(articles) == {"450", "451", "452"} and all(a["intercom_id"] for a in articles.values())
    # The main state folder and sandbox are untouched; the report page lists the sample.
    assert not (stratified.root / "sandbox.db").exists() and not (stratified.state / "ledger.db").exists()
    page = next((stratified.state / "rehearsal" / "reports").glob("*.html")).read_text()
    assert "Rehearsal sample: 20 tickets" in page and section["tickets"][0]["intercom_id"] in page
    assert "Rehearsal sample: why each ticket" in result.output


def test_choosing_reads_no_history_beyond_the_candidates(stratified: ZendeskProject) -> None:
    assert stratified.cli("run", "--sample", "5").exit_code == 0
    paths = stratified.fake.paths()
    histories = {p for p in paths if p.startswith("/api/v2/tickets/") and p.endswith("/comments.json")}
    section = rehearsal_reports(stratified)[-1]["rehearsal"]
    assert len(histories) == section["read_whole"] < len(stratified_account()["tickets"])
    assert not any("ticket_events" in p for p in paths)


def test_the_next_rehearsal_takes_the_same_sample_and_resample_another(stratified: ZendeskProject) -> None:
    assert stratified.cli("run", "--sample", "20").exit_code == 0
    first = rehearsal_reports(stratified)[-1]["rehearsal"]
    stratified.fake.requests.clear()
    again = stratified.cli("run", "--sample", "20")
    assert again.exit_code == 0, again.output
    second = rehearsal_reports(stratified)[-1]["rehearsal"]
    assert second["reused"] and [t["source_id"] for t in second["tickets"]] == [t["source_id"] for t in first["tickets"]]
    assert [t.get("intercom_id") for t in second["tickets"]] == [t.get("intercom_id") for t in first["tickets"]]  # unchanged, not sent twice
    assert "/api/v2/incremental/tickets/cursor.json" not in stratified.fake.paths()  # read by id only
    resampled = stratified.cli("run", "--sample", "20", "--resample")
    assert resampled.exit_code == 0, resampled.output
    third = rehearsal_reports(stratified)[-1]["rehearsal"]
    assert not third["reused"] and third["uncovered"] == []
    assert {t["source_id"] for t in third["tickets"]} != {t["source_id"] for t in first["tickets"]}
    assert [stratum for stratum in EVERY_STRATUM if stratum not in covered(third)] == []


def test_a_ticket_show_many_leaves_out_is_read_alone(stratified: ZendeskProject) -> None:
    stratified.fake.archived = (STRATA_LONG,)  # closed long ago: archived tickets may be left out of show_many
    assert stratified.cli("run", "--sample", "20").exit_code == 0
    section = rehearsal_reports(stratified)[-1]["rehearsal"]
    long_thread = next(t for t in section["tickets"] if t["source_id"] == str(STRATA_LONG))
    assert long_thread["outcome"] == "landed"
    assert f"/api/v2/tickets/{STRATA_LONG}.json" in stratified.fake.paths()


def test_target_intercom_needs_an_intercom_target(stratified: ZendeskProject) -> None:
    result = stratified.cli("run", "--sample", "5", "--target", "intercom")
    assert result.exit_code == 2
    assert "--target intercom needs an Intercom target" in result.output


def test_a_rehearsal_can_be_rolled_back(stratified: ZendeskProject) -> None:
    assert stratified.cli("run", "--sample", "5").exit_code == 0
    assert rehearsal_conversations(stratified)
    result = stratified.cli("rollback", "--rehearsal", "--all", "--yes")
    assert result.exit_code == 0, result.output
    assert rehearsal_conversations(stratified) == {}
