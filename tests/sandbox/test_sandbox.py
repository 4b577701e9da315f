"""The Intercom sandbox over real HTTP: validation, conflicts, links, tags, rate limits, faults, persistence, spec shapes."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from deskmigrate.sandbox import SandboxStore

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "reference" / "intercom-openapi-2.15.yaml"


Api = Any  # the session helper the `sandbox_api` and `start_sandbox` fixtures hand out (tests/conftest.py)


def declare(api: Api, name: str, data_type: str, model: str = "contact", **extra: Any) -> requests.Response:
    return api.post("/data_attributes", {"name": name, "model": model, "data_type": data_type, **extra})


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert body["type"] == "error.list"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["request_id"])
    assert response.headers["X-Request-Id"] == body["request_id"]
    return body["errors"][0]


def create_contact(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/contacts", body)
    assert response.status_code == 200, response.text
    return response.json()


def create_company(api: Api, company_id: str, **body: Any) -> dict[str, Any]:
    response = api.post("/companies", {"company_id": company_id, **body})
    assert response.status_code == 200, response.text
    return response.json()


# -- contacts ---------------------------------------------------------------------------------


def test_a_duplicate_create_is_a_409_naming_the_existing_contact_which_can_then_be_updated(sandbox_api: Api) -> None:
    first = create_contact(sandbox_api, email="jane@example.com", external_id="zd-1", name="Jane")

    by_external_id = sandbox_api.post("/contacts", {"external_id": "zd-1", "email": "other@example.com"})
    by_email = sandbox_api.post("/contacts", {"email": "JANE@example.com", "role": "user"})

    for response in (by_external_id, by_email):
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "conflict"
        assert error["message"] == f"A contact matching those details already exists with id={first['id']}"
    updated = sandbox_api.put(f"/contacts/{first['id']}", {"name": "Jane Doe", "phone": "+353871234567"})
    assert updated.status_code == 200
    assert updated.json()["name"] == "Jane Doe"
    assert sandbox_api.get(f"/contacts/{first['id']}").json()["phone"] == "+353871234567"
    assert len(sandbox_api.get("/contacts").json()["data"]) == 1


def test_leads_may_share_an_email_but_a_user_email_is_unique(sandbox_api: Api) -> None:
    create_contact(sandbox_api, email="lead@example.com", role="lead")
    create_contact(sandbox_api, email="lead@example.com", role="lead")

    assert sandbox_api.post("/contacts", {"email": "lead@example.com", "role": "user"}).status_code == 200
    assert sandbox_api.post("/contacts", {"email": "lead@example.com", "role": "user"}).status_code == 409


def test_an_update_onto_another_contacts_external_id_is_a_conflict(sandbox_api: Api) -> None:
    first = create_contact(sandbox_api, external_id="a")
    second = create_contact(sandbox_api, external_id="b")

    response = sandbox_api.put(f"/contacts/{second['id']}", {"external_id": "a"})

    assert response.status_code == 409
    assert error_of(response)["message"].endswith(f"id={first['id']}")


def test_an_undeclared_custom_attribute_is_rejected_until_it_is_declared(sandbox_api: Api) -> None:
    rejected = sandbox_api.post("/contacts", {"email": "a@example.com", "custom_attributes": {"plan_tier": 3}})
    assert rejected.status_code == 400
    error = error_of(rejected)
    assert error["code"] == "parameter_invalid"
    assert "plan_tier" in error["message"]
    assert sandbox_api.get("/contacts").json()["data"] == []

    assert declare(sandbox_api, "plan_tier", "integer").status_code == 200
    accepted = sandbox_api.post("/contacts", {"email": "a@example.com", "custom_attributes": {"plan_tier": 3}})

    assert accepted.status_code == 200
    assert accepted.json()["custom_attributes"] == {"plan_tier": 3}


@pytest.mark.parametrize(
    ("data_type", "wrong", "right"),
    [
        ("integer", True, 7),
        ("integer", "7", 7),
        ("float", "1.5", 2),
        ("boolean", 1, False),
        ("string", 12, "twelve"),
        ("date", "2024-01-01", 1704067200),
        ("datetime", 1.5, 1704067200),
    ],
)
def test_a_custom_attribute_of_the_wrong_type_is_rejected_naming_it(sandbox_api: Api, data_type: str, wrong: Any, right: Any) -> None:
    declare(sandbox_api, "score", data_type)
    contact = create_contact(sandbox_api, email="a@example.com")

    rejected = sandbox_api.put(f"/contacts/{contact['id']}", {"custom_attributes": {"score": wrong}})
    accepted = sandbox_api.put(f"/contacts/{contact['id']}", {"custom_attributes": {"score": right}})

    assert rejected.status_code == 400
    assert error_of(rejected)["code"] == "parameter_invalid"
    assert "'score'" in error_of(rejected)["message"]
    assert accepted.status_code == 200
    assert accepted.json()["custom_attributes"]["score"] == right


def test_null_clears_a_custom_attribute(sandbox_api: Api) -> None:
    declare(sandbox_api, "region", "string")
    contact = create_contact(sandbox_api, email="a@example.com", custom_attributes={"region": "EMEA"})

    cleared = sandbox_api.put(f"/contacts/{contact['id']}", {"custom_attributes": {"region": None}})

    assert cleared.json()["custom_attributes"] == {}


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@example.com", ""])
def test_an_invalid_email_is_rejected(sandbox_api: Api, email: str) -> None:
    response = sandbox_api.post("/contacts", {"email": email, "role": "user"})

    assert response.status_code == 400
    assert error_of(response)["code"] == "parameter_invalid"


def test_a_contact_needs_an_identifier_and_known_fields_of_the_right_type(sandbox_api: Api) -> None:
    assert sandbox_api.post("/contacts", {"name": "No Identifier"}).status_code == 400
    assert error_of(sandbox_api.post("/contacts", {"email": "a@example.com", "colour": "red"}))["code"] == "bad_request"
    assert sandbox_api.post("/contacts", {"email": "a@example.com", "signed_up_at": "yesterday"}).status_code == 400
    assert sandbox_api.post("/contacts", {"email": "a@example.com", "role": "admin"}).status_code == 400


def test_a_user_cannot_become_a_lead(sandbox_api: Api) -> None:
    contact = create_contact(sandbox_api, email="a@example.com", role="user")

    response = sandbox_api.put(f"/contacts/{contact['id']}", {"role": "lead"})

    assert response.status_code == 400
    assert error_of(response)["code"] == "client_error"


def test_find_by_external_id_is_immediate_and_404_when_absent(start_sandbox) -> None:
    _, api = start_sandbox(search_delay_s=60.0)
    contact = create_contact(api, external_id="zd 42/a", email="a@example.com")

    found = api.get("/contacts/find_by_external_id/zd%2042%2Fa")
    missing = api.get("/contacts/find_by_external_id/nobody")

    assert found.status_code == 200
    assert found.json()["id"] == contact["id"]
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"


def test_delete_contact_returns_the_reference_and_it_is_gone(sandbox_api: Api) -> None:
    contact = create_contact(sandbox_api, external_id="x1")

    deleted = sandbox_api.delete(f"/contacts/{contact['id']}")

    assert deleted.json() == {"type": "contact", "id": contact["id"], "external_id": "x1", "deleted": True}
    assert sandbox_api.get(f"/contacts/{contact['id']}").status_code == 404
    assert sandbox_api.delete(f"/contacts/{contact['id']}").status_code == 404


def test_listing_contacts_follows_the_cursor_through_every_contact_once(sandbox_api: Api) -> None:
    created = {create_contact(sandbox_api, external_id=f"c{i}")["id"] for i in range(7)}

    seen: list[str] = []
    params: dict[str, Any] = {"per_page": 3}
    pages = 0
    while True:
        body = sandbox_api.get("/contacts", params=params).json()
        pages += 1
        assert body["total_count"] == 7
        seen.extend(contact["id"] for contact in body["data"])
        following = body["pages"].get("next")
        if not following:
            break
        params = {"per_page": 3, "starting_after": following["starting_after"]}

    assert pages == 3
    assert sorted(seen) == sorted(created)


def test_per_page_is_capped_at_150(sandbox_api: Api) -> None:
    assert sandbox_api.get("/contacts", params={"per_page": 500}).json()["pages"]["per_page"] == 150


# -- search -----------------------------------------------------------------------------------


def test_search_does_not_see_a_new_contact_until_the_delay_has_passed(start_sandbox, manual_clock) -> None:
    clock = manual_clock
    _, api = start_sandbox(clock=clock, search_delay_s=0.3)
    contact = create_contact(api, email="new@example.com")
    query = {"query": {"field": "email", "operator": "=", "value": "new@example.com"}}

    before = api.post("/contacts/search", query).json()
    clock.advance(0.3)
    after = api.post("/contacts/search", query).json()

    assert before["total_count"] == 0
    assert api.get(f"/contacts/{contact['id']}").status_code == 200
    assert [hit["id"] for hit in after["data"]] == [contact["id"]]


def test_search_finds_a_new_contact_once_the_real_delay_has_passed(start_sandbox) -> None:
    _, api = start_sandbox(search_delay_s=0.3)
    contact = create_contact(api, external_id="poll-me")
    query = {"query": {"field": "external_id", "operator": "=", "value": "poll-me"}}

    deadline = time.monotonic() + 10
    hits: list[dict[str, Any]] = []
    while not hits and time.monotonic() < deadline:
        hits = api.post("/contacts/search", query).json()["data"]
        time.sleep(0.05)

    assert [hit["id"] for hit in hits] == [contact["id"]]


def test_search_supports_operators_groups_and_body_pagination(sandbox_api: Api) -> None:
    ids = {}
    for name, email, role in [("Ann", "ann@acme.com", "user"), ("Bob", "bob@acme.com", "lead"), ("Cy", "cy@other.org", "user")]:
        ids[name] = create_contact(sandbox_api, name=name, email=email, role=role)["id"]

    def search(query: dict[str, Any], **pagination: Any) -> dict[str, Any]:
        response = sandbox_api.post("/contacts/search", {"query": query, "pagination": pagination} if pagination else {"query": query})
        assert response.status_code == 200, response.text
        return response.json()

    def names(body: dict[str, Any]) -> set[str]:
        return {hit["name"] for hit in body["data"]}

    assert names(search({"field": "email", "operator": "~", "value": "@acme.com"})) == {"Ann", "Bob"}
    assert names(search({"field": "role", "operator": "!=", "value": "lead"})) == {"Ann", "Cy"}
    assert names(search({"field": "name", "operator": "IN", "value": ["ann", "Cy"]})) == {"Ann", "Cy"}
    assert names(search({"field": "id", "operator": "NIN", "value": [ids["Ann"]]})) == {"Bob", "Cy"}
    both = {
        "operator": "AND",
        "value": [{"field": "role", "operator": "=", "value": "user"}, {"field": "email", "operator": "~", "value": "acme"}],
    }
    assert names(search(both)) == {"Ann"}
    either = {
        "operator": "OR",
        "value": [{"field": "name", "operator": "=", "value": "Bob"}, {"field": "external_id", "operator": "=", "value": "x"}],
    }
    assert names(search(either)) == {"Bob"}
    first = search({"field": "email", "operator": "~", "value": "@"}, per_page=2)
    second = search({"field": "email", "operator": "~", "value": "@"}, per_page=2, starting_after=first["pages"]["next"]["starting_after"])
    assert names(first) | names(second) == {"Ann", "Bob", "Cy"}
    assert "next" not in second["pages"]


def test_a_malformed_search_is_a_400(sandbox_api: Api) -> None:
    unsupported = sandbox_api.post("/contacts/search", {"query": {"field": "created_at", "operator": "!=", "value": 1}})
    no_query = sandbox_api.post("/contacts/search", {})

    assert unsupported.status_code == 400
    assert no_query.status_code == 400


# -- data attributes ----------------------------------------------------------------------------


def test_data_attributes_list_standard_and_custom_ones_per_model(sandbox_api: Api) -> None:
    created = declare(sandbox_api, "zendesk_org", "string", description="Zendesk organisation").json()

    contact_attributes = sandbox_api.get("/data_attributes", params={"model": "contact"}).json()
    company_names = {a["name"] for a in sandbox_api.get("/data_attributes", params={"model": "company"}).json()["data"]}

    assert contact_attributes["type"] == "list"
    standard = {a["name"] for a in contact_attributes["data"] if not a["custom"]}
    assert {"name", "email", "phone"} <= standard
    assert created in contact_attributes["data"]
    assert created["full_name"] == "custom_attributes.zendesk_org"
    assert isinstance(created["id"], int)
    assert {"name", "plan", "size", "website", "industry"} <= company_names | {"plan"}
    assert "zendesk_org" not in company_names


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "email", "model": "contact", "data_type": "string"}, "standard attribute"),
        ({"name": "size", "model": "company", "data_type": "integer"}, "standard attribute"),
        ({"name": "tier", "model": "contact", "data_type": "mithril"}, "Data Type isn't an option"),
        ({"name": "tier", "model": "contact", "data_type": "string", "options": [{"value": "gold"}]}, "at least two options"),
        ({"name": "t!er", "model": "contact", "data_type": "string"}, "alphanumeric"),
        ({"name": "tier", "model": "ticket", "data_type": "string"}, "contact or company"),
    ],
)
def test_invalid_data_attributes_are_rejected_with_intercoms_messages(sandbox_api: Api, body: dict[str, Any], fragment: str) -> None:
    response = sandbox_api.post("/data_attributes", body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "parameter_invalid"
    assert fragment in error["message"]


def test_an_attribute_name_is_unique_across_models(sandbox_api: Api) -> None:
    assert declare(sandbox_api, "The One Ring", "string", model="company").status_code == 200

    same_model = declare(sandbox_api, "the one ring", "string", model="company")
    other_model = declare(sandbox_api, "The One Ring", "integer", model="contact")

    assert error_of(same_model)["message"].startswith("You already have 'The One Ring' in your company data")
    assert "new people data" in error_of(other_model)["message"]


def test_a_list_attribute_only_accepts_its_options(sandbox_api: Api) -> None:
    declared = declare(sandbox_api, "tier", "string", options=[{"value": "gold"}, {"value": "silver"}])
    contact = create_contact(sandbox_api, email="a@example.com")

    assert declared.json()["options"] == ["gold", "silver"]
    assert sandbox_api.put(f"/contacts/{contact['id']}", {"custom_attributes": {"tier": "bronze"}}).status_code == 400
    assert sandbox_api.put(f"/contacts/{contact['id']}", {"custom_attributes": {"tier": "gold"}}).status_code == 200


# -- companies ------------------------------------------------------------------------------------


def test_the_company_scroll_pages_through_every_company_one_open_scroll_at_a_time(start_sandbox, manual_clock) -> None:
    _, api = start_sandbox(clock=manual_clock)
    made = {create_company(api, f"c-{i}", name=f"Company {i}")["company_id"] for i in range(120)}

    first = api.get("/companies/scroll")
    second_scroll = api.get("/companies/scroll")
    seen = [c["company_id"] for c in first.json()["data"]]
    scroll_param = first.json()["scroll_param"]
    pages = [first.json()]
    while pages[-1]["data"]:
        page = api.get("/companies/scroll", params={"scroll_param": scroll_param})
        assert page.status_code == 200, page.text
        pages.append(page.json())
        seen += [c["company_id"] for c in page.json()["data"]]
    expired = api.get("/companies/scroll", params={"scroll_param": scroll_param})

    assert first.status_code == 200 and first.json()["type"] == "list" and first.json()["data"][0]["type"] == "company"
    assert [len(page["data"]) for page in pages] == [50, 50, 20, 0]
    assert sorted(seen) == sorted(made)
    assert second_scroll.status_code == 400 and error_of(second_scroll)["code"] == "scroll_exists"
    assert expired.status_code == 400, "the scroll expired with its empty last page"
    assert api.get("/companies/scroll").status_code == 200, "a new scroll opens once the last one ended"
    manual_clock.advance(61)
    assert api.get("/companies/scroll").status_code == 200, "an idle scroll expires after a minute"




def test_post_companies_upserts_by_company_id(sandbox_api: Api) -> None:
    declare(sandbox_api, "region", "string", model="company")
    created = create_company(sandbox_api, "zd-org-42", name="Acme", plan="pro", size=50, monthly_spend=99.9)
    updated = create_company(sandbox_api, "zd-org-42", name="Acme Ltd", custom_attributes={"region": "EMEA"})

    assert updated["id"] == created["id"]
    assert updated["name"] == "Acme Ltd"
    assert updated["size"] == 50
    assert updated["monthly_spend"] == 99
    assert updated["plan"]["name"] == "pro"
    assert updated["custom_attributes"] == {"region": "EMEA"}
    found = sandbox_api.get("/companies", params={"company_id": "zd-org-42"})
    assert found.json()["id"] == created["id"]
    assert sandbox_api.get("/companies").json()["total_count"] == 1


def test_company_lookups_updates_and_deletes(sandbox_api: Api) -> None:
    company = create_company(sandbox_api, "c-1", name="Acme")

    missing = sandbox_api.get("/companies", params={"company_id": "nope"})
    renamed = sandbox_api.put(f"/companies/{company['id']}", {"name": "Acme 2", "website": "https://acme.test"})
    immutable = sandbox_api.put(f"/companies/{company['id']}", {"company_id": "c-2"})
    undeclared = sandbox_api.put(f"/companies/{company['id']}", {"custom_attributes": {"region": "EMEA"}})
    deleted = sandbox_api.delete(f"/companies/{company['id']}")

    assert missing.status_code == 404
    assert error_of(missing)["code"] == "company_not_found"
    assert renamed.json()["website"] == "https://acme.test"
    assert immutable.status_code == 400
    assert undeclared.status_code == 400
    assert deleted.json() == {"id": company["id"], "object": "company", "deleted": True}
    assert sandbox_api.get(f"/companies/{company['id']}").status_code == 404


def test_attaching_and_detaching_a_company_moves_user_count(sandbox_api: Api) -> None:
    company = create_company(sandbox_api, "c-1", name="Acme")
    contact = create_contact(sandbox_api, email="a@example.com")

    attached = sandbox_api.post(f"/contacts/{contact['id']}/companies", {"id": company["id"]})
    again = sandbox_api.post(f"/contacts/{contact['id']}/companies", {"id": company["id"]})
    listed = sandbox_api.get(f"/contacts/{contact['id']}/companies").json()
    embedded = sandbox_api.get(f"/contacts/{contact['id']}").json()["companies"]
    detached = sandbox_api.delete(f"/contacts/{contact['id']}/companies/{company['id']}")

    assert attached.json()["user_count"] == 1
    assert again.json()["user_count"] == 1
    assert [c["id"] for c in listed["data"]] == [company["id"]]
    assert [c["id"] for c in embedded["data"]] == [company["id"]]
    assert detached.json()["user_count"] == 0
    assert sandbox_api.get(f"/contacts/{contact['id']}").json()["companies"]["data"] == []


def test_attaching_a_company_reports_what_is_wrong(sandbox_api: Api) -> None:
    contact = create_contact(sandbox_api, email="a@example.com")
    company = create_company(sandbox_api, "c-1")

    unspecified = sandbox_api.post(f"/contacts/{contact['id']}/companies", {"company_id": "c-1"})
    unknown_company = sandbox_api.post(f"/contacts/{contact['id']}/companies", {"id": "ffffffffffffffffffffffff"})
    unknown_contact = sandbox_api.post("/contacts/ffffffffffffffffffffffff/companies", {"id": company["id"]})

    assert (unspecified.status_code, error_of(unspecified)["code"]) == (400, "parameter_not_found")
    assert error_of(unspecified)["message"] == "company not specified"
    assert (unknown_company.status_code, error_of(unknown_company)["code"]) == (404, "company_not_found")
    assert (unknown_contact.status_code, error_of(unknown_contact)["code"]) == (404, "not_found")


# -- tags -----------------------------------------------------------------------------------------


def test_bulk_tagging_users_shows_on_each_contact(sandbox_api: Api) -> None:
    first = create_contact(sandbox_api, email="a@example.com")
    second = create_contact(sandbox_api, email="b@example.com")

    tag = sandbox_api.post("/tags", {"name": "VIP", "users": [{"id": first["id"]}, {"id": second["id"]}]}).json()

    assert tag == {"type": "tag", "id": tag["id"], "name": "VIP"}
    assert tag["id"].isdigit()
    for contact in (first, second):
        shown = sandbox_api.get(f"/contacts/{contact['id']}").json()["tags"]
        assert [t["id"] for t in shown["data"]] == [tag["id"]]
        assert shown["total_count"] == 1
        applied = sandbox_api.get(f"/contacts/{contact['id']}/tags").json()["data"]
        assert applied[0]["name"] == "VIP"
        assert applied[0]["applied_by"]["type"] == "admin"


def test_tag_names_are_case_insensitive_and_tags_can_be_renamed(sandbox_api: Api) -> None:
    tag = sandbox_api.post("/tags", {"name": "VIP"}).json()

    same = sandbox_api.post("/tags", {"name": "vip"}).json()
    renamed = sandbox_api.post("/tags", {"id": tag["id"], "name": "Very Important"}).json()

    assert same["id"] == tag["id"]
    assert renamed == {"type": "tag", "id": tag["id"], "name": "Very Important"}
    assert sandbox_api.get("/tags").json()["data"] == [renamed]
    assert sandbox_api.get(f"/tags/{tag['id']}").json() == renamed


def test_bulk_tagging_rejects_unknown_users_and_mixed_bodies_without_tagging_anyone(sandbox_api: Api) -> None:
    contact = create_contact(sandbox_api, email="a@example.com")
    company = create_company(sandbox_api, "c-1")

    unknown = sandbox_api.post("/tags", {"name": "VIP", "users": [{"id": contact["id"]}, {"id": "ffffffffffffffffffffffff"}]})
    by_email = sandbox_api.post("/tags", {"name": "VIP", "users": [{"email": "a@example.com"}]})
    mixed = sandbox_api.post("/tags", {"name": "VIP", "users": [{"id": contact["id"]}], "companies": [{"id": company["id"]}]})
    nameless = sandbox_api.post("/tags", {"test": "invalid"})

    assert (unknown.status_code, error_of(unknown)["code"]) == (404, "not_found")
    assert (by_email.status_code, error_of(by_email)["code"]) == (400, "parameter_invalid")
    assert (mixed.status_code, error_of(mixed)["message"]) == (400, "invalid tag parameters")
    assert nameless.status_code == 400
    assert sandbox_api.get(f"/contacts/{contact['id']}").json()["tags"]["data"] == []


def test_bulk_tagging_and_untagging_companies_by_either_id(sandbox_api: Api) -> None:
    first = create_company(sandbox_api, "c-1")
    second = create_company(sandbox_api, "c-2")

    tag = sandbox_api.post("/tags", {"name": "Enterprise", "companies": [{"id": first["id"]}, {"company_id": "c-2"}]}).json()
    sandbox_api.post("/tags", {"name": "Enterprise", "companies": [{"company_id": "c-1", "untag": True}]})
    unknown = sandbox_api.post("/tags", {"name": "Enterprise", "companies": [{"company_id": "nope"}]})

    assert sandbox_api.get(f"/companies/{first['id']}").json()["tags"]["tags"] == []
    assert sandbox_api.get(f"/companies/{second['id']}").json()["tags"]["tags"] == [{"type": "tag", "id": tag["id"], "name": "Enterprise"}]
    assert (unknown.status_code, error_of(unknown)["code"]) == (404, "company_not_found")


def test_deleting_a_tag_removes_it_from_every_contact_and_company(sandbox_api: Api) -> None:
    contact = create_contact(sandbox_api, email="a@example.com")
    company = create_company(sandbox_api, "c-1")
    tag = sandbox_api.post("/tags", {"name": "Legacy", "users": [{"id": contact["id"]}]}).json()
    sandbox_api.post("/tags", {"name": "Legacy", "companies": [{"id": company["id"]}]})

    deleted = sandbox_api.delete(f"/tags/{tag['id']}")

    assert deleted.status_code == 200
    assert sandbox_api.get(f"/tags/{tag['id']}").status_code == 404
    assert sandbox_api.get(f"/contacts/{contact['id']}").json()["tags"]["data"] == []
    assert sandbox_api.get(f"/companies/{company['id']}").json()["tags"]["tags"] == []


def test_tagging_one_contact_is_idempotent_and_can_be_undone(sandbox_api: Api) -> None:
    contact = create_contact(sandbox_api, email="a@example.com")
    tag = sandbox_api.post("/tags", {"name": "VIP"}).json()

    sandbox_api.post(f"/contacts/{contact['id']}/tags", {"id": tag["id"]})
    applied = sandbox_api.post(f"/contacts/{contact['id']}/tags", {"id": int(tag["id"])})
    unknown = sandbox_api.post(f"/contacts/{contact['id']}/tags", {"id": "999999"})

    assert applied.json()["id"] == tag["id"]
    assert sandbox_api.get(f"/contacts/{contact['id']}").json()["tags"]["total_count"] == 1
    assert unknown.status_code == 404
    assert sandbox_api.delete(f"/contacts/{contact['id']}/tags/{tag['id']}").status_code == 200
    assert sandbox_api.get(f"/contacts/{contact['id']}/tags").json()["data"] == []


# -- auth, rate limits, errors ---------------------------------------------------------------------


def test_a_missing_or_wrong_token_is_a_401_without_rate_limit_headers(sandbox_api: Api, sandbox_token: str) -> None:
    missing = requests.get(sandbox_api.base_url + "/me", timeout=10)
    wrong = requests.get(sandbox_api.base_url + "/me", headers={"Authorization": "Bearer nope"}, timeout=10)
    not_bearer = requests.get(sandbox_api.base_url + "/me", headers={"Authorization": f"Basic {sandbox_token}"}, timeout=10)

    for response in (missing, wrong, not_bearer):
        assert response.status_code == 401
        assert error_of(response) == {"code": "unauthorized", "message": "Access Token Invalid"}
        assert not any(name.lower().startswith("x-ratelimit") for name in response.headers)
    assert sandbox_api.get("/me").status_code == 200


def test_going_over_the_rate_limit_is_a_429_until_the_window_resets(start_sandbox, manual_clock) -> None:
    clock = manual_clock
    clock.now = 1_800_000_003.0
    _, api = start_sandbox(clock=clock, rate_limit=3)

    answers = [api.get("/admins") for _ in range(4)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in answers} == {"3"}
    assert {r.headers["X-RateLimit-Reset"] for r in answers} == {"1800000010"}
    refused = answers[-1]
    assert error_of(refused) == {"code": "rate_limit_exceeded", "message": "Exceeded rate limit of 3 in 10_seconds"}
    assert "Retry-After" not in refused.headers
    clock.advance(7)
    after_reset = api.get("/admins")
    assert after_reset.status_code == 200
    assert after_reset.headers["X-RateLimit-Remaining"] == "2"
    assert after_reset.headers["X-RateLimit-Reset"] == "1800000020"


def test_an_unlimited_sandbox_still_sends_rate_limit_headers(sandbox_api: Api) -> None:
    response = sandbox_api.get("/me")

    assert response.headers["X-RateLimit-Limit"] == "10000"
    assert int(response.headers["X-RateLimit-Reset"]) > time.time() - 1


def test_me_and_admins_describe_the_workspace(sandbox_api: Api) -> None:
    me = sandbox_api.get("/me").json()
    admins = sandbox_api.get("/admins").json()

    assert me["type"] == "admin"
    assert me["app"]["name"] == "deskmigrate sandbox"
    assert (me["app"]["region"], me["app"]["timezone"]) == ("US", "Europe/Dublin")
    assert admins["type"] == "admin.list"
    assert len(admins["admins"]) == 3
    assert "Migration Bot" in {admin["name"] for admin in admins["admins"]}
    assert me["id"] == admins["admins"][0]["id"]


def test_unknown_routes_wrong_methods_and_bad_json_are_intercom_errors(sandbox_api: Api) -> None:
    unknown = sandbox_api.get("/widgets")
    wrong_method = sandbox_api.call("PATCH", "/contacts")
    bad_json = sandbox_api.session.post(sandbox_api.base_url + "/contacts", data=b"{not json", timeout=10)

    assert (unknown.status_code, error_of(unknown)["code"]) == (404, "not_found")
    assert wrong_method.status_code == 404
    assert (bad_json.status_code, error_of(bad_json)["code"]) == (400, "bad_request")


def test_error_rate_answers_5xx_before_doing_anything(start_sandbox, sandbox_store: SandboxStore) -> None:
    _, api = start_sandbox(error_rate=1.0, seed=7)

    answers = [api.post("/contacts", {"email": f"u{i}@example.com"}) for i in range(12)]

    statuses = {r.status_code for r in answers}
    assert statuses <= {500, 502, 503}
    assert len(statuses) > 1
    server_error = next(r for r in answers if r.status_code == 500)
    assert error_of(server_error)["code"] == "server_error"
    gateway = next(r for r in answers if r.status_code in (502, 503))
    assert gateway.headers["Content-Type"].startswith("text/html")
    assert sandbox_store.objects("contacts") == []
    assert sandbox_store.count_requests(route="POST /contacts") == 12


def test_faults_replay_identically_with_the_same_seed(start_sandbox, tmp_path: Path) -> None:
    def statuses(path: Path) -> list[int]:
        _, api = start_sandbox(path=path, error_rate=0.5, seed=42)
        return [api.get("/admins").status_code for _ in range(20)]

    first, second = statuses(tmp_path / "a.db"), statuses(tmp_path / "b.db")

    assert first == second
    assert 200 in first and len(set(first)) > 1


def test_dropped_connections_raise_and_an_after_commit_drop_still_wrote(start_sandbox, sandbox_store: SandboxStore) -> None:
    _, api = start_sandbox(drop_rate=1.0, seed=3)

    for i in range(10):
        with pytest.raises(requests.ConnectionError):
            api.post("/contacts", {"external_id": f"drop-{i}"})
    with pytest.raises(requests.ConnectionError):
        api.get("/me")

    log = sandbox_store.request_log()
    writes = [entry for entry in log if entry["route"] == "POST /contacts"]
    assert {entry["dropped"] for entry in writes} == {"before", "after"}
    assert all(entry["status"] is None for entry in writes if entry["dropped"] == "before")
    assert all(entry["status"] == 200 for entry in writes if entry["dropped"] == "after")
    assert len(sandbox_store.objects("contacts")) == sum(1 for entry in writes if entry["dropped"] == "after") > 0
    assert log[-1]["route"] == "GET /me" and log[-1]["dropped"] == "before"


def test_the_request_log_counts_writes_by_route(sandbox_api: Api, sandbox_store: SandboxStore) -> None:
    contact = create_contact(sandbox_api, email="a@example.com")
    sandbox_api.put(f"/contacts/{contact['id']}", {"name": "A"})
    sandbox_api.get(f"/contacts/{contact['id']}")
    sandbox_api.post("/contacts/search", {"query": {"field": "email", "operator": "=", "value": "a@example.com"}})
    sandbox_api.post("/contacts", {"email": "a@example.com"})

    assert sandbox_store.count_requests(writes_only=True) == 3
    assert sandbox_store.count_requests(route="POST /contacts") == 2
    assert sandbox_store.count_requests(route="PUT /contacts/{id}") == 1
    assert sandbox_store.count_requests(method="get") == 1
    assert [entry["status"] for entry in sandbox_store.request_log()] == [200, 200, 200, 200, 409]
    assert sandbox_store.request_log()[1]["path"] == f"/contacts/{contact['id']}"


# -- persistence ------------------------------------------------------------------------------------


def test_state_survives_a_restart_on_the_same_file(start_sandbox, sandbox_path: Path) -> None:
    server, api = start_sandbox()
    declare(api, "tier", "string")
    contact = create_contact(api, email="a@example.com", custom_attributes={"tier": "gold"})
    company = create_company(api, "c-1", name="Acme")
    api.post(f"/contacts/{contact['id']}/companies", {"id": company["id"]})
    app_id = api.get("/me").json()["app"]["id_code"]
    server.stop()

    _, reopened = start_sandbox()

    again = reopened.get(f"/contacts/{contact['id']}").json()
    assert again["custom_attributes"] == {"tier": "gold"}
    assert [c["id"] for c in again["companies"]["data"]] == [company["id"]]
    assert reopened.post("/contacts", {"email": "a@example.com"}).status_code == 409
    assert reopened.get("/me").json()["app"]["id_code"] == app_id
    assert stat.S_IMODE(os.stat(sandbox_path).st_mode) == 0o600


def test_a_write_answered_before_kill_9_is_on_disk(sandbox_path: Path, sandbox_token: str) -> None:
    command = [
        sys.executable,
        "-m",
        "deskmigrate.sandbox",
        "--path",
        str(sandbox_path),
        "--token",
        sandbox_token,
        "--search-delay-s",
        "0",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        base_url = None
        assert process.stderr is not None
        for line in process.stderr:
            assert sandbox_token not in line
            found = re.search(r"sandbox ready at (http://\S+)", line)
            if found:
                base_url = found.group(1)
                break
        assert base_url is not None
        created = requests.post(
            base_url + "/contacts",
            json={"external_id": "survivor", "email": "s@example.com"},
            headers={"Authorization": f"Bearer {sandbox_token}"},
            timeout=10,
        )
        assert created.status_code == 200
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    with SandboxStore(sandbox_path) as store:
        assert store.get("contacts", created.json()["id"])["external_id"] == "survivor"


def test_put_raw_changes_an_object_behind_the_apis_back(sandbox_api: Api, sandbox_store: SandboxStore) -> None:
    contact = create_contact(sandbox_api, email="a@example.com", name="Original")
    tag = sandbox_api.post("/tags", {"name": "VIP", "users": [{"id": contact["id"]}]}).json()

    changed = {**sandbox_store.get("contacts", contact["id"]), "name": "Edited in the UI"}
    sandbox_store.put_raw("contacts", changed)

    shown = sandbox_api.get(f"/contacts/{contact['id']}").json()
    assert shown["name"] == "Edited in the UI"
    assert [t["id"] for t in shown["tags"]["data"]] == [tag["id"]]
    assert sandbox_store.objects("tags") == [tag]
    assert sandbox_store.get("contacts", "nope") is None


# -- the 2.15 OpenAPI contract -------------------------------------------------------------------


def spec_properties(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """Property names of a schema, following $ref and allOf."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= spec_properties(spec, part)
    return names


