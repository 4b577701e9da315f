"""Conversation attributes as Intercom really behaves: undeclared ones refused, UI-made on 2.15, created by API from 2.16."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.errors import ConfigError
from deskmigrate.core.http import RetryPolicy
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.payload import AttributeDeclaration
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.history import attribute_tag, check_conversation_attributes, workspace_attributes
from deskmigrate.loaders.intercom.loader import IntercomLoader
from deskmigrate.loaders.intercom.preflight import preflight
from deskmigrate.sandbox import SandboxServer
from tests.conftest import TOKEN, Api

FAST = RetryPolicy(max_attempts=2, deadline_s=10, base_delay_s=0.005, max_delay_s=0.01)
ADMIN = "991267001"
StartSandbox = Callable[..., tuple[SandboxServer, Api]]


def conversation(api: Api) -> str:
    contact = api.post("/contacts", {"role": "user", "email": "ann@example.com"}).json()["id"]
    return str(api.post("/conversations", {"from": {"type": "user", "id": contact}, "body": "hi"}).json()["conversation_id"])


def on_version(api: Api, version: str) -> Api:
    api.session.headers["Intercom-Version"] = version
    return api


def declared(*names: str, data_type: str = "string", options: list[str] | None = None) -> list[AttributeDeclaration]:
    return [AttributeDeclaration(model="conversation", name=n, data_type=data_type, options=options or []) for n in names]  # type: ignore[arg-type]


# -- the sandbox ------------------------------------------------------------------------------------


def test_an_undeclared_conversation_attribute_is_refused_with_intercoms_message(start_sandbox: StartSandbox) -> None:
    _, api = start_sandbox(conversation_attributes={"zendesk_status": "string"})
    conversation_id = conversation(api)
    refused = api.put(f"/conversations/{conversation_id}", {"custom_attributes": {"zendesk_status": "open", "bad_attr": "x"}})
    assert refused.status_code == 400
    assert refused.json()["errors"][0] == {"code": "parameter_invalid", "message": "Conversation attribute 'bad_attr' does not exist",
                                          "field": "bad_attr"}
    assert api.get(f"/conversations/{conversation_id}").json()["custom_attributes"] == {}, "a refused update changes nothing"
    accepted = api.put(f"/conversations/{conversation_id}", {"custom_attributes": {"zendesk_status": "open"}})
    assert accepted.json()["custom_attributes"] == {"zendesk_status": "open"}


@pytest.mark.parametrize(("data_type", "wrong", "right"), [
    ("string", 42, "42"), ("integer", "7", 7), ("float", True, 9.5), ("boolean", "yes", True), ("datetime", "soon", 1_700_000_000),
])
def test_a_value_of_the_wrong_type_is_refused(start_sandbox: StartSandbox, data_type: str, wrong: Any, right: Any) -> None:
    _, api = start_sandbox(conversation_attributes={"field": data_type})
    conversation_id = conversation(api)
    refused = api.put(f"/conversations/{conversation_id}", {"custom_attributes": {"field": wrong}})
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "parameter_invalid"
    assert api.put(f"/conversations/{conversation_id}", {"custom_attributes": {"field": right}}).status_code == 200


def test_on_2_15_ui_made_attributes_are_listed_as_data_attributes_and_the_api_cannot_create_any(start_sandbox: StartSandbox) -> None:
    _, api = start_sandbox(conversation_attributes={"zendesk_status": "string", "score": "integer"})
    listed = api.get("/data_attributes", params={"model": "conversation"}).json()["data"]
    assert {(a["name"], a["data_type"], a["model"]) for a in listed} == {("zendesk_status", "string", "conversation"),
                                                                        ("score", "integer", "conversation")}
    assert api.post("/conversations/attributes", {"name": "new_one", "data_type": "string"}).status_code == 404
    by_data_attributes = api.post("/data_attributes", {"name": "new_one", "model": "conversation", "data_type": "string"})
    assert by_data_attributes.status_code == 400
    assert {a["name"] for a in api.get("/data_attributes", params={"model": "conversation"}).json()["data"]} == {"zendesk_status", "score"}


def test_on_2_16_conversation_attributes_move_to_their_own_endpoint(start_sandbox: StartSandbox) -> None:
    api = on_version(start_sandbox(conversation_attributes={"zendesk_status": "string"})[1], "2.16")
    moved = api.get("/data_attributes", params={"model": "conversation"})
    assert moved.status_code == 422 and "GET /conversations/attributes" in moved.json()["errors"][0]["message"]
    created = api.post("/conversations/attributes", {"name": "zendesk_group", "data_type": "string", "description": "Group"})
    assert created.status_code == 200
    assert created.json()["type"] == "conversation_attribute" and created.json()["name"] == "zendesk_group"
    assert {a["name"] for a in api.get("/conversations/attributes").json()["data"]} == {"zendesk_status", "zendesk_group"}
    duplicate = api.post("/conversations/attributes", {"name": "Zendesk_Group", "data_type": "string"})
    assert duplicate.status_code == 422 and duplicate.json()["errors"][0]["message"] == "A conversation attribute with that name already exists"
    bad_type = api.post("/conversations/attributes", {"name": "x", "data_type": "float"})
    assert bad_type.status_code == 422 and "Allowed types" in bad_type.json()["errors"][0]["message"]
    conversation_id = conversation(api)
    assert api.put(f"/conversations/{conversation_id}", {"custom_attributes": {"zendesk_group": "Billing"}}).status_code == 200


def test_a_list_attribute_takes_one_of_its_labels(start_sandbox: StartSandbox) -> None:
    api = on_version(start_sandbox()[1], "2.16")
    body = {"name": "tier", "data_type": "list", "options": [{"label": "Gold"}, {"label": "Silver"}]}
    assert [o["label"] for o in api.post("/conversations/attributes", body).json()["options"]] == ["Gold", "Silver"]
    conversation_id = conversation(api)
    assert api.put(f"/conversations/{conversation_id}", {"custom_attributes": {"tier": "Bronze"}}).status_code == 400
    assert api.put(f"/conversations/{conversation_id}", {"custom_attributes": {"tier": "Gold"}}).status_code == 200


def test_ticket_attributes_are_still_checked_per_ticket_type(sandbox_api: Api) -> None:
    ticket_type = sandbox_api.post("/ticket_types", {"name": "Migrated"}).json()
    contact = sandbox_api.post("/contacts", {"role": "user", "email": "t@example.com"}).json()["id"]
    body = {"ticket_type_id": ticket_type["id"], "contacts": [{"id": contact}],
            "ticket_attributes": {"_default_title_": "T", "zendesk_status": "open"}}
    refused = sandbox_api.post("/tickets", body)
    assert refused.status_code == 400 and "zendesk_status" in refused.json()["errors"][0]["message"]


# -- preflight ---------------------------------------------------------------------------------------


@pytest.fixture
def make_loader(tmp_path: Path, start_sandbox: StartSandbox) -> Iterator[Callable[..., IntercomLoader]]:
    clients: list[IntercomClient] = []
    ledgers: list[Ledger] = []

    def make(version: str, *, strict: bool = False, **sandbox: Any) -> IntercomLoader:
        server, _ = start_sandbox(**sandbox)
        client = IntercomClient(server.base_url, TOKEN, version, policy=FAST)
        ledger = Ledger(tmp_path / f"ledger{len(ledgers)}.db")
        clients.append(client)
        ledgers.append(ledger)
        loader = IntercomLoader(client, ledger, ledger.start_run("run"), LoadConfig(strict_attributes=strict))
        loader.mapping_options = {"conversation": {"target": "conversations"}}  # the run loads ticket history as conversations
        return loader

    yield make
    for client in clients:
        client.close()
    for ledger in ledgers:
        ledger.close()


def test_preflight_on_2_15_keeps_missing_attributes_for_tags_and_says_where_to_create_them(make_loader: Callable[..., IntercomLoader]) -> None:
    loader = make_loader("2.15", conversation_attributes={"zendesk_status": "string"})
    result = preflight(loader, declared("zendesk_status", "zendesk_group"))
    report = result.conversation_attributes
    assert report["existing"] == ["zendesk_status"] and report["kept_as_tags"] == ["zendesk_group"] and report["created"] == []
    assert "Settings → Data → Conversation data" in report["advice"]
    assert workspace_attributes(loader) == {"zendesk_status"}


def test_preflight_on_2_15_with_strict_attributes_stops_before_loading(make_loader: Callable[..., IntercomLoader]) -> None:
    loader = make_loader("2.15", strict=True)
    with pytest.raises(ConfigError) as stopped:
        preflight(loader, declared("zendesk_group"))
    assert "zendesk_group" in str(stopped.value.problems[0]) and "nothing was loaded" in stopped.value.title


def test_preflight_on_2_16_creates_the_missing_ones_with_their_types(make_loader: Callable[..., IntercomLoader]) -> None:
    loader = make_loader("2.16", conversation_attributes={"zendesk_status": "string"})
    result = preflight(loader, [*declared("zendesk_status"), *declared("score", data_type="float"),
                               *declared("tier", options=["Gold", "Silver"])])
    assert result.conversation_attributes["created"] == ["score", "tier"] and result.conversation_attributes["kept_as_tags"] == []
    types = {a["name"]: a["data_type"] for a in loader.client.list_conversation_attributes()}
    assert types == {"zendesk_status": "string", "score": "decimal", "tier": "list"}
    assert [(w.entity, w.source_id) for w in loader.ledger.writes(loader.run_id)] == [("conversation_attributes", "score"), ("conversation_attributes", "tier")]
    again = check_conversation_attributes(loader.client, declared("zendesk_status", "score", "tier"))
    assert again.missing == [], "a second run finds them and creates nothing"


def test_an_attribute_value_becomes_a_one_line_tag() -> None:
    assert attribute_tag("zendesk_group", "Level 2\n support") == "zendesk_group:Level 2 support"
    assert attribute_tag("urgent", True) == "urgent:true"
