"""A fake Help Scout on 127.0.0.1: Mailbox API 2.0 under /v2 and Docs API v1 under /v1, in Help Scout's response shapes.

Usage:
    with FakeHelpScout() as fake:
        fake.api_root, fake.docs_root          # http://127.0.0.1:<port>/v2, .../v1
        fake.page_size = 2                     # HAL and Docs lists in pages of 2 (Help Scout: 25 conversations, 50 others)
        fake.fail_next("/v2/customers", 429, retry_after=1)
        fake.expire_tokens()                   # every issued access token now answers 401
        fake.touch("customers", 200, jobTitle="CEO")   # modified now: the next delta read sees it
        fake.add_thread(1001, 5013, "customer", person, "<p>Me again</p>", status="active")   # a new thread, written now
        fake.requests                          # [RecordedRequest(method, path, query, authorized)]

Credentials: the app FAKE_APP_ID / FAKE_APP_SECRET (client credentials) and the Docs API key FAKE_DOCS_KEY.
"""

from __future__ import annotations

import base64
import copy
import itertools
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.fakes.base import FakeVendorServer, RecordedRequest, iso_z, send_json, update_record
from tests.fakes.messy import PEOPLE, SUBJECTS

FAKE_APP_ID = "fake-helpscout-app-id-4821"
FAKE_APP_SECRET = "fake-helpscout-app-secret-0a9b8c7d6e"
FAKE_DOCS_KEY = "fake-helpscout-docs-key-5e6f7a8b9c"
TOKEN_PREFIX = "fake-hs-access-token-"
MAILBOX_PAGE_SIZES = {"conversations": 25}
DEFAULT_PAGE_SIZE = 50


