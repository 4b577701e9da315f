"""End to end on an account like a real one: the messy fake Freshdesk → `deskmigrate run` → the sandbox (issue 10).

Every contact lands, the same-email pair becomes one contact, each agent who requested a ticket becomes a contact, every
ticket lands except those of the contact deleted in Freshdesk; ticket fields not served (403) change none of that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.test_freshdesk_e2e import FreshdeskProject, make_project
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


def test_ticket_fields_not_served_run_through_with_a_notice(messy: FreshdeskProject) -> None:
    messy.fake.refuse("ticket_fields", 403)
    result = messy.cli("run")
    assert result.exit_code == 0, result.output
    assert_everything_landed(messy)
    assert "ticket fields not readable (HTTP 403)" in result.output + str(messy.reports()[-1])
