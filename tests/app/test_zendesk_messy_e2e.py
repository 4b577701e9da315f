"""End to end on an account like a real one: the messy fake Zendesk → `deskmigrate run` → the sandbox (issue 10).

Every end-user lands (national phones, odd dates and "gold" in a number cost a field at most), the two people sharing one
email in different case become one contact, each teammate who requested a ticket becomes a contact, every ticket lands
except the two whose requester was deleted in Zendesk; a plan without ticket forms (403 or 404) changes none of that.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.vendor_e2e import (
    INTERCOM_TOKEN_VARIABLE,
    REQUESTER_DELETED,
    VendorProject,
    outcome_table,
    reconciliation,
    write_project_config,
)
from tests.fakes.messy import PEOPLE
from tests.fakes.zendesk import (
    FAKE_EMAIL,
    FAKE_SUBDOMAIN,
    FAKE_TOKEN,
    MESSY_DELETED_REQUESTER_TICKETS,
    MESSY_TEAMMATE_TICKETS,
    FakeZendesk,
    messy_account,
)

ZendeskProject = VendorProject[FakeZendesk]
LIVE_TICKETS = 43
CONTACTS = len(PEOPLE) - 1 + len(set(MESSY_TEAMMATE_TICKETS.values()))  # one merged email pair; four teammates


@pytest.fixture
def messy(tmp_path: Path) -> Iterator[ZendeskProject]:
    with FakeZendesk(messy_account()) as fake:
        source = {
            "type": "zendesk", "subdomain": FAKE_SUBDOMAIN, "email": FAKE_EMAIL, "token": "${E2E_ZENDESK_TOKEN}", "base_url": fake.base_url,
            "incremental_requests_per_minute": 100_000, "page_size": 10, "retry_backoff_s": 0, "include_help_center": False,
        }
        config = write_project_config(tmp_path, source, "zendesk")
        env = {"E2E_ZENDESK_TOKEN": FAKE_TOKEN, INTERCOM_TOKEN_VARIABLE: "e2e-zendesk-messy-token-7a2d"}
        yield ZendeskProject(root=tmp_path, config=config, fake=fake, env=env)


def assert_everything_landed(project: ZendeskProject) -> None:
    contacts = project.contacts_by_external_id()
    assert len(contacts) == CONTACTS
    assert {f"zendesk-agent:{uid}" for uid in MESSY_TEAMMATE_TICKETS.values()} <= set(contacts)
    assert len(project.raw("conversations")) == LIVE_TICKETS - len(MESSY_DELETED_REQUESTER_TICKETS)


def test_the_messy_account_lands_whole(messy: ZendeskProject) -> None:
    result = messy.cli("run")
    assert result.exit_code == 0, result.output
    assert_everything_landed(messy)
    # Every record read has one outcome (issue 10): the whole reconciliation, the numbers adding up.
    rows = reconciliation(messy.reports()[-1])
    assert outcome_table(rows) == {"companies": {"read": 3, "created": 3}, "contacts": {"read": 37, "created": 35, "merged": 1, "skipped": 1}, "conversations": {"read": 44, "created": 41, "skipped": 3}, "agents": {"read": 4, "created": 4}}
    found = {(row['entity'], reason['outcome'], reason['reason']) for row in rows.values() for reason in row['reasons']}
    assert ("conversations", "skipped", REQUESTER_DELETED) in found
    assert ("contacts", "skipped", "deleted in the source") in found
    assert ("conversations", "skipped", "deleted in the source") in found


@pytest.mark.parametrize("status", [403, 404])
def test_a_plan_without_ticket_forms_runs_through_with_a_notice(messy: ZendeskProject, status: int) -> None:
    messy.fake.refuse("ticket_forms", status)
    result = messy.cli("run")
    assert result.exit_code == 0, result.output
    assert_everything_landed(messy)
    assert f"ticket forms not readable (HTTP {status})" in result.output + str(messy.reports()[-1])
