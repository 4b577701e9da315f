"""The contacts phase against the sandbox: a phone Intercom refuses costs the phone, not the contact; source contacts sharing
one email become one Intercom contact (newest fields win, every id mapped to it) or the later ones are left out, reported."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.http import RetryPolicy
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Company, Contact, Conversation, Part, Record
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.companies import load_companies
from deskmigrate.loaders.intercom.contacts import CONTACT_OUTCOMES, PHONE_ORIGINAL, load_contacts
from deskmigrate.loaders.intercom.history import load_history
from deskmigrate.loaders.intercom.loader import IntercomLoader, PhaseResult
from deskmigrate.loaders.intercom.phase import plan_action
from deskmigrate.loaders.intercom.preflight import preflight
from deskmigrate.loaders.intercom.rollback import Rollback
from deskmigrate.loaders.intercom.tags import load_tags
from deskmigrate.loaders.intercom.validate import Validator
from deskmigrate.sandbox import SandboxServer
from deskmigrate.sandbox.db import Database
from deskmigrate.transforms import Mapper, load_mapping
from deskmigrate.transforms.spec import MappingSpec
from tests.conftest import TOKEN, Api
from tests.loaders.test_conversations import ZENDESK_CONVERSATION_ATTRIBUTES

FAST = RetryPolicy(max_attempts=3, deadline_s=30, base_delay_s=0.005, max_delay_s=0.01)


@dataclass
class ContactHarness:
    server: SandboxServer
    api: Api
    ledger: Ledger
    client: IntercomClient
    spec: MappingSpec

    def loader(self, **settings: Any) -> IntercomLoader:
        loader = IntercomLoader(self.client, self.ledger, self.ledger.start_run("load"), LoadConfig(concurrency=4, **settings))
        preflight(loader, Mapper(self.spec).attribute_declarations())
        return loader

    def stage(self, *records: Record) -> None:
        self.ledger.stage(self.ledger.start_run("extract"), list(records))

    def payloads(self, entity: str) -> list[Payload]:
        mapper = Mapper(self.spec)
        mapped = [mapper.map(record) for record in self.ledger.iter_staged(entity)]
        assert all(isinstance(p, Payload) for p in mapped), mapped
        return [p for p in mapped if isinstance(p, Payload)]

    def load_contacts(self, loader: IntercomLoader | None = None, **settings: Any) -> tuple[PhaseResult, IntercomLoader]:
        loader = loader or self.loader(**settings)
        return load_contacts(loader, self.payloads("contacts")), loader

    def stored(self, kind: str) -> list[dict[str, Any]]:
        database = Database(self.server.settings.path)
        try:
            return database.all(kind)
        finally:
            database.close()

    def server_log(self) -> list[dict[str, Any]]:
        """The writes the sandbox received."""
        database = Database(self.server.settings.path)
        try:
            return [entry for entry in database.request_log() if entry["write"]]
        finally:
            database.close()

    def contact(self, source_id: str) -> dict[str, Any]:
        intercom_id = self.ledger.intercom_id("contacts", source_id)
        assert intercom_id, f"contact {source_id} has no Intercom contact"
        return self.api.get(f"/contacts/{intercom_id}").json()


@pytest.fixture
def contacts(tmp_path: Path, start_sandbox: Callable[..., tuple[SandboxServer, Api]]) -> Iterator[ContactHarness]:
    server, api = start_sandbox(strict_phones=True, conversation_attributes={name: "string" for name in ZENDESK_CONVERSATION_ATTRIBUTES})
    ledger = Ledger(tmp_path / "ledger.db")
    client = IntercomClient(server.base_url, TOKEN, "2.15", policy=FAST)
    yield ContactHarness(server, api, ledger, client, load_mapping("zendesk", None, []))
    client.close()
    ledger.close()


def zendesk_user(source_id: str, email: str, name: str, *, updated: datetime | None = None, tags: list[str] | None = None,
                 companies: list[str] | None = None, location: str | None = None) -> Contact:
    return Contact(source="zendesk", source_id=source_id, email=email, name=name, created_at=datetime(2020, 1, 1, tzinfo=UTC),
                   updated_at=updated, tags=tags or [], company_ids=companies or [], location=location)


# -- phones ------------------------------------------------------------------------------------------


def contact_payload(source_id: str, phone: str, name: str = "Lee Park") -> Payload:
    """What the mapping sends for a Zendesk user whose phone it could not normalise: the number as the source wrote it."""
    return Payload(entity="contacts", source_id=source_id,
                   body={"role": "user", "external_id": f"zd:{source_id}", "email": f"u{source_id}@example.com", "name": name,
                         "phone": phone})


def test_a_phone_intercom_refuses_is_kept_in_an_attribute_and_the_contact_lands(contacts: ContactHarness) -> None:
    loader = contacts.loader()
    national, e164 = contact_payload("40", "(283)276-9009 ext. 12"), contact_payload("41", "+14155550123")
    result = load_contacts(loader, [national, e164])
    assert (result.created, result.failed) == (2, 0)
    refused = contacts.contact("40")
    assert refused["phone"] is None and refused["custom_attributes"][PHONE_ORIGINAL] == "(283)276-9009 ext. 12"
    assert refused["name"] == "Lee Park" and refused["email"] == "u40@example.com"
    kept = contacts.contact("41")
    assert kept["phone"] == "+14155550123" and PHONE_ORIGINAL not in kept["custom_attributes"]
    attribute = next(a for a in contacts.stored("data_attributes") if a["name"] == PHONE_ORIGINAL)
    assert (attribute["model"], attribute["data_type"]) == ("contact", "string")
    notices = {(n.source_id, n.kind): n.detail for n in contacts.ledger.notices("contacts")}
    assert "phone_original" in notices[("40", "phone_refused")] and "283" not in notices[("40", "phone_refused")]
    assert ("41", "phone_refused") not in notices
    assert contacts.ledger.failures() == []
    assert Validator(contacts.client, contacts.ledger).run() == []

    # Unchanged: nothing is sent again; changed: the update takes the same way round the refused phone.
    again = contacts.loader()
    assert load_contacts(again, [national, e164]).unchanged == 2
    renamed = contact_payload("40", "(283)276-9009 ext. 12", name="Lee Park-Kim")
    updated = load_contacts(contacts.loader(), [renamed])
    assert (updated.updated, updated.failed) == (1, 0)
    assert contacts.contact("40")["name"] == "Lee Park-Kim"


def test_a_400_about_another_field_still_fails_the_contact(contacts: ContactHarness) -> None:
    bad = Payload(entity="contacts", source_id="42", body={"role": "user", "external_id": "zd:42", "email": "u42@example.com",
                                                          "phone": "(283)276-9009", "owner_id": 123})
    result = load_contacts(contacts.loader(), [bad])
    assert (result.created, result.failed) == (0, 1)
    [failure] = contacts.ledger.failures()
    assert failure.source_id == "42" and "owner_id" in failure.reason


def test_the_sandbox_takes_a_phone_as_free_text_unless_told_to_validate(start_sandbox: Callable[..., tuple[SandboxServer, Api]],
                                                                         tmp_path: Path) -> None:
    _, free = start_sandbox()
    assert free.post("/contacts", {"role": "user", "external_id": "a", "phone": "286-133-4778"}).json()["phone"] == "286-133-4778"
    _, strict = start_sandbox(path=tmp_path / "strict.db", strict_phones=True)
    refused = strict.post("/contacts", {"role": "user", "external_id": "a", "phone": "286-133-4778"})
    assert refused.status_code == 400
    assert refused.json()["type"] == "error.list" and refused.json()["errors"][0] == {
        "code": "parameter_invalid", "message": "Invalid phone number", "field": "phone"}
    assert strict.post("/contacts", {"role": "user", "external_id": "b", "phone": "+12861334778"}).status_code == 200


# -- same email, different source ids -----------------------------------------------------------------


def namesakes(contacts: ContactHarness) -> None:
    """Zendesk users 31 (updated 2023) and 30 (updated 2021) share one email in different case; the newer is staged first,
    so neither staging order nor the order of creates can pick the winner. Both have tags, 30 a company."""
    contacts.stage(Company(source="zendesk", source_id="500", name="Acme"))
    contacts.stage(zendesk_user("31", "dana@example.com", "Dana New", updated=datetime(2023, 5, 1, tzinfo=UTC), tags=["beta"],
                                location="users.json:2"),
                   zendesk_user("30", "Dana@Example.com", "Dana Old", updated=datetime(2021, 1, 1, tzinfo=UTC), tags=["vip"],
                                companies=["500"], location="users.json:1"))


def ticket(tid: str, requester: str) -> Conversation:
    first = Part(source_id=f"{tid}1", author_kind="contact", author_id=requester, body_html=f"<p>help {tid}</p>",
                 created_at=datetime(2024, 3, 1, 9, int(tid) % 60, tzinfo=UTC))
    return Conversation(source="zendesk", source_id=tid, subject=f"Ticket {tid}", requester_id=requester, status="open",
                        created_at=first.created_at, parts=[first])


def test_namesakes_become_one_contact_with_the_newest_fields_and_everything_of_both(contacts: ContactHarness) -> None:
    namesakes(contacts)
    loader = contacts.loader()
    load_companies(loader, contacts.payloads("companies"))
    result, _ = contacts.load_contacts(loader)
    assert (result.created, result.extra["merged"], result.adopted, result.failed) == (1, 1, 0, 0)
    assert set(CONTACT_OUTCOMES) <= set(result.as_dict())
    [stored] = [c for c in contacts.stored("contacts") if (c.get("email") or "").lower() == "dana@example.com"]
    assert stored["name"] == "Dana New" and stored["external_id"] == "zd:31"
    assert contacts.ledger.intercom_id("contacts", "30") == contacts.ledger.intercom_id("contacts", "31") == stored["id"]
    notice = next(n for n in contacts.ledger.notices("contacts") if n.source_id == "30")
    assert notice.kind == "merged_duplicate_email" and "31" in notice.detail and "users.json:2" in notice.detail
    assert "dana@example.com" not in notice.detail.lower()
    # Only one create reached Intercom for the two of them: no 409 and no overwrite by the older record.
    creates = [e for e in contacts.server_log() if e["route"] == "POST /contacts"]
    assert len(creates) == 1

    load_tags(loader)
    tags = {t["name"] for t in contacts.api.get(f"/contacts/{stored['id']}/tags").json()["data"]}
    assert tags == {"vip", "beta"}
    companies = contacts.api.get(f"/contacts/{stored['id']}/companies").json()["data"]
    assert [c["name"] for c in companies] == ["Acme"]

    contacts.stage(ticket("7100", "30"), ticket("7101", "31"))
    conversations = load_history(loader, contacts.payloads("conversations"))
    assert (conversations.created, conversations.failed) == (2, 0)
    for tid in ("7100", "7101"):
        remote = contacts.api.get(f"/conversations/{contacts.ledger.intercom_id('conversations', tid)}").json()
        assert remote["source"]["author"]["id"] == stored["id"]
    assert Validator(contacts.client, contacts.ledger).run() == []

    assert [plan_action(contacts.ledger, p) for p in contacts.payloads("contacts")] == ["unchanged", "unchanged"]
    rerun, _ = contacts.load_contacts()
    assert (rerun.unchanged, rerun.extra["merged"], rerun.created) == (2, 0, 0)


def test_a_rollback_deletes_the_merged_contact_once_and_forgets_both_ids(contacts: ContactHarness) -> None:
    namesakes(contacts)
    loader = contacts.loader()
    load_companies(loader, contacts.payloads("companies"))
    contacts.load_contacts(loader)
    load_tags(loader)
    contact_id = contacts.ledger.intercom_id("contacts", "31")
    report = Rollback(contacts.client, contacts.ledger).run([loader.run_id])
    assert report.errors == [] and report.deleted.get("contacts") == 1 and report.restored.get("contacts") is None
    assert contacts.api.get(f"/contacts/{contact_id}").status_code == 404
    assert contacts.ledger.intercom_id("contacts", "30") is None and contacts.ledger.intercom_id("contacts", "31") is None
    # The next run lands them again, merged the same way.
    again, _ = contacts.load_contacts()
    assert (again.created, again.extra["merged"]) == (1, 1)


def test_reject_later_lands_the_first_namesake_and_reports_the_others(contacts: ContactHarness) -> None:
    contacts.stage(zendesk_user("30", "Dana@Example.com", "Dana Old", updated=datetime(2021, 1, 1, tzinfo=UTC), location="users.json:1"),
                   zendesk_user("31", "dana@example.com", "Dana New", updated=datetime(2023, 5, 1, tzinfo=UTC)))
    result, _ = contacts.load_contacts(on_duplicate_email="reject_later")
    assert (result.created, result.extra["rejected_duplicate_email"], result.extra["merged"], result.adopted) == (1, 1, 0, 0)
    [stored] = contacts.stored("contacts")
    assert stored["name"] == "Dana Old"
    assert contacts.ledger.intercom_id("contacts", "31") is None
    [failure] = contacts.ledger.failures()
    assert failure.source_id == "31" and failure.field == "email"
    assert "30" in failure.reason and "users.json:1" in failure.reason and "reject_later" in failure.reason
    # Its ticket does not land on someone else's contact: it fails, naming why.
    contacts.stage(ticket("7200", "31"))
    conversations = load_history(contacts.loader(on_duplicate_email="reject_later"), contacts.payloads("conversations"))
    assert conversations.failed == 1
    reason = next(f.reason for f in contacts.ledger.failures() if f.entity == "conversations")
    assert reason.startswith("requester 31 did not land: same email as contact 30")
