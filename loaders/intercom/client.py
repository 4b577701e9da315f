"""The Intercom REST client: thin typed calls, one per endpoint, over the HTTP side (transport.py); it never decides
business logic (adopting a 409 is the loader's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from deskmigrate.core.errors import AuthError, LoadError
from deskmigrate.loaders.intercom.transport import (
    CONVERSATION_ATTRIBUTES_API_VERSION,
    DEFAULT_VERSION,
    MAX_CONTACTS_PER_PAGE,
    ArchivedContactConflictError,
    ClientStats,
    IntercomHttp,
    names_field,
    version_tuple,
)

__all__ = ["DEFAULT_VERSION", "ArchivedContactConflictError", "ClientStats", "IntercomClient", "names_field", "version_tuple"]


def _segment(value: str | int) -> str:
    """One URL path segment: ids and external ids may hold '/', spaces or '#'."""
    return quote(str(value), safe="")


class IntercomClient(IntercomHttp):
    """Every call to Intercom goes through here."""

    # --- workspace ------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/me")

    def token_workspaces(self) -> list[tuple[int, str | None, str | None]]:
        """`GET /me` with each token: (its position, its workspace's `app.id_code`, the workspace's name), in token order.

        Private apps of one workspace answer with the same `app.id_code` (the spec's `admin_with_app`). A token Intercom
        refuses raises AuthError naming its position, never its value.
        """
        found: list[tuple[int, str | None, str | None]] = []
        for position in range(1, self.token_count + 1):
            single = self.for_token(position)
            try:
                me = single.request("GET", "/me")
            except AuthError as error:
                raise AuthError(f"token {position} of target.tokens: {error}", status=error.status, code=error.code,
                                request_id=error.request_id, excerpt=error.excerpt) from None
            app = me.get("app") if isinstance(me.get("app"), dict) else {}
            found.append((position, app.get("id_code"), app.get("name")))
        return found

    def admins(self) -> dict[str, Any]:
        return self.request("GET", "/admins")

    def list_data_attributes(self, model: str, *, include_archived: bool = False) -> dict[str, Any]:
        params = {"model": model, "include_archived": "true"} if include_archived else {"model": model}
        return self.request("GET", "/data_attributes", params=params)

    def unarchive_data_attribute(self, attribute_id: str) -> dict[str, Any]:
        return self.request("PUT", f"/data_attributes/{attribute_id}", json={"archived": False})

    def create_data_attribute(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/data_attributes", json=body)

    @property
    def version(self) -> str:
        return self._version

    @property
    def creates_conversation_attributes(self) -> bool:
        """Whether the pinned Intercom-Version can create conversation attributes by API (2.16+)."""
        return version_tuple(self._version) >= CONVERSATION_ATTRIBUTES_API_VERSION

    def list_conversation_attributes(self) -> list[dict[str, Any]]:
        """The workspace's conversation attributes: `GET /conversations/attributes` (2.16+) or `/data_attributes?model=conversation`."""
        if self.creates_conversation_attributes:
            return list(self.request("GET", "/conversations/attributes").get("data") or [])
        return list(self.list_data_attributes("conversation").get("data") or [])

    def create_conversation_attribute(self, body: dict[str, Any]) -> dict[str, Any]:
        """2.16+ only. Not idempotent: a lost answer is looked up by name before the create is sent again."""
        return self.request("POST", "/conversations/attributes", json=body, idempotent=False)

    # --- companies ------------------------------------------------------------------------------

    def upsert_company(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /companies creates or updates by `company_id`, so repeating it is harmless."""
        return self.request("POST", "/companies", json=body, idempotent=True)

    def get_company(self, company_id: str) -> dict[str, Any]:
        return self.request("GET", f"/companies/{_segment(company_id)}", route="/companies/{id}")

    def find_company(self, company_id: str) -> dict[str, Any] | None:
        """The company with this `company_id` (our source id), or None."""
        found = self.get_or_none("/companies", params={"company_id": company_id}, route="/companies?company_id")
        if found is None or found.get("type") != "list":
            return found
        # the 2.15 spec documents a list here; the live API answers with the company itself
        return next((item for item in found.get("data", []) if item.get("company_id") == company_id), None)

    def scroll_companies(self) -> Iterator[list[dict[str, Any]]]:
        """Every company of the workspace, a page at a time, through `GET /companies/scroll` (one scroll open per app; it
        expires after a minute unused, and ends with an empty page). A failed page fails the scroll: it cannot resume.

        Never repeated: every page is asked for with the same `scroll_param`, so a page whose answer was lost would be
        skipped without a trace by a retry (and a repeated first call meets its own open scroll)."""
        params: dict[str, Any] = {}
        while True:
            found = self.request("GET", "/companies/scroll", params=dict(params), route="/companies/scroll", idempotent=False)
            companies = list(found.get("data") or found.get("companies") or [])
            if not companies:
                return
            yield companies
            scroll_param = found.get("scroll_param")
            if not scroll_param:
                return
            params["scroll_param"] = scroll_param

    def update_company(self, company_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/companies/{_segment(company_id)}", json=body, route="/companies/{id}")

    def delete_company(self, company_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/companies/{_segment(company_id)}", route="/companies/{id}")

    # --- contacts -------------------------------------------------------------------------------

    def create_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        """Not idempotent: a dropped create raises AmbiguousWriteError, a duplicate a ConflictError naming it."""
        return self.request("POST", "/contacts", json=body, idempotent=False)

    def update_contact(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/contacts/{_segment(contact_id)}", json=body, route="/contacts/{id}")

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        return self.request("GET", f"/contacts/{_segment(contact_id)}", route="/contacts/{id}")

    def delete_contact(self, contact_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/contacts/{_segment(contact_id)}", route="/contacts/{id}")

    def unarchive_contact(self, contact_id: str) -> dict[str, Any]:
        return self.request("POST", f"/contacts/{_segment(contact_id)}/unarchive", idempotent=True, route="/contacts/{id}/unarchive")

    def find_contact_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        """The user with this external id, or None (Intercom 2.14+; leads are not found this way)."""
        return self.get_or_none(
            f"/contacts/find_by_external_id/{_segment(external_id)}", route="/contacts/find_by_external_id/{external_id}"
        )

    def attach_company(self, contact_id: str, company_id: str) -> dict[str, Any]:
        """Attach by the company's Intercom id (not its company_id); attaching twice changes nothing."""
        path = f"/contacts/{_segment(contact_id)}/companies"
        return self.request("POST", path, json={"id": company_id}, idempotent=True, route="/contacts/{id}/companies")

    def detach_company(self, contact_id: str, company_id: str) -> dict[str, Any]:
        path = f"/contacts/{_segment(contact_id)}/companies/{_segment(company_id)}"
        return self.request("DELETE", path, route="/contacts/{id}/companies/{id}")

    def list_contact_tags(self, contact_id: str) -> list[dict[str, Any]]:
        """Every tag of a contact, with names (a contact object embeds only the first 10, without names)."""
        return list(self.request("GET", f"/contacts/{_segment(contact_id)}/tags", route="/contacts/{id}/tags").get("data") or [])

    def iter_contact_companies(self, contact_id: str, per_page: int = 50) -> Iterator[dict[str, Any]]:
        """Every company a contact is attached to (a contact object embeds only the first 10), page by page."""
        yield from self._pages(f"/contacts/{_segment(contact_id)}/companies", {"per_page": per_page}, "/contacts/{id}/companies")

    def _pages(self, path: str, params: dict[str, Any], route: str) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            found = self.request("GET", path, params={**params, "page": page}, route=route)
            yield from found.get("data") or []
            pages = found.get("pages") or {}
            if page >= int(pages.get("total_pages") or 1) or not found.get("data"):
                return
            page += 1

    def tagged(self, kind: str, tag_id: str) -> tuple[int, set[str]]:
        """How many contacts, companies, conversations or tickets carry a tag, and the ids of the first page of them.

        Contacts, conversations and tickets are found by search, which is eventually consistent (a tagging made in the
        last minutes may be missing); companies by `GET /companies?tag_id=`, which is not.
        """
        if kind == "companies":
            found = self.request("GET", "/companies", params={"tag_id": tag_id, "per_page": 60}, route="/companies?tag_id")
            items = found.get("data") or []
        elif kind == "contacts":
            query = {"field": "tag_id", "operator": "=", "value": tag_id}
            found = self.request("POST", "/contacts/search", json={"query": query, "pagination": {"per_page": MAX_CONTACTS_PER_PAGE}},
                                 idempotent=True)
            items = found.get("data") or []
        else:
            query = {"field": "tag_ids", "operator": "=", "value": tag_id}
            found = self.request("POST", f"/{kind}/search", json={"query": query, "pagination": {"per_page": 150}}, idempotent=True)
            items = found.get(kind) or []
        ids = {str(item.get("id")) for item in items if isinstance(item, dict)}
        return int(found.get("total_count") or len(ids)), ids

    def iter_contacts(self, per_page: int = MAX_CONTACTS_PER_PAGE) -> Iterator[dict[str, Any]]:
        """Every contact, following `pages.next.starting_after`; a repeated cursor is an error, not a loop."""
        for page in self.contact_pages(per_page):
            yield from page.get("data", [])

    def contact_pages(self, per_page: int = MAX_CONTACTS_PER_PAGE) -> Iterator[dict[str, Any]]:
        """`GET /contacts` page by page (each with its `total_count`), following `pages.next.starting_after`."""
        params: dict[str, Any] = {"per_page": max(1, min(per_page, MAX_CONTACTS_PER_PAGE))}
        seen_cursors: set[str] = set()
        while True:
            page = self.request("GET", "/contacts", params=dict(params))
            yield page
            next_page = (page.get("pages") or {}).get("next")
            cursor = next_page.get("starting_after") if isinstance(next_page, dict) else None
            if not cursor:
                return
            if cursor in seen_cursors:
                raise LoadError(f"GET /contacts returned the cursor {cursor!r} twice; stopping instead of looping")
            seen_cursors.add(cursor)
            params["starting_after"] = cursor

    # --- tags -----------------------------------------------------------------------------------

    def list_tags(self) -> dict[str, Any]:
        return self.request("GET", "/tags")

    def create_tag(self, name: str) -> dict[str, Any]:
        """POST /tags with a known name returns that tag (names are case-insensitive), so it is idempotent."""
        return self.request("POST", "/tags", json={"name": name}, idempotent=True)

    def tag_contacts(self, name: str, contact_ids: list[str]) -> dict[str, Any]:
        """Tag contacts by Intercom id in one call (the tag is created if missing)."""
        body = {"name": name, "users": [{"id": contact_id} for contact_id in contact_ids]}
        return self.request("POST", "/tags", json=body, idempotent=True)

    def tag_companies(self, name: str, company_ids: list[str]) -> dict[str, Any]:
        """Tag companies by Intercom id in one call (the tag is created if missing)."""
        body = {"name": name, "companies": [{"id": company_id} for company_id in company_ids]}
        return self.request("POST", "/tags", json=body, idempotent=True)

    def untag_companies(self, name: str, company_ids: list[str]) -> dict[str, Any]:
        body = {"name": name, "companies": [{"id": company_id, "untag": True} for company_id in company_ids]}
        return self.request("POST", "/tags", json=body, idempotent=True)

    def untag_contact(self, contact_id: str, tag_id: str) -> dict[str, Any]:
        path = f"/contacts/{_segment(contact_id)}/tags/{_segment(tag_id)}"
        return self.request("DELETE", path, route="/contacts/{id}/tags/{id}")

    def delete_tag(self, tag_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/tags/{_segment(tag_id)}", route="/tags/{id}")

    # --- help center ----------------------------------------------------------------------------

    def list_help_centers(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/help_center/help_centers").get("data") or [])

    def create_collection(self, body: dict[str, Any]) -> dict[str, Any]:
        """Not idempotent: a lost answer is reconciled by listing collections before any re-send."""
        return self.request("POST", "/help_center/collections", json=body, idempotent=False)

    def update_collection(self, collection_id: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/help_center/collections/{_segment(collection_id)}"
        return self.request("PUT", path, json=body, route="/help_center/collections/{id}")

    def get_collection(self, collection_id: str) -> dict[str, Any]:
        return self.request("GET", f"/help_center/collections/{_segment(collection_id)}", route="/help_center/collections/{id}")

    def delete_collection(self, collection_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/help_center/collections/{_segment(collection_id)}", route="/help_center/collections/{id}")

    def create_article(self, body: dict[str, Any]) -> dict[str, Any]:
        """Not idempotent: a lost answer is reconciled by listing articles before any re-send."""
        return self.request("POST", "/articles", json=body, idempotent=False)

    def update_article(self, article_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/articles/{_segment(article_id)}", json=body, route="/articles/{id}")

    def get_article(self, article_id: str) -> dict[str, Any]:
        return self.request("GET", f"/articles/{_segment(article_id)}", route="/articles/{id}")

    def delete_article(self, article_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/articles/{_segment(article_id)}", route="/articles/{id}")

    def iter_pages(self, path: str, per_page: int = 50) -> Iterator[dict[str, Any]]:
        """Every item of a page-numbered list (`/articles`, `/help_center/collections`)."""
        for found in self.numbered_pages(path, per_page):
            yield from found.get("data") or []

    def numbered_pages(self, path: str, per_page: int = 50) -> Iterator[dict[str, Any]]:
        """A page-numbered list (`/articles`, `/help_center/collections`) page by page, each with its `total_count`."""
        page = 1
        while True:
            found = self.request("GET", path, params={"page": page, "per_page": per_page})
            yield found
            total_pages = int((found.get("pages") or {}).get("total_pages") or 1)
            if page >= total_pages or not found.get("data"):
                return
            page += 1

    # --- conversations --------------------------------------------------------------------------

    def create_conversation(self, body: dict[str, Any]) -> dict[str, Any]:
        """Started by a contact; answers with the message (its `conversation_id`). Not idempotent: a lost answer is reconciled."""
        return self.request("POST", "/conversations", json=body, idempotent=False)

    def reply_to_conversation(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A user reply, admin reply or note (with `created_at`); answers with the whole conversation."""
        path = f"/conversations/{_segment(conversation_id)}/reply"
        return self.request("POST", path, json=body, idempotent=False, route="/conversations/{id}/reply")

    def manage_conversation(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Close, open, snooze or assign (these parts take no `created_at`)."""
        path = f"/conversations/{_segment(conversation_id)}/parts"
        return self.request("POST", path, json=body, idempotent=False, route="/conversations/{id}/parts")

    def update_conversation(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/conversations/{_segment(conversation_id)}", json=body, route="/conversations/{id}")

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        """The conversation with its 500 most recent parts (Intercom's hard limit)."""
        return self.request("GET", f"/conversations/{_segment(conversation_id)}", route="/conversations/{id}")

    def delete_conversation(self, conversation_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/conversations/{_segment(conversation_id)}", route="/conversations/{id}")

    def tag_conversation(self, conversation_id: str, tag_id: str, admin_id: str) -> dict[str, Any]:
        """Tagging twice changes nothing, so it may be repeated."""
        path = f"/conversations/{_segment(conversation_id)}/tags"
        return self.request("POST", path, json={"id": tag_id, "admin_id": admin_id}, idempotent=True, route="/conversations/{id}/tags")

    def search_conversations(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """First page of a conversation search (eventually consistent: recent writes may be missing)."""
        found = self.request("POST", "/conversations/search", json={"query": query, "pagination": {"per_page": 150}}, idempotent=True)
        return list(found.get("conversations") or [])

    def untag_conversation(self, conversation_id: str, tag_id: str, admin_id: str) -> dict[str, Any]:
        path = f"/conversations/{_segment(conversation_id)}/tags/{_segment(tag_id)}"
        return self.request("DELETE", path, json={"admin_id": admin_id}, route="/conversations/{id}/tags/{id}")

    # --- tickets --------------------------------------------------------------------------------

    def list_ticket_types(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/ticket_types").get("data") or [])

    def create_ticket_type(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/ticket_types", json=body, idempotent=False)

    def archive_ticket_type(self, ticket_type_id: str) -> dict[str, Any]:
        return self.request("PUT", f"/ticket_types/{_segment(ticket_type_id)}", json={"archived": True}, route="/ticket_types/{id}")

    def create_ticket_type_attribute(self, ticket_type_id: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/ticket_types/{_segment(ticket_type_id)}/attributes"
        return self.request("POST", path, json=body, idempotent=False, route="/ticket_types/{id}/attributes")

    def list_ticket_states(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/ticket_states").get("data") or [])

    def create_ticket(self, body: dict[str, Any]) -> dict[str, Any]:
        """Backdated with `created_at`, exactly one contact; answers with the ticket. Not idempotent: a lost answer is reconciled."""
        return self.request("POST", "/tickets", json=body, idempotent=False)

    def reply_to_ticket(self, ticket_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A user reply, admin reply or note; answers with the new ticket part."""
        path = f"/tickets/{_segment(ticket_id)}/reply"
        return self.request("POST", path, json=body, idempotent=False, route="/tickets/{id}/reply")

    def update_ticket(self, ticket_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/tickets/{_segment(ticket_id)}", json=body, route="/tickets/{id}")

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        return self.request("GET", f"/tickets/{_segment(ticket_id)}", route="/tickets/{id}")

    def delete_ticket(self, ticket_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/tickets/{_segment(ticket_id)}", route="/tickets/{id}")

    def tag_ticket(self, ticket_id: str, tag_id: str, admin_id: str) -> dict[str, Any]:
        path = f"/tickets/{_segment(ticket_id)}/tags"
        return self.request("POST", path, json={"id": tag_id, "admin_id": admin_id}, idempotent=True, route="/tickets/{id}/tags")

    def untag_ticket(self, ticket_id: str, tag_id: str, admin_id: str) -> dict[str, Any]:
        path = f"/tickets/{_segment(ticket_id)}/tags/{_segment(tag_id)}"
        return self.request("DELETE", path, json={"admin_id": admin_id}, route="/tickets/{id}/tags/{id}")

    def search_tickets(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """First page of a ticket search (eventually consistent, like conversation search)."""
        found = self.request("POST", "/tickets/search", json={"query": query, "pagination": {"per_page": 150}}, idempotent=True)
        return list(found.get("tickets") or [])
