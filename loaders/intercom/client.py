"""The Intercom REST client: one pooled session, a shared rate limiter, thin typed calls, errors from the core tree."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any
from urllib.parse import quote

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter

from deskmigrate.core.errors import AuthError, ConflictError, LoadError, RejectedError
from deskmigrate.core.http import (
    ErrorDetails,
    RetryPolicy,
    RetryStats,
    WindowRateLimiter,
    call_with_retries,
    response_excerpt,
)

log = logging.getLogger(__name__)

DEFAULT_VERSION = "2.15"
# Conversation data attributes can be created by API from 2.16 (`POST /conversations/attributes`), which also moves
# their listing there (`GET /data_attributes?model=conversation` answers 422); before that they are made in the UI.
CONVERSATION_ATTRIBUTES_API_VERSION = (2, 16)
MAX_CONTACTS_PER_PAGE = 150
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENT_METHODS = READ_METHODS | {"PUT", "DELETE"}

# 409 on POST /contacts names the duplicate: "A contact matching those details already exists with id=<id>",
# or "An archived contact matching those details already exists with id=<id>" (https://github.com/intercom/Intercom-OpenAPI/pull/543).
_EXISTING_ID = re.compile(r"already exists with id=([A-Za-z0-9_-]+)")
_ARCHIVED_DUPLICATE = re.compile(r"\barchived contact matching\b", re.IGNORECASE)


class ArchivedContactConflictError(ConflictError):
    """409: the matching contact is archived; unarchive `existing_id` before updating it."""


def _user_agent() -> str:
    try:
        return f"deskmigrate/{package_version('deskmigrate')}"
    except PackageNotFoundError:
        return "deskmigrate/unknown"


def version_tuple(version: str) -> tuple[int, ...]:
    """`"2.16"` → `(2, 16)`; a version that is not numbers (`Unstable`) sorts after every numbered one."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (99,)


def _segment(value: str | int) -> str:
    """One URL path segment: ids and external ids may hold '/', spaces or '#'."""
    return quote(str(value), safe="")


def _route_template(path: str) -> str:
    """A path with its id-like segments (any with a digit) replaced by {id}, for stats by route."""
    return "/".join("{id}" if any(ch.isdigit() for ch in part) else part for part in path.split("?")[0].split("/"))


def intercom_error_details(response: requests.Response) -> ErrorDetails:
    """Intercom's `error.list`: first `errors[].code`/`message`, `request_id` (body, else X-Request-Id), 409's existing id."""
    header_request_id = response.headers.get("X-Request-Id")
    try:
        body = response.json()
    except ValueError:
        return ErrorDetails(request_id=header_request_id)
    if not isinstance(body, dict):
        return ErrorDetails(request_id=header_request_id)
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    message = first.get("message")
    request_id = body.get("request_id")
    found = _EXISTING_ID.search(message) if isinstance(message, str) else None
    return ErrorDetails(
        code=code if isinstance(code, str) else None,
        message=message if isinstance(message, str) else None,
        request_id=request_id if isinstance(request_id, str) and request_id else header_request_id,
        existing_id=found.group(1) if found else None,
    )


def names_field(error: LoadError, name: str) -> bool:
    """Whether an Intercom error is about one request field: `errors[].field` when the body says, else its message."""
    try:
        body = json.loads(error.excerpt or "")
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and any(isinstance(e, dict) and e.get("field") == name for e in errors):
        return True
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", str(error), re.IGNORECASE) is not None


