"""End to end on an account like a real one: the messy fake Freshdesk → `deskmigrate run` → the sandbox (issue 10).

Every contact lands, the same-email pair becomes one contact, each agent who requested a ticket becomes a contact, every
ticket lands except those of the contact deleted in Freshdesk; ticket fields not served (403) change none of that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.test_freshdesk_e2e import FreshdeskProject, make_project
from tests.app.vendor_e2e import REQUESTER_DELETED, outcome_table, reconciliation
from tests.fakes.freshdesk import MESSY_DELETED_REQUESTER_TICKETS, MESSY_TEAMMATE_TICKETS, FakeFreshdesk, messy_account
from tests.fakes.messy import PEOPLE

TICKETS = 41
CONTACTS = len(PEOPLE) - 1 + len(set(MESSY_TEAMMATE_TICKETS.values()))


@pytest.fixture
def messy(tmp_path: Path) -> Iterator[FreshdeskProject]:
    with FakeFreshdesk(messy_account()) as fake:
        yield make_project(tmp_path, fake, per_page=20, include_solutions=False)


def assert_everything_landed(project: FreshdeskProject) -> None:
    contacts = project.contacts_by_external_id()
    assert len(contacts) == CONTACTS
    assert {f"freshdesk-agent:{aid}" for aid in MESSY_TEAMMATE_TICKETS.values()} <= set(contacts)
    assert set(project.conversations()) == {str(t) for t in range(3000, 3036)} | {str(t) for t in MESSY_TEAMMATE_TICKETS}
    assert not set(project.conversations()) & {str(t) for t in MESSY_DELETED_REQUESTER_TICKETS}


def test_the_messy_account_lands_whole(messy: FreshdeskProject) -> None:
    result = messy.cli("run")
    assert result.exit_code == 0, result.output
    assert_everything_landed(messy)
    # Every record read has one outcome (issue 10): the whole reconciliation, the numbers adding up.
    rows = reconciliation(messy.reports()[-1])
    assert outcome_table(rows) == {"companies": {"read": 3, "created": 3}, "contacts": {"read": 37, "created": 35, "merged": 1, "skipped": 1}, "conversations": {"read": 41, "created": 39, "skipped": 2}, "agents": {"read": 3, "created": 3}}
    found = {(row['entity'], reason['outcome'], reason['reason']) for row in rows.values() for reason in row['reasons']}
    assert ("conversations", "skipped", REQUESTER_DELETED) in found
    assert ("contacts", "skipped", "deleted in the source") in found


def test_ticket_fields_not_served_run_through_with_a_notice(messy: FreshdeskProject) -> None:
    messy.fake.refuse("ticket_fields", 403)
    result = messy.cli("run")
    assert result.exit_code == 0, result.output
    assert_everything_landed(messy)
    assert "ticket fields not readable (HTTP 403)" in result.output + str(messy.reports()[-1])