@dataclass
class FakeHelpScout(FakeVendorServer):
    """Serves `account` (see `default_account()`) on an ephemeral loopback port."""

    vendor: ClassVar[str] = "Help Scout"
    http_methods: ClassVar[tuple[str, ...]] = ("GET", "POST")

    account: dict[str, Any] | None = None
    page_size: int | None = None
    rate_limit_per_minute: int = 400
    token_lifetime_s: int = 172_800
    _tokens: set[str] = field(default_factory=set)
    _token_numbers: Any = field(default_factory=lambda: itertools.count(1))
    _window: list[float] = field(default_factory=lambda: [0.0, 0.0])  # window start, calls in it

    def __post_init__(self) -> None:
        self.account = copy.deepcopy(self.account) if self.account is not None else default_account()

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/v2"

    @property
    def docs_root(self) -> str:
        return f"{self.base_url}/v1"

    # -- switches ---------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working, as after its 48 hours."""
        with self._lock:
            self._tokens.clear()

    def touch(self, collection: str, record_id: Any, **changes: Any) -> None:
        """Change a record and stamp it modified now, as an edit in Help Scout would."""
        record = update_record(self.account, collection, record_id, changes)
        stamp = iso_z(datetime.now(UTC))
        record["_modifiedAt"] = stamp
        if "updatedAt" in record:
            record["updatedAt"] = stamp

    def add_thread(self, conversation_id: int, thread_id: int, kind: str, by: dict[str, Any], body: str, **changes: Any) -> None:
        """A new thread written now on a conversation (with `changes` to the conversation, e.g. its status), as in Help Scout."""
        conversation = self._find("conversations", conversation_id)
        thread = _thread(thread_id, kind, by, body, 0, 9)
        thread["createdAt"] = iso_z(datetime.now(UTC))
        conversation["_embedded"]["threads"].append(thread)
        conversation["threads"] = len(conversation["_embedded"]["threads"])
        self.touch("conversations", conversation_id, userUpdatedAt=thread["createdAt"], **changes)

    # -- request handling -------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        method = handler.command
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(handler.headers.get("Content-Length") or 0)
        form = dict(parse_qsl(handler.rfile.read(length).decode())) if length else {}
        docs = parts.path.startswith("/v1/")
        if method == "POST" and parts.path == "/v2/oauth2/token":
            authorized = form.get("client_id") == FAKE_APP_ID and form.get("client_secret") == FAKE_APP_SECRET
        else:
            authorized = self._authorized(handler.headers.get("Authorization"), docs)
        self.requests.append(RecordedRequest(method, parts.path, query, authorized))
        headers = self._rate_headers(docs)
        fault = self._take_fault(parts.path)
        if fault is not None:
            if fault.status == 429:
                headers |= {"X-RateLimit-Retry-After": str(fault.retry_after or 1), "X-RateLimit-Remaining-Minute": "0"}
            return _send(handler, fault.status, {"error": f"injected {fault.status}"}, headers)
        if not authorized:
            if parts.path == "/v2/oauth2/token":
                return _send(handler, 401, {"error": "invalid_client", "error_description": "Bad client credentials"}, headers)
            return _send(handler, 401, {"message": "Unauthorized", "logRef": "fake-log-ref"}, headers)
        try:
            if parts.path == "/v2/oauth2/token":
                status, body = 200, self._issue_token()
            elif docs:
                status, body = self._route_docs(parts.path.removeprefix("/v1/"), query)
            else:
                status, body = self._route_mailbox(parts.path.removeprefix("/v2/"), query)
        except KeyError as exc:
            status, body = 404, {"message": f"Not found: {exc}"}
        _send(handler, status, body, headers, content_type="application/hal+json" if not docs else "application/json")

    def _authorized(self, header: str | None, docs: bool) -> bool:
        if not header:
            return False
        if docs:
            return header == "Basic " + base64.b64encode(f"{FAKE_DOCS_KEY}:X".encode()).decode()
        with self._lock:
            return header.removeprefix("Bearer ") in self._tokens

    def _issue_token(self) -> dict[str, Any]:
        with self._lock:
            token = f"{TOKEN_PREFIX}{next(self._token_numbers)}"
            self._tokens.add(token)
        return {"token_type": "bearer", "access_token": token, "expires_in": self.token_lifetime_s}

    def _rate_headers(self, docs: bool) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            if now - self._window[0] >= 60:
                self._window[:] = [now, 0]
            self._window[1] += 1
            remaining = max(self.rate_limit_per_minute - int(self._window[1]), 0)
        if docs:
            return {"X-RateLimit-Limit": "2000", "X-RateLimit-Remaining": str(max(2000 - int(self._window[1]), 0)), "X-RateLimit-Reset": "540"}
        return {"X-RateLimit-Limit-Minute": str(self.rate_limit_per_minute), "X-RateLimit-Remaining-Minute": str(remaining)}

    # -- Mailbox API --------------------------------------------------------------------------------

    def _route_mailbox(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        acc = self.account
        assert acc is not None
        if path in self.unavailable:
            status = self.unavailable[path]
            return status, {"message": "Access denied" if status == 403 else "Not found", "logRef": "fake-log-ref", "_embedded": {"errors": []}}
        if path == "conversations":
            return 200, self._hal(path, "conversations", self._conversations(query), query)
        match = re.fullmatch(r"conversations/(\d+)", path)
        if match:  # https://developer.helpscout.com/mailbox-api/endpoints/conversations/get/ (embed=threads: every thread)
            conversation = self._find("conversations", int(match.group(1)))
            shown = {k: v for k, v in conversation.items() if k != "_embedded"}
            if query.get("embed") == "threads":
                shown["_embedded"] = {"threads": sorted(conversation["_embedded"]["threads"], key=lambda t: t["createdAt"], reverse=True)}
            return 200, shown
        match = re.fullmatch(r"conversations/(\d+)/threads", path)
        if match:
            conversation = self._find("conversations", int(match.group(1)))
            threads = sorted(conversation["_embedded"]["threads"], key=lambda t: t["createdAt"], reverse=True)  # newest first
            return 200, self._hal(path, "threads", threads, query)
        if path == "customers":
            customers = [c for c in acc["customers"] if _modified_since(c, query)]
            return 200, self._hal(path, "customers", sorted(customers, key=lambda c: (c["createdAt"], c["id"]), reverse=True), query)
        match = re.fullmatch(r"mailboxes/(\d+)/fields", path)
        if match:
            return 200, self._hal(path, "fields", acc["fields"].get(int(match.group(1)), []), query)
        if path in ("users", "mailboxes", "tags"):
            return 200, self._hal(path, path, acc[path], query)
        raise KeyError(path)

    def _conversations(self, query: dict[str, str]) -> list[dict[str, Any]]:
        assert self.account is not None
        status = query.get("status", "active")  # Help Scout lists only active conversations unless asked otherwise
        mailboxes = {int(m) for m in query["mailbox"].split(",")} if query.get("mailbox") else None
        chosen = []
        for conversation in self.account["conversations"]:
            if status != "all" and conversation["status"] != status:
                continue
            if mailboxes is not None and conversation["mailboxId"] not in mailboxes:
                continue
            if not _modified_since(conversation, query):
                continue
            shown = {k: v for k, v in conversation.items() if k != "_embedded"}
            if query.get("embed") == "threads":
                shown["_embedded"] = {"threads": [_truncated(t) for t in sorted(conversation["_embedded"]["threads"], key=lambda t: t["createdAt"], reverse=True)]}
            chosen.append(shown)
        descending = query.get("sortOrder", "desc") == "desc"
        return sorted(chosen, key=lambda c: (c["createdAt"], c["id"]), reverse=descending)

    def _find(self, collection: str, record_id: Any) -> dict[str, Any]:
        assert self.account is not None
        for record in self.account[collection]:
            if record["id"] == record_id:
                return record
        raise KeyError(f"{collection}/{record_id}")

    def _hal(self, path: str, key: str, records: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        """A HAL page: items under _embedded (present even when empty), page metadata, next link keeping the query."""
        size = self.page_size or MAILBOX_PAGE_SIZES.get(path, DEFAULT_PAGE_SIZE)
        number = int(query.get("page", 1))
        total_pages = max(1, -(-len(records) // size))
        items = [_public(r) for r in records[(number - 1) * size : number * size]]
        links: dict[str, Any] = {
            "self": {"href": self._link(path, query, number)},
            "first": {"href": self._link(path, query, 1)},
            "last": {"href": self._link(path, query, total_pages)},
            "page": {"href": f"{self.api_root}/{path}{{?page}}", "templated": True},
        }
        if number < total_pages:
            links["next"] = {"href": self._link(path, query, number + 1)}
        if number > 1:
            links["prev"] = {"href": self._link(path, query, number - 1)}
        return {
            "_embedded": {key: items},
            "_links": links,
            "page": {"size": size, "totalElements": len(records), "totalPages": total_pages, "number": number},
        }

    def _link(self, path: str, query: dict[str, str], number: int) -> str:
        # Help Scout's links name its own host; the connector must point them at its configured base URL.
        params = {**query, "page": number}
        return f"https://api.helpscout.net/v2/{path}?{urlencode(params)}"

    # -- Docs API ---------------------------------------------------------------------------------

    def _route_docs(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        acc = self.account
        assert acc is not None
        docs = acc["docs"]
        if path == "sites":
            return 200, self._docs_page("sites", docs["sites"], query)
        if path == "collections":
            return 200, self._docs_page("collections", docs["collections"], query)
        match = re.fullmatch(r"collections/(\w+)/(categories|articles)", path)
        if match:
            collection_id, kind = match.groups()
            if kind == "categories":
                return 200, self._docs_page("categories", [c for c in docs["categories"] if c["collectionId"] == collection_id], query)
            status = query.get("status", "all")
            refs = [_article_ref(a) for a in docs["articles"] if a["collectionId"] == collection_id and status in ("all", a["status"])]
            return 200, self._docs_page("articles", refs, query)
        match = re.fullmatch(r"articles/(\w+)", path)
        if match:
            for article in docs["articles"]:
                if article["id"] == match.group(1):
                    return 200, {"article": article}
            raise KeyError(path)
        raise KeyError(path)

    def _docs_page(self, key: str, records: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        size = self.page_size or DEFAULT_PAGE_SIZE
        number = int(query.get("page", 1))
        pages = max(1, -(-len(records) // size))
        return {key: {"page": number, "pages": pages, "count": len(records), "items": records[(number - 1) * size : number * size]}}


def _send(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any], headers: dict[str, str], content_type: str = "application/json") -> None:
    send_json(handler, status, body, {"Correlation-Id": "fake-correlation-id", **headers}, content_type=f"{content_type};charset=UTF-8")


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """What Help Scout shows: the fake's own bookkeeping keys (`_modifiedAt`) left out."""
    return {k: v for k, v in record.items() if not k.startswith("_") or k in ("_embedded", "_links")}


def _modified_since(record: dict[str, Any], query: dict[str, str]) -> bool:
    since = query.get("modifiedSince")
    return since is None or str(record.get("_modifiedAt") or record.get("updatedAt") or record["createdAt"]) > since


CHAT_PREVIEW_CHARS = 24


def _truncated(thread: dict[str, Any]) -> dict[str, Any]:
    """Embedded chat threads come back cut short (https://developer.helpscout.com/mailbox-api/endpoints/conversations/list/)."""
    if thread["type"] not in ("chat", "beaconchat"):
        return thread
    return {**thread, "body": thread["body"][:CHAT_PREVIEW_CHARS]}


def _article_ref(article: dict[str, Any]) -> dict[str, Any]:
    """ArticleRef: what list calls return, without text, categories or keywords."""
    keys = ("id", "number", "collectionId", "status", "hasDraft", "name", "publicUrl", "popularity", "viewCount",
            "createdBy", "updatedBy", "createdAt", "updatedAt", "lastPublishedAt")
    return {k: article[k] for k in keys if k in article}


def _at(day: int, hour: int = 9) -> str:
    return iso_z(datetime(2024, 3, 1, tzinfo=UTC) + timedelta(days=day, hours=hour - 9))


def _person(kind: str, person_id: int, first: str, last: str, email: str | None) -> dict[str, Any]:
    return {"id": person_id, "type": kind, "first": first, "last": last, "email": email}


AGENT_BOB = _person("user", 2, "Bob", "Agent", "bob@acme.example")
AGENT_ADA = _person("user", 1, "Ada", "Admin", "ada@acme.example")


def _thread(thread_id: int, kind: str, by: dict[str, Any], body: str, day: int, hour: int, **extra: Any) -> dict[str, Any]:
    thread = {
        "id": thread_id, "type": kind, "status": extra.pop("status", "nochange"), "state": extra.pop("state", "published"),
        "action": extra.pop("action", None), "body": body, "source": {"type": "email", "via": "user" if by["type"] == "user" else "customer"},
        "customer": extra.pop("customer", None), "createdBy": by, "assignedTo": extra.pop("assignedTo", None),
        "to": [], "cc": [], "bcc": [], "createdAt": _at(day, hour), "openedAt": None,
        "_embedded": {"attachments": extra.pop("attachments", [])},
    }
    thread.update(extra)
    return thread


def _attachment(attachment_id: int, conversation_id: int, filename: str, mime: str, size: int) -> dict[str, Any]:
    return {
        "id": attachment_id, "filename": filename, "mimeType": mime, "width": 0, "height": 0, "size": size, "state": "valid",
        "_links": {
            "self": {"href": f"https://api.helpscout.net/v2/conversations/{conversation_id}/attachments/{attachment_id}"},
            "data": {"href": f"https://api.helpscout.net/v2/conversations/{conversation_id}/attachments/{attachment_id}/data"},
            "web": {"href": f"https://secure.helpscout.net/file/{attachment_id}/{filename}"},
        },
    }


def _customer(customer_id: int, first: str, last: str, day: int, *, organization: str | None = None, emails: list[str] | None = None,
              phones: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    embedded: dict[str, Any] = {
        "emails": [{"id": customer_id * 10 + i, "value": e, "type": "work" if i == 0 else "home"} for i, e in enumerate(emails or [])],
        "phones": [{"id": customer_id * 10 + i, "value": p, "type": "mobile"} for i, p in enumerate(phones or [])],
        "chats": [], "social_profiles": extra.pop("social_profiles", []), "websites": extra.pop("websites", []),
        "properties": extra.pop("properties", []),
    }
    if "address" in extra:
        embedded["address"] = extra.pop("address")
    record = {
        "id": customer_id, "firstName": first, "lastName": last, "gender": "unknown", "jobTitle": extra.pop("jobTitle", None),
        "location": extra.pop("location", None), "organization": organization, "photoType": "unknown", "photoUrl": None,
        "age": None, "background": extra.pop("background", None), "conversationCount": 1,
        "createdAt": _at(day), "updatedAt": _at(day, 10), "draft": False, "_embedded": embedded,
        "_links": {"self": {"href": f"https://api.helpscout.net/v2/customers/{customer_id}"}},
    }
    record.update(extra)
    return record


def _conversation(conversation_id: int, number: int, kind: str, status: str, customer: dict[str, Any], day: int,
                  threads: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    record = {
        "id": conversation_id, "number": number, "threads": len(threads), "type": kind, "folderId": 1, "status": status,
        "state": extra.pop("state", "published"), "subject": extra.pop("subject", f"Conversation {number}"), "preview": "…",
        "mailboxId": extra.pop("mailboxId", 10), "assignee": extra.pop("assignee", None),
        "createdBy": {"id": customer["id"], "type": "customer", "email": customer["email"]}, "createdAt": _at(day),
        "closedBy": extra.pop("closedBy", None), "closedAt": extra.pop("closedAt", None), "userUpdatedAt": _at(day, 12),
        "customerWaitingSince": {"time": _at(day, 12), "friendly": "a while ago"},
        "source": {"type": extra.pop("source_type", "email"), "via": "customer"}, "tags": extra.pop("tags", []),
        "cc": [], "bcc": [], "primaryCustomer": customer, "customFields": extra.pop("customFields", []),
        "_modifiedAt": _at(day, 12), "_embedded": {"threads": threads},
        "_links": {"self": {"href": f"https://api.helpscout.net/v2/conversations/{conversation_id}"}},
    }
    record.update(extra)
    return record


def default_account() -> dict[str, Any]:
    """Two agents, two mailboxes (one with custom fields), seven customers in two companies, conversations with every
    thread type, and a Docs site with two collections, three categories and three articles."""
    dana = _person("customer", 200, "Dana", "Scully", "dana@globex.example")
    zoe = _person("customer", 201, "Zoë", "Ångström", "zoe@globex.example")
    gus = _person("customer", 204, "Gus", "Lead", "gus@example.com")
    hana = _person("customer", 205, "Hana", "Chat", "hana@example.com")
    ivan = _person("customer", 206, "Ivan", "Phone", "ivan@initech.example")
    chat_text = "Hi! I cannot find the export button anywhere in the new dashboard, where did it go?"
    customers = [
        _customer(200, "Dana", "Scully", 0, organization="Globex Corp", emails=["dana@globex.example", "dana.s@home.example"],
                  phones=["+33612345678", "+33698765432"], jobTitle="CTO", location="Paris, France", background="Prefers email",
                  social_profiles=[{"id": 1, "value": "@dana", "type": "twitter"}], websites=[{"id": 1, "value": "https://globex.example"}],
                  properties=[{"type": "dropdown", "slug": "plan-tier", "name": "Plan tier", "value": "6c1f", "text": "Enterprise", "source": {"name": "api"}}],
                  address={"city": "Paris", "state": None, "postalCode": "75001", "country": "FR", "lines": ["1 rue de Rivoli"]}),
        _customer(201, "Zoë", "Ångström", 1, organization="globex   CORP", emails=["zoe@globex.example"], phones=["+46701234567"],
                  properties=[{"type": "text", "slug": "plan-tier", "name": "Plan tier", "value": "Free", "text": "Free", "source": {"name": "api"}}]),
        _customer(202, "Émile", "Zola", 2, organization="Initech", emails=["emile@initech.example"]),
        _customer(203, "Fay", "NoEmail", 3, phones=["+14155550100"]),
        _customer(204, "Gus", "Lead", 4, emails=["gus@example.com"]),
        _customer(205, "Hana", "Chat", 5, emails=["hana@example.com"]),
        _customer(206, "Ivan", "Phone", 6, organization="Initech", emails=["ivan@initech.example"], jobTitle="Buyer"),
    ]
    conversations = [
        _conversation(1000, 1, "email", "active", dana, 10, [
            _thread(5000, "customer", dana, "<p>My printer is <strong>on fire</strong>!</p>", 10, 9, customer=dana,
                    attachments=[_attachment(700, 1000, "fire.jpg", "image/jpeg", 20191)]),
            _thread(5001, "lineitem", AGENT_ADA, "", 10, 10, assignedTo=AGENT_BOB,
                    action={"type": "manual-workflow", "text": "Ada assigned this conversation to Bob", "associatedEntities": {}}),
            _thread(5002, "reply", AGENT_BOB, "<p>Please unplug it &amp; step back.</p>", 10, 11),
            _thread(5003, "note", AGENT_BOB, "<p>Escalate if it happens again</p>", 10, 12),
        ], subject="Printer on fire", assignee=AGENT_BOB, tags=[{"id": 9150, "color": "#929499", "tag": "vip"}],
            customFields=[{"id": 104, "name": "Plan", "value": "170", "text": "Pro"}, {"id": 105, "name": "Order number", "value": "A-1", "text": "A-1"}]),
        _conversation(1001, 2, "email", "closed", zoe, 11, [
            _thread(5010, "customer", zoe, "<p>Tack för hjälpen 🙏</p>", 11, 9, customer=zoe),
            _thread(5011, "reply", AGENT_ADA, "<p>Varsågod!</p>", 11, 10),
            _thread(5012, "lineitem", AGENT_ADA, "", 11, 11, status="closed", action=None),
        ], subject="Tack", closedBy=1, closedAt=_at(11, 11), tags=[{"id": 9151, "color": "#00aa00", "tag": "billing"}]),
        _conversation(1002, 3, "chat", "closed", hana, 12, [
            _thread(5020, "beaconchat", hana, chat_text, 12, 9, customer=hana),
            _thread(5021, "chat", AGENT_BOB, "It moved to Settings → Data → Export, at the bottom of the page.", 12, 10),
        ], subject="Chat with Hana", source_type="beacon"),
        _conversation(1003, 4, "phone", "pending", ivan, 13, [
            _thread(5030, "phone", AGENT_BOB, "<p>Called Ivan about the renewal quote.</p>", 13, 9, customer=ivan),
            _thread(5031, "note", AGENT_BOB, "<p>Send the quote on Monday</p>", 13, 10),
        ], subject="Renewal call", mailboxId=11, assignee=AGENT_BOB),
        _conversation(1004, 5, "email", "spam", gus, 14, [
            _thread(5040, "customer", gus, "<p>Cheap watches!!!</p>", 14, 9, customer=gus),
        ], subject="Buy now"),
        _conversation(1005, 6, "email", "closed", dana, 15, [
            _thread(5050, "customer", dana, "<p>Can your vendor look at this?</p>", 15, 9, customer=dana),
            _thread(5051, "forwardparent", AGENT_BOB, "<p>Forwarded to vendor@partner.example</p>", 15, 10),
            _thread(5052, "reply", AGENT_BOB, "<p>Draft reply never sent</p>", 15, 11, state="draft"),
        ], subject="Vendor question"),
        _conversation(1006, 7, "email", "active", dana, 15, [
            _thread(5060, "forwardchild", AGENT_BOB, "<p>Hello vendor, see the thread below.</p>", 15, 10),
        ], subject="Fwd: Vendor question"),
        _conversation(1007, 8, "email", "closed", gus, 16, [
            _thread(5070, "customer", gus, "<p>gone</p>", 16, 9, customer=gus),
        ], subject="Deleted one", state="deleted"),
    ]
    site = "5f0000000000000000000001"
    collections = [
        {"id": "5f00000000000000000000c1", "siteId": site, "number": 1, "slug": "getting-started", "visibility": "public", "order": 1,
         "name": "Getting started", "description": "First steps with Acme", "publicUrl": "https://acme.helpscoutdocs.com/collection/1-getting-started",
         "articleCount": 2, "publishedArticleCount": 1, "createdBy": 1, "updatedBy": 1, "createdAt": _at(0), "updatedAt": _at(1)},
        {"id": "5f00000000000000000000c2", "siteId": site, "number": 2, "slug": "billing", "visibility": "private", "order": 2,
         "name": "Billing", "description": None, "publicUrl": "https://acme.helpscoutdocs.com/collection/2-billing",
         "articleCount": 1, "publishedArticleCount": 1, "createdBy": 1, "updatedBy": 1, "createdAt": _at(0), "updatedAt": _at(1)},
    ]
    categories = [
        {"id": "5f00000000000000000000a1", "number": 11, "slug": "install", "collectionId": collections[0]["id"], "order": 1,
         "defaultSort": "name", "name": "Install", "articleCount": 1, "createdBy": 1, "updatedBy": None, "createdAt": _at(0), "updatedAt": None},
        {"id": "5f00000000000000000000a2", "number": 12, "slug": "configure", "collectionId": collections[0]["id"], "order": 2,
         "defaultSort": "name", "name": "Configure", "articleCount": 2, "createdBy": 1, "updatedBy": None, "createdAt": _at(0), "updatedAt": None},
        {"id": "5f00000000000000000000a3", "number": 13, "slug": "invoices", "collectionId": collections[1]["id"], "order": 1,
         "defaultSort": "name", "name": "Invoices", "articleCount": 0, "createdBy": 1, "updatedBy": None, "createdAt": _at(0), "updatedAt": None},
    ]

    def article(number: int, suffix: str, collection: dict[str, Any], cats: list[str], name: str, text: str, status: str, day: int) -> dict[str, Any]:
        return {
            "id": f"5f00000000000000000000{suffix}", "number": number, "collectionId": collection["id"], "slug": name.lower().replace(" ", "-"),
            "status": status, "hasDraft": status != "published", "name": name, "text": text, "categories": cats, "related": [],
            "publicUrl": f"https://acme.helpscoutdocs.com/article/{number}-{name.lower().replace(' ', '-')}", "popularity": 3.5,
            "viewCount": 42, "keywords": ["acme"], "createdBy": 1, "updatedBy": 2, "createdAt": _at(day), "updatedAt": _at(day, 10),
            "lastPublishedAt": _at(day, 10) if status == "published" else None,
        }

    articles = [
        article(101, "b1", collections[0], [categories[0]["id"], categories[1]["id"]], "How to install Acme",
                "<h2>Install</h2><p>Run the <code>acme-setup</code> installer &amp; follow the steps.</p>", "published", 2),
        article(102, "b2", collections[0], [categories[1]["id"]], "Advanced settings", "<p>Work in progress</p>", "notpublished", 3),
        article(103, "b3", collections[1], [], "Where is my invoice", "<p>See <a href=\"https://acme.helpscoutdocs.com/article/101-how-to-install-acme\">install</a>.</p>", "published", 4),
    ]
    return {
        "users": [
            {"id": 1, "firstName": "Ada", "lastName": "Admin", "email": "ada@acme.example", "role": "owner", "timezone": "Europe/Paris",
             "type": "user", "initials": "AA", "jobTitle": "Head of Support", "createdAt": _at(0), "updatedAt": _at(0)},
            {"id": 2, "firstName": "Bob", "lastName": "Agent", "email": "bob@acme.example", "role": "user", "timezone": "America/New_York",
             "type": "user", "initials": "BA", "createdAt": _at(0), "updatedAt": _at(0)},
        ],
        "mailboxes": [
            {"id": 10, "name": "Support", "slug": "support", "email": "support@acme.example", "createdAt": _at(0), "updatedAt": _at(0)},
            {"id": 11, "name": "Sales", "slug": "sales", "email": "sales@acme.example", "createdAt": _at(0), "updatedAt": _at(0)},
        ],
        "fields": {
            10: [
                {"id": 104, "required": False, "order": 1, "type": "dropdown", "name": "Plan",
                 "options": [{"id": 168, "order": 1, "label": "Free"}, {"id": 170, "order": 2, "label": "Pro"}]},
                {"id": 105, "required": False, "order": 2, "type": "singleline", "name": "Order number", "options": []},
            ],
            11: [],
        },
        "tags": [
            {"id": 9150, "slug": "vip", "name": "vip", "color": "#929499", "createdAt": _at(0), "ticketCount": 1},
            {"id": 9151, "slug": "billing", "name": "billing", "color": "#00aa00", "createdAt": _at(0), "ticketCount": 1},
        ],
        "customers": customers,
        "conversations": conversations,
        "docs": {
            "sites": [{"id": site, "status": "ACTIVE", "subDomain": "acme", "cname": None, "hasPublicSite": True, "companyName": "Acme",
                       "title": "Acme Help", "createdBy": 1, "updatedBy": 1, "createdAt": _at(0), "updatedAt": _at(0)}],
            "collections": collections,
            "categories": categories,
            "articles": articles,
        },
    }


# -- the messy account ------------------------------------------------------------------------------

MESSY_FIRST_CUSTOMER = 200
MESSY_TEAMMATE_CUSTOMER = 290  # Ada wrote to the mailbox from her own address: Help Scout made her a customer too
MESSY_DELETED_CUSTOMER = 399  # named by a conversation, no longer in the customers list
MESSY_TEAMMATE_CUSTOMER_CONVERSATION = 4036
MESSY_USER_ONLY_CONVERSATION = 4037  # a teammate's internal conversation: no customer at all
MESSY_DELETED_REQUESTER_CONVERSATION = 4040
MESSY_AGENT_STARTED_EVERY = 7  # every 7th conversation (index 3, 10, ...) was started by Bob writing to the customer


def messy_account() -> dict[str, Any]:
    """An account like a real one (see tests/fakes/messy.py): 36 customers with national phones, some with an address
    country, custom fields holding dates as typed and "gold" in a number; a teammate who is also a customer; a teammate's
    conversation without a customer; a conversation whose customer was deleted; 39 conversations. Docs as the default."""
    base = default_account()
    customers, conversations = [], []
    for index, person in enumerate(PEOPLE):
        cid = MESSY_FIRST_CUSTOMER + person.number
        extra: dict[str, Any] = {}
        if person.country and index % 2 == 0:
            extra["address"] = {"city": "Springfield", "state": None, "postalCode": "00000", "country": person.country, "lines": ["1 Main St"]}
        customers.append(_customer(cid, person.first, person.last, index % 10, emails=[person.email] if person.email else [],
                                   phones=[person.phone] if person.phone else [], location=f"Somewhere, {person.country or 'unknown'}", **extra))
        someone = _person("customer", cid, person.first, person.last, person.email)
        subject = SUBJECTS[index % len(SUBJECTS)]
        agent_started = index % MESSY_AGENT_STARTED_EVERY == 3
        opening = _thread(cid * 100, "reply" if agent_started else "customer", AGENT_BOB if agent_started else someone, f"<p>{subject}</p>", 10 + index % 15, 9,
                          customer=someone)
        reply = _thread(cid * 100 + 1, "customer" if agent_started else "reply", someone if agent_started else AGENT_BOB, "<p>Thanks!</p>", 10 + index % 15, 11,
                        customer=someone)
        units: Any = "gold" if index == 5 else index % 9
        custom = [{"id": 105, "name": "Order date", "value": person.signup, "text": person.signup}, {"id": 106, "name": "Units", "value": units, "text": str(units)}]
        created_by = {"id": 2, "type": "user", "email": AGENT_BOB["email"]} if agent_started else {"id": cid, "type": "customer", "email": person.email}
        conversations.append(_conversation(4000 + index, 100 + index, "email", ("active", "pending", "closed")[index % 3], someone, 10 + index % 15,
                                           [opening, reply], subject=subject, customFields=[c for c in custom if c["value"] not in (None, "")],
                                           createdBy=created_by))
    ada_customer = _person("customer", MESSY_TEAMMATE_CUSTOMER, "Ada", "Admin", "ada@acme.example")
    customers.append(_customer(MESSY_TEAMMATE_CUSTOMER, "Ada", "Admin", 1, emails=["ada@acme.example"]))
    conversations.append(_conversation(MESSY_TEAMMATE_CUSTOMER_CONVERSATION, 136, "email", "active", ada_customer, 26, [
        _thread(MESSY_TEAMMATE_CUSTOMER * 100, "customer", ada_customer, "<p>Please renew the SSL certificate.</p>", 26, 9, customer=ada_customer),
        _thread(MESSY_TEAMMATE_CUSTOMER * 100 + 1, "reply", AGENT_BOB, "<p>Done.</p>", 26, 10),
    ], subject="Internal: SSL certificate"))
    nobody = {"id": None, "type": "customer", "email": None}
    conversations.append(_conversation(MESSY_USER_ONLY_CONVERSATION, 137, "email", "active", nobody, 26, [
        _thread(MESSY_USER_ONLY_CONVERSATION * 10, "note", AGENT_BOB, "<p>Reminder: quarterly review of refunds.</p>", 26, 9),
    ], subject="Internal reminder", createdBy={"id": 2, "type": "user", "email": AGENT_BOB["email"]}, primaryCustomer=None))
    gone = _person("customer", MESSY_DELETED_CUSTOMER, "Forget", "Me", "forget.me@example.com")
    conversations.append(_conversation(MESSY_DELETED_REQUESTER_CONVERSATION, 140, "email", "closed", gone, 27, [
        _thread(MESSY_DELETED_CUSTOMER * 100, "customer", gone, "<p>Delete my data</p>", 27, 9, customer=gone),
    ], subject="Please forget me"))
    fields = {10: [*base["fields"][10], {"id": 106, "required": False, "order": 3, "type": "number", "name": "Units", "options": []}], 11: []}
    return {**base, "customers": customers, "conversations": conversations, "fields": fields,
            "users": [*base["users"], {"id": 3, "firstName": "Cleo", "lastName": "Part-time", "email": "cleo@acme.example", "role": "user",
                                       "timezone": "Europe/London", "type": "user", "initials": "CP", "createdAt": _at(0), "updatedAt": _at(0)}]}
