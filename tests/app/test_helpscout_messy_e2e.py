"""End to end on an account like a real one: the messy fake Help Scout → `deskmigrate run` → the sandbox (issue 10).

Every customer lands, the same-email pair becomes one contact, the teammate whose conversation has no customer becomes a
contact, every conversation lands except the one whose customer was deleted; mailbox fields not served change none of that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deskmigrate.reconcile import AGENT_UNMATCHED
from tests.app.test_helpscout_e2e import HelpScoutProject, make_project
from tests.app.vendor_e2e import REQUESTER_DELETED, outcome_table, reconciliation
from tests.fakes.helpscout import MESSY_DELETED_REQUESTER_CONVERSATION, MESSY_USER_ONLY_CONVERSATION, FakeHelpScout, messy_account
from tests.fakes.messy import PEOPLE

CONVERSATIONS = 39
CONTACTS = len(PEOPLE) + 1 - 1 + 1  # the customers (with Ada's own), one merged email pair, Bob as requester


@pytest.fixture
def messy(tmp_path: Path) -> Iterator[HelpScoutProject]:
    with FakeHelpScout(messy_account(), page_size=10) as fake:
        yield make_project(tmp_path, fake)


def assert_everything_landed(project: HelpScoutProject) -> None:
    contacts = project.contacts_by_external_id()
    assert len(contacts) == CONTACTS
    assert "helpscout-agent:2" in contacts  # Bob, who opened an internal conversation without a customer
    conversations = project.conversations()
    assert len(conversations) == CONVERSATIONS - 1
    assert str(MESSY_USER_ONLY_CONVERSATION) in conversations and str(MESSY_DELETED_REQUESTER_CONVERSATION) not in conversations


def test_the_messy_account_lands_whole(messy: HelpScoutProject) -> None:
    result = messy.cli("run")
    assert result.exit_code == 0, result.output
    assert_everything_landed(messy)
    # Every record read has one outcome (issue 10): the whole reconciliation, the numbers adding up.
    rows = reconciliation(messy.reports()[-1])
    assert outcome_table(rows) == {"contacts": {"read": 37, "created": 36, "merged": 1}, "collections": {"read": 5, "created": 5}, "articles": {"read": 3, "created": 3}, "conversations": {"read": 39, "created": 38, "skipped": 1}, "agents": {"read": 3, "created": 1, "skipped": 2}}
    found = {(row['entity'], reason['outcome'], reason['reason']) for row in rows.values() for reason in row['reasons']}
    assert ("conversations", "skipped", REQUESTER_DELETED) in found
    assert ("agents", "skipped", AGENT_UNMATCHED) in found


def test_mailbox_fields_not_served_run_through_with_a_notice(messy: HelpScoutProject) -> None:
    messy.fake.refuse("mailboxes/10/fields", 404)
    result = messy.cli("run")
    assert result.exit_code == 0, result.output
    assert_everything_landed(messy)
    assert "the custom fields of a mailbox not readable (HTTP 404)" in result.output + str(messy.reports()[-1])
