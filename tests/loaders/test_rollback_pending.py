"""Rollback finds what a killed run created but never recorded: each kind by what identifies it, never someone else's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deskmigrate.core.ledger import Ledger
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.rollback import Rollback
from deskmigrate.sandbox import SandboxServer
from tests.conftest import TOKEN, Api


@pytest.fixture
def setup(start_sandbox: Callable[..., tuple[SandboxServer, Api]], tmp_path: Path) -> tuple[IntercomClient, Api, Ledger, str]:
    server, api = start_sandbox()
    ledger = Ledger(tmp_path / "state" / "ledger.db")
    return IntercomClient(server.base_url, TOKEN), api, ledger, ledger.start_run("run")


def test_pending_creates_of_every_kind_are_found_and_undone(setup: tuple[IntercomClient, Api, Ledger, str]) -> None:
    client, api, ledger, run = setup
    help_center = api.get("/help_center/help_centers").json()["data"][0]["id"]
    contact = api.post("/contacts", {"role": "user", "external_id": "u1", "email": "u1@example.com"}).json()
    ledger.record_write(run, "contacts", "contacts", "u1", intercom_id=contact["id"], action="create", origin="created",
                        payload_hash="", body={"role": "user", "external_id": "u1", "email": "u1@example.com"})
    # What a killed run sent without hearing back: a company, a collection, an article, a conversation, a lead, a tag.
    bodies = {
        "companies": {"company_id": "c9", "name": "Pending Co"},
        "collections": {"name": "Pending collection", "help_center_id": int(help_center)},
        "leads": {"role": "lead", "name": "zendesk requester 98"},
    }
    for entity, body in bodies.items():
        ledger.mark_pending(run, entity, "k", intent=body)
    api.post("/companies", bodies["companies"])
    collection = api.post("/help_center/collections", bodies["collections"]).json()
    api.post("/contacts", bodies["leads"])
    admin = api.get("/me").json()["id"]
    article = {"title": "Pending article", "author_id": int(admin), "parent_id": int(collection["id"]), "parent_type": "collection"}
    ledger.mark_pending(run, "articles", "a1", intent=article)
    api.post("/articles", article)
    started = {"from": {"type": "user", "id": contact["id"]}, "body": "<p>hello</p>", "created_at": 1_600_000_000}
    ledger.mark_pending(run, "conversations", "t1#0", intent={k: v for k, v in started.items() if k != "body"})
    api.post("/conversations", started)
    ledger.mark_pending(run, "tags", "pending-tag", intent={"name": "Pending-Tag"})
    ledger.mark_taggings_pending(run, "pending-tag", "contacts", ["u1"])
    api.post("/tags", {"name": "Pending-Tag", "users": [{"id": contact["id"]}]})
    # Someone else's objects that look alike, made before the run: never taken for ours.
    ledger.mark_pending(run, "contacts", "u2", intent={"role": "user", "external_id": "u2"})

    rollback = Rollback(client, ledger)
    plan = rollback.plan([run])
    actions = {(r.entity, r.source_id): r.action for r in plan.records}
    assert actions == {("contacts", "u1"): "delete", ("companies", "k"): "delete", ("collections", "k"): "delete",
                       ("leads", "k"): "delete", ("articles", "a1"): "delete", ("conversations", "t1#0"): "delete",
                       ("contacts", "u2"): "missing"}
    assert [(t.key, t.action) for t in plan.tags] == [("pending-tag", "delete")]
    report = rollback.apply(plan)
    assert report.errors == [] and report.pending_found == 6
    assert api.get("/contacts").json()["data"] == []
    assert api.get("/companies").json()["data"] == []
    assert api.get("/tags").json()["data"] == []
    assert api.get("/articles").json()["data"] == [] and api.get("/help_center/collections").json()["data"] == []
    assert ledger.pending_rows([run]) == [], "every pending row is settled"
    assert not Rollback(client, ledger).plan([run]).actionable, "a second rollback finds nothing to do"


def test_a_pending_create_never_takes_an_older_object_for_its_own(setup: tuple[IntercomClient, Api, Ledger, str]) -> None:
    client, api, ledger, run = setup
    api.post("/contacts", {"role": "user", "external_id": "u3", "name": "Made by hand long ago"})
    ledger.mark_pending(run, "contacts", "u3", intent={"role": "user", "external_id": "u3"})
    with ledger.transaction() as db:  # the create was marked pending an hour after that contact existed
        db.execute("UPDATE id_map SET pending_since=pending_since+3600 WHERE source_id='u3'")
    plan = Rollback(client, ledger).plan([run])
    assert [(r.source_id, r.action) for r in plan.records] == [("u3", "missing")]
    Rollback(client, ledger).apply(plan)
    assert [c["name"] for c in api.get("/contacts").json()["data"]] == ["Made by hand long ago"]