@dataclass(frozen=True)
class ClientStats:
    """What a client has done so far: HTTP calls sent (retries included), writes, 429s, retries, limiter waits."""

    calls_by_method: dict[str, int] = field(default_factory=dict)
    calls_by_route: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    rate_limited: int = 0
    retries: int = 0
    waited_s: float = 0.0

    @property
    def calls(self) -> int:
        return sum(self.calls_by_method.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the run report."""
        return {
            "calls": self.calls,
            "writes": self.writes,
            "rate_limited": self.rate_limited,
            "retries": self.retries,
            "waited_s": round(self.waited_s, 3),
            "calls_by_method": dict(self.calls_by_method),
            "calls_by_route": dict(self.calls_by_route),
        }


class IntercomClient:
    """Every call to Intercom goes through here; it never decides business logic (adopting a 409 is the loader's)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        version: str = DEFAULT_VERSION,
        *,
        timeout_s: float = 30.0,
        limiter: WindowRateLimiter | None = None,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        pool_size: int = 16,
    ) -> None:
        if not token:
            raise AuthError("no Intercom access token given")
        self._base_url = base_url.rstrip("/")
        self._token = SecretStr(token)
        self._version = version
        self._timeout_s = timeout_s
        self._limiter = limiter or WindowRateLimiter.for_intercom()
        self._policy = policy or RetryPolicy()
        self._session = session or self._new_session(pool_size)
        self._owns_session = session is None
        self._headers = {
            "Intercom-Version": version,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _user_agent(),
        }
        self._retry_stats = RetryStats()
        self._lock = threading.Lock()
        self._calls_by_method: Counter[str] = Counter()
        self._calls_by_route: Counter[str] = Counter()

    @staticmethod
    def _new_session(pool_size: int) -> requests.Session:
        session = requests.Session()
        # retries belong to call_with_retries, which knows which calls are safe to repeat
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def __repr__(self) -> str:
        return f"IntercomClient(base_url={self._base_url!r}, version={self._version!r})"

    def __enter__(self) -> IntercomClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def limiter(self) -> WindowRateLimiter:
        return self._limiter

    @property
    def stats(self) -> ClientStats:
        with self._lock:
            by_method = dict(self._calls_by_method)
            by_route = dict(self._calls_by_route)
        return ClientStats(
            calls_by_method=by_method,
            calls_by_route=by_route,
            writes=sum(count for method, count in by_method.items() if method not in READ_METHODS),
            rate_limited=self._retry_stats.rate_limited,
            retries=self._retry_stats.retries,
            waited_s=self._retry_stats.waited_s,
        )

    def stats_dict(self) -> dict[str, Any]:
        return self.stats.as_dict()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """Send one call (retried per the policy) and return its JSON object; failures raise core LoadErrors."""
        method = method.upper()
        safe_to_repeat = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = f"{self._base_url}{path}"
        route_key = f"{method} {route or _route_template(path)}"
        secrets = [self._token.get_secret_value()]
        headers = {**self._headers, "Authorization": f"Bearer {secrets[0]}"}

        def send() -> requests.Response:
            with self._lock:
                self._calls_by_method[method] += 1
                self._calls_by_route[route_key] += 1
            return self._session.request(method, url, json=json, params=params, headers=headers, timeout=self._timeout_s)

        try:
            response = call_with_retries(
                send,
                policy=self._policy,
                limiter=self._limiter,
                idempotent=safe_to_repeat,
                describe=f"{method} {path}",
                details=intercom_error_details,
                secrets=secrets,
                stats=self._retry_stats,
            )
        except ConflictError as exc:
            if _ARCHIVED_DUPLICATE.search(str(exc)):
                raise ArchivedContactConflictError(
                    str(exc),
                    existing_id=exc.existing_id,
                    status=exc.status,
                    code=exc.code,
                    request_id=exc.request_id,
                    excerpt=exc.excerpt,
                ) from None
            raise
        return self._json_object(response, f"{method} {path}", secrets)

    @staticmethod
    def _json_object(response: requests.Response, describe: str, secrets: list[str]) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            raise LoadError(
                f"{describe} → HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
                request_id=response.headers.get("X-Request-Id"),
                excerpt=response_excerpt(response, secrets),
            ) from None
        return body if isinstance(body, dict) else {"type": "list", "data": body}

    def _get_or_none(self, path: str, *, route: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        try:
            return self.request("GET", path, params=params, route=route)
        except RejectedError as exc:
            if exc.status == 404:
                return None
            raise

    # --- workspace ------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/me")

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
        found = self._get_or_none("/companies", params={"company_id": company_id}, route="/companies?company_id")
        if found is None or found.get("type") != "list":
            return found
        # the 2.15 spec documents a list here; the live API answers with the company itself
        return next((item for item in found.get("data", []) if item.get("company_id") == company_id), None)

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
        return self._get_or_none(
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
        params: dict[str, Any] = {"per_page": max(1, min(per_page, MAX_CONTACTS_PER_PAGE))}
        seen_cursors: set[str] = set()
        while True:
            page = self.request("GET", "/contacts", params=dict(params))
            yield from page.get("data", [])
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
        page = 1
        while True:
            found = self.request("GET", path, params={"page": page, "per_page": per_page})
            yield from found.get("data") or []
            total_pages = int((found.get("pages") or {}).get("total_pages") or 1)
            if page >= total_pages:
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