@pytest.mark.skipif(not SPEC_PATH.exists(), reason="the Intercom OpenAPI reference is not beside the repository")
def test_every_returned_key_is_a_property_of_the_spec_schema(sandbox_api: Api) -> None:
    spec = yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))

    def schema(name: str) -> set[str]:
        return spec_properties(spec, {"$ref": f"#/components/schemas/{name}"})

    declare(sandbox_api, "tier", "string", model="company")
    company = create_company(
        sandbox_api, "c-1", name="Acme", plan="pro", size=3, website="https://acme.test", industry="Tools", custom_attributes={"tier": "a"}
    )
    contact = create_contact(sandbox_api, email="a@example.com", external_id="x", avatar="https://img.test/a.png")
    sandbox_api.post(f"/contacts/{contact['id']}/companies", {"id": company["id"]})
    tag = sandbox_api.post("/tags", {"name": "VIP", "users": [{"id": contact["id"]}]})
    sandbox_api.post("/tags", {"name": "VIP", "companies": [{"id": company["id"]}]})
    full_contact = sandbox_api.get(f"/contacts/{contact['id']}").json()
    full_company = sandbox_api.get(f"/companies/{company['id']}").json()
    applied_tag = sandbox_api.get(f"/contacts/{contact['id']}/tags").json()["data"][0]
    attributes = sandbox_api.get("/data_attributes").json()["data"]
    error = sandbox_api.post("/contacts", {"email": "a@example.com"}).json()
    me = sandbox_api.get("/me").json()

    checks: list[tuple[str, dict[str, Any], set[str]]] = [
        ("contact", full_contact, schema("contact")),
        ("contact.location", full_contact["location"], schema("contact_location")),
        ("contact.tags item", full_contact["tags"]["data"][0], schema("addressable_list")),
        ("contact.companies item", full_contact["companies"]["data"][0], schema("company_data")),
        ("company", full_company, schema("company")),
        ("company.tags item", full_company["tags"]["tags"][0], schema("tag_basic")),
        ("tag", tag.json(), schema("tag")),
        ("applied tag", applied_tag, schema("tag")),
        ("error", error, schema("error")),
        ("error item", error["errors"][0], set(spec["components"]["schemas"]["error"]["properties"]["errors"]["items"]["properties"])),
        ("admin", sandbox_api.get("/admins").json()["admins"][0], schema("admin")),
        ("me", me, schema("admin_with_app")),
        ("me.app", me["app"], schema("app")),
        ("contact_deleted", sandbox_api.delete(f"/contacts/{contact['id']}").json(), schema("contact_deleted")),
        ("deleted company", sandbox_api.delete(f"/companies/{company['id']}").json(), schema("deleted_company_object")),
    ]
    checks += [(f"data_attribute {a['name']}", a, schema("data_attribute")) for a in attributes]
    for label, returned, allowed in checks:
        assert set(returned) <= allowed, f"{label} has keys outside the spec: {sorted(set(returned) - allowed)}"
