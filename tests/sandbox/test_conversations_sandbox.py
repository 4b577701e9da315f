"""The sandbox's conversation endpoints keep Intercom's contract: order, backdating, 10 attachments a part, 500 parts returned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deskmigrate.sandbox import SandboxServer
from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.resources.conversations import notifications_sent, stored_parts
from tests.conftest import Api

ADMIN = "991267002"


def new_contact(api: Api, external_id: str = "zd:1") -> str:
    response = api.post("/contacts", {"role": "user", "external_id": external_id, "email": f"{external_id[3:]}@example.com"})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def start(api: Api, contact_id: str, created_at: int = 1_600_000_000, **extra: Any) -> str:
    response = api.post("/conversations", {"from": {"type": "user", "id": contact_id}, "body": "Hello", "created_at": created_at, **extra})
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["type"] == "user_message" and message["created_at"] == created_at
    return message["conversation_id"]


def admin_reply(api: Api, conversation_id: str, created_at: int, **extra: Any) -> Any:
    body = {"message_type": "comment", "type": "admin", "admin_id": ADMIN, "body": "<p>hi</p>", "created_at": created_at,
            "skip_notifications": True, **extra}
    return api.post(f"/conversations/{conversation_id}/reply", body)


def test_parts_keep_their_order_and_backdated_times(sandbox_api: Api) -> None:
    contact = new_contact(sandbox_api)
    conversation_id = start(sandbox_api, contact)
    assert admin_reply(sandbox_api, conversation_id, 1_600_000_100, message_type="note").status_code == 200
    user = {"message_type": "comment", "type": "user", "intercom_user_id": contact, "body": "thanks", "created_at": 1_600_000_200}
    assert sandbox_api.post(f"/conversations/{conversation_id}/reply", user).status_code == 200
    conversation = sandbox_api.get(f"/conversations/{conversation_id}").json()
    assert conversation["created_at"] == 1_600_000_000
    assert conversation["source"]["author"]["id"] == contact and conversation["source"]["body"] == "Hello"
    parts = conversation["conversation_parts"]["conversation_parts"]
    assert [(p["part_type"], p["created_at"], p["author"]["id"]) for p in parts] == [
        ("note", 1_600_000_100, ADMIN), ("comment", 1_600_000_200, contact)]


def test_an_eleventh_attachment_on_one_part_is_refused(sandbox_api: Api) -> None:
    conversation_id = start(sandbox_api, new_contact(sandbox_api))
    urls = [f"https://files.example.com/{i}.png" for i in range(11)]
    refused = admin_reply(sandbox_api, conversation_id, 1_600_000_100, attachment_urls=urls)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "attachment_urls"
    assert admin_reply(sandbox_api, conversation_id, 1_600_000_100, attachment_urls=urls[:10]).status_code == 200
    too_many_on_start = sandbox_api.post("/conversations", {"from": {"type": "user", "id": new_contact(sandbox_api, "zd:2")},
                                                            "body": "x", "attachment_urls": urls})
    assert too_many_on_start.status_code == 400


def test_a_conversation_returns_only_its_500_most_recent_parts(start_sandbox: Callable[..., tuple[SandboxServer, Api]]) -> None:
    server, api = start_sandbox()
    conversation_id = start(api, new_contact(api))
    for i in range(503):
        assert admin_reply(api, conversation_id, 1_600_000_001 + i, message_type="note").status_code == 200
    parts = api.get(f"/conversations/{conversation_id}").json()["conversation_parts"]["conversation_parts"]
    assert len(parts) == 500
    assert parts[0]["created_at"] == 1_600_000_004 and parts[-1]["created_at"] == 1_600_000_503
    with _db(server) as db:
        assert len(stored_parts(db, conversation_id)) == 503


class _db:
    """The sandbox file opened directly (the API cannot show parts beyond 500)."""

    def __init__(self, server: SandboxServer) -> None:
        self.database = Database(server.settings.path)

    def __enter__(self) -> Database:
        return self.database

    def __exit__(self, *exc: object) -> None:
        self.database.close()


def test_only_admin_replies_without_skip_notifications_would_notify_the_customer(start_sandbox: Callable[..., tuple[SandboxServer, Api]]) -> None:
    server, api = start_sandbox()
    conversation_id = start(api, new_contact(api))
    admin_reply(api, conversation_id, 1_600_000_100)
    admin_reply(api, conversation_id, 1_600_000_101, message_type="note", skip_notifications=False)
    with _db(server) as db:
        assert notifications_sent(db) == 0
    admin_reply(api, conversation_id, 1_600_000_102, skip_notifications=False)
    with _db(server) as db:
        assert notifications_sent(db) == 1


def test_close_snooze_and_a_customer_reply_move_the_state(sandbox_api: Api) -> None:
    contact = new_contact(sandbox_api)
    conversation_id = start(sandbox_api, contact)
    closed = sandbox_api.post(f"/conversations/{conversation_id}/parts", {"message_type": "close", "type": "admin", "admin_id": ADMIN}).json()
    assert closed["state"] == "closed" and closed["conversation_parts"]["conversation_parts"][-1]["part_type"] == "close"
    user = {"message_type": "comment", "type": "user", "intercom_user_id": contact, "body": "one more thing"}
    assert sandbox_api.post(f"/conversations/{conversation_id}/reply", user).json()["state"] == "open"
    past = sandbox_api.post(f"/conversations/{conversation_id}/parts", {"message_type": "snoozed", "admin_id": ADMIN, "snoozed_until": 1})
    assert past.status_code == 400


@pytest.mark.parametrize("body", [
    {"from": {"type": "user", "id": "000000000000000000000000"}, "body": "x"},
    {"from": {"type": "user"}, "body": "x"},
])
def test_a_conversation_needs_an_existing_contact(sandbox_api: Api, body: dict[str, Any]) -> None:
    assert sandbox_api.post("/conversations", body).status_code in (400, 404)


def test_tags_attributes_search_and_delete(start_sandbox: Callable[..., tuple[SandboxServer, Api]]) -> None:
    sandbox_api = start_sandbox(conversation_attributes={"zendesk_status": "string"})[1]
    contact = new_contact(sandbox_api)
    conversation_id = start(sandbox_api, contact, created_at=1_600_000_777)
    tag = sandbox_api.post("/tags", {"name": "Billing"}).json()
    assert sandbox_api.post(f"/conversations/{conversation_id}/tags", {"id": tag["id"], "admin_id": ADMIN}).status_code == 200
    updated = sandbox_api.put(f"/conversations/{conversation_id}", {"custom_attributes": {"zendesk_status": "hold"}, "title": "T"}).json()
    assert updated["custom_attributes"] == {"zendesk_status": "hold"} and updated["title"] == "T"
    assert [t["name"] for t in updated["tags"]["tags"]] == ["Billing"]
    query = {"operator": "AND", "value": [{"field": "contact_ids", "operator": "=", "value": contact},
                                          {"field": "created_at", "operator": "=", "value": 1_600_000_777}]}
    found = sandbox_api.post("/conversations/search", {"query": query}).json()["conversations"]
    assert [c["id"] for c in found] == [conversation_id]
    assert sandbox_api.delete(f"/conversations/{conversation_id}").json()["deleted"] is True
    assert sandbox_api.get(f"/conversations/{conversation_id}").status_code == 404
