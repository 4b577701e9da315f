"""A fake Freshdesk on 127.0.0.1: a small account served in API v2's real response shapes, with fault switches.

Usage:
    with FakeFreshdesk() as fake:                 # or FakeFreshdesk(account, page_cap=3).start() ... .stop()
        base_url = fake.base_url                  # http://127.0.0.1:<port>
        fake.fail_next("/contacts", 429, retry_after=1)
        fake.touch("contacts", 10, name="New")    # bump updated_at: the next delta read sees it
        fake.add_conversation(1001, 9100, 11, "Me again", incoming=True, status=2)   # a reply written now
        fake.requests                             # [RecordedRequest(method, path, query, authorized)]

Behaviour copied from https://developers.freshdesk.com/api/: Basic auth with the API key as user; `page`/`per_page`
(≤ 100) with a `link: <…>;rel="next"` header absent on the last page; the ticket list returns only tickets created
in the last 30 days without `updated_since` and answers 400 past `page_cap` (300); `include=` costs 2 credits;
X-Ratelimit-* headers; 429 with Retry-After. Attachment URLs are "signed" and expire when `expire_attachments()` runs.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.fakes.base import FakeVendorServer, RecordedRequest, iso_z, send_bytes, send_json, update_record
from tests.fakes.messy import PEOPLE, SUBJECTS

FAKE_DOMAIN = "acme"
FAKE_API_KEY = "fake-freshdesk-api-key-0123456789"
RATE_LIMIT_TOTAL = 700
# A 1x1 transparent PNG: what inline images and photo attachments download as.
PNG_PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
PAGE_CAP_MESSAGE = "You cannot access tickets beyond the 300th page. Please provide a smaller page number."


@dataclass
class FakeFreshdesk(FakeVendorServer):
    """Serves `account` (see `default_account()`) under /api/v2 on an ephemeral loopback port."""

    vendor: ClassVar[str] = "Freshdesk"

    account: dict[str, Any] | None = None
    api_key: str = FAKE_API_KEY
    page_cap: int = 300
    solutions_forbidden: bool = False
    _credits_used: int = 0
    _signature: str = "sig1"

    def __post_init__(self) -> None:
        self.account = copy.deepcopy(self.account) if self.account is not None else default_account()

    @property
    def files_url(self) -> str:
        """Attachments come from another host than the API (like Freshdesk's S3 links): localhost, not 127.0.0.1."""
        return self.base_url.replace("127.0.0.1", "localhost") + "/files"

    # -- switches ---------------------------------------------------------------------------------

    def touch(self, collection: str, record_id: int, **changes: Any) -> None:
        """Change a record and move its updated_at to now, as an edit in Freshdesk would."""
        record = update_record(self.account, collection, record_id, changes)
        record["updated_at"] = iso_z(datetime.now(UTC))

    def add_conversation(self, ticket_id: int, conversation_id: int, user_id: int, text: str, *, incoming: bool, private: bool = False,
                         **ticket_changes: Any) -> None:
        """A reply or note written now on a ticket (with `ticket_changes`, e.g. its status), as in Freshdesk."""
        assert self.account is not None
        now = iso_z(datetime.now(UTC))
        entry = _conversation(conversation_id, ticket_id, user_id, f"<div>{text}</div>", text, incoming, private, 0, now)
        self.account["conversations"].setdefault(ticket_id, []).append(entry)
        self.touch("tickets", ticket_id, **ticket_changes)

    def expire_attachments(self) -> None:
        """Every attachment URL, handed out or to come, stops working (Freshdesk's signed links expire)."""
        self._signature = "expired"

    # -- request handling -------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if parts.path.startswith("/files/"):
            return self._serve_file(handler, parts.path, query)
        authorized = self._authorized(handler.headers.get("Authorization"))
        self.requests.append(RecordedRequest("GET", parts.path, query, authorized))
        if not authorized:
            return send_json(handler, 401, {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."})
        fault = self._take_fault(parts.path)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            body = {"code": "rate_limit_exceeded", "message": "API rate limit exceeded."} if fault.status == 429 else {"code": "internal_error", "message": f"injected {fault.status}"}
            return send_json(handler, fault.status, body, {**headers, **self._rate_headers(1)})
        path = parts.path.removeprefix("/api/v2/")
        if path in self.unavailable:
            status = self.unavailable[path]
            body = {"code": "access_denied", "message": "You are not authorized to perform this action."} if status == 403 else {"code": "not_found", "message": "Record not found"}
            return send_json(handler, status, body, self._rate_headers(1))
        if path.startswith("solutions") and self.solutions_forbidden:
            return send_json(handler, 403, {"code": "access_denied", "message": "You are not authorized to perform this action."})
        status, body, headers = self._route(path, query)
        body = self._with_file_urls(body)
        credits = 1 + 2 * len([i for i in query.get("include", "").split(",") if i])
        send_json(handler, status, body, {**headers, **self._rate_headers(credits)})

    def _rate_headers(self, credits: int) -> dict[str, str]:
        with self._lock:
            self._credits_used += credits
            remaining = max(RATE_LIMIT_TOTAL - self._credits_used % RATE_LIMIT_TOTAL, 0)
        return {"X-Ratelimit-Total": str(RATE_LIMIT_TOTAL), "X-Ratelimit-Remaining": str(remaining), "X-Ratelimit-Used-CurrentRequest": str(credits)}

    def _authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.api_key}:X".encode()).decode()
        return header == f"Basic {expected}"

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        acc = self.account
        assert acc is not None
        if path == "tickets":
            return self._tickets(query)
        match = re.fullmatch(r"tickets/(\d+)", path)
        if match:
            ticket = next((t for t in acc["tickets"] if t["id"] == int(match.group(1))), None)
            if ticket is None:
                return 404, {"code": "not_found", "message": "Record not found"}, {}
            return 200, _public_ticket(ticket, {"description"}, with_attachments=True, signature=self._signature, files_url=self.files_url), {}
        match = re.fullmatch(r"tickets/(\d+)/conversations", path)
        if match:
            entries = [self._signed(c) for c in acc["conversations"].get(int(match.group(1)), [])]
            return self._paged(path, entries, query)
        if path == "contacts":
            wanted_deleted = query.get("state") == "deleted"
            contacts = [c for c in acc["contacts"] if bool(c.get("deleted")) == wanted_deleted and _since(c, query)]
            return self._paged(path, sorted(contacts, key=lambda c: (c["name"] or "").lower()), query)
        if path == "companies":
            return self._paged(path, [c for c in acc["companies"] if _since(c, query)], query)
        if path in ("agents", "groups", "ticket_fields", "contact_fields", "company_fields"):
            return self._paged(path, acc[path], query)
        if path == "settings/helpdesk":
            return 200, acc["settings"], {}
        return self._solutions(path, query)

    def _solutions(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        acc = self.account
        assert acc is not None
        languages = set(acc["settings"]["supported_languages"])
        if path == "solutions/categories":
            return self._paged(path, [_strip_tr(c) for c in acc["categories"]], query)
        match = re.fullmatch(r"solutions/(categories|folders)/(\d+)/([a-zA-Z-]+)", path)
        if match and match.group(3) in languages:
            kind, oid, lang = match.group(1), int(match.group(2)), match.group(3)
            item = next((i for i in acc["categories" if kind == "categories" else "folders"] if i["id"] == oid), None)
            if item is None or lang not in item.get("tr", {}):
                return 404, {"code": "not_found", "message": "Record not found"}, {}
            return 200, {**_strip_tr(item), **item["tr"][lang]}, {}
        match = re.fullmatch(r"solutions/categories/(\d+)/folders", path)
        if match:
            folders = [_strip_tr(f) for f in acc["folders"] if f["category_id"] == int(match.group(1)) and not f.get("parent_folder_id")]
            return self._paged(path, folders, query)
        match = re.fullmatch(r"solutions/folders/(\d+)/subfolders", path)
        if match:
            return self._paged(path, [_strip_tr(f) for f in acc["folders"] if f.get("parent_folder_id") == int(match.group(1))], query)
        match = re.fullmatch(r"solutions/folders/(\d+)/articles(?:/([a-zA-Z-]+))?", path)
        if match:
            folder_id, lang = int(match.group(1)), match.group(2)
            articles = [a for a in acc["articles"] if a["folder_id"] == folder_id]
            if lang is not None:
                articles = [{**_strip_tr(a), **a["tr"][lang]} for a in articles if lang in a.get("tr", {})]
            else:
                articles = [_strip_tr(a) for a in articles]
            return self._paged(path, articles, query)
        return 404, {"code": "not_found", "message": "Record not found"}, {}

    def _tickets(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        acc = self.account
        assert acc is not None
        tickets = [t for t in acc["tickets"] if not t.get("spam") and not t.get("deleted")]
        if "updated_since" in query:
            tickets = [t for t in tickets if _since(t, query)]
        else:  # the documented default: only tickets created in the past 30 days
            cutoff = iso_z(datetime.now(UTC) - timedelta(days=30))
            tickets = [t for t in tickets if t["created_at"] >= cutoff]
        key = query.get("order_by", "created_at")
        tickets.sort(key=lambda t: (t[key], t["id"]), reverse=query.get("order_type", "desc") == "desc")
        page = int(query.get("page", "1"))
        if page > self.page_cap:
            message = PAGE_CAP_MESSAGE.replace("300th", f"{self.page_cap}th")
            return 400, {"description": "Validation failed", "errors": [{"field": "page", "message": message, "code": "invalid_value"}]}, {}
        includes = {i for i in query.get("include", "").split(",") if i}
        status, body, headers = self._paged("tickets", tickets, query)
        return status, [_public_ticket(t, includes) for t in body], headers

    def _paged(self, path: str, items: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        per_page = int(query.get("per_page", "30"))
        if per_page > 100:
            return 400, {"description": "Validation failed", "errors": [{"field": "per_page", "message": "Has to be less than or equal to 100", "code": "invalid_value"}]}, {}
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            # Freshdesk writes the absolute URL of its own host; clients must follow it (we rebase it in tests).
            next_query = urlencode({**query, "page": page + 1})
            headers["Link"] = f'<https://{FAKE_DOMAIN}.freshdesk.com/api/v2/{path}?{next_query}>; rel="next"'
        return 200, chunk, headers

    def _with_file_urls(self, body: Any) -> Any:
        """Inline images point at this server's /files, signed with the current signature."""
        text = json.dumps(body)
        if "{FILES}" not in text:
            return body
        return json.loads(text.replace("{FILES}", self.files_url).replace("{SIG}", self._signature))

    def _signed(self, conversation: dict[str, Any]) -> dict[str, Any]:
        result = copy.deepcopy(conversation)
        for attachment in result.get("attachments") or []:
            attachment["attachment_url"] = f"{self.files_url}/{attachment['id']}/{attachment['name']}?X-Amz-Signature={self._signature}"
        return result

    def _serve_file(self, handler: BaseHTTPRequestHandler, path: str, query: dict[str, str]) -> None:
        self.requests.append(RecordedRequest("GET", path, query, handler.headers.get("Authorization") is not None))
        if self._signature == "expired" or query.get("X-Amz-Signature") != self._signature:
            payload = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            return send_bytes(handler, 403, payload, "application/xml")
        image = path.lower().endswith((".png", ".jpg", ".jpeg"))
        payload = PNG_PIXEL if image else f"file {path}".encode()
        send_bytes(handler, 200, payload, "image/png" if image else "application/octet-stream")


def _since(record: dict[str, Any], query: dict[str, str]) -> bool:
    since = query.get("updated_since")
    return since is None or record["updated_at"] >= _normalize(since)


def _normalize(value: str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return iso_z(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _strip_tr(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "tr"}


def _public_ticket(ticket: dict[str, Any], includes: set[str], *, with_attachments: bool = False, signature: str = "", files_url: str = "") -> dict[str, Any]:
    """The list omits description (unless included), stats (unless included) and attachments (view only)."""
    hidden = {"description", "description_text", "stats", "attachments", "deleted"}
    result = {k: v for k, v in ticket.items() if k not in hidden}
    if "description" in includes:
        result["description"], result["description_text"] = ticket["description"], ticket["description_text"]
    if "stats" in includes:
        result["stats"] = ticket.get("stats") or {"resolved_at": None, "closed_at": None, "first_responded_at": None}
    if with_attachments:
        result["attachments"] = [
            {**a, "attachment_url": f"{files_url}/{a['id']}/{a['name']}?X-Amz-Signature={signature}"} for a in ticket.get("attachments") or []
        ]
    return result


def _t(day: int, hour: int = 9, minute: int = 0) -> str:
    return f"2024-03-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def default_account() -> dict[str, Any]:
    """Companies, contacts (one deleted), agents, groups, 14 tickets (two sharing one updated_at), solutions in en + fr."""
    recent = iso_z(datetime.now(UTC) - timedelta(days=2))
    tickets = [
        _ticket(1000, "Printer on fire", 2, 4, 1, 10, 50, 2, _t(1), _t(1, 10), tags=["hardware", "urgent"],
                custom={"cf_order_number": "A-1001", "cf_product": "Widget Pro", "cf_refund_amount": "12.50", "cf_vip": True,
                        "cf_ordered_on": "2024-02-28", "cf_country": "France", "cf_city": "Lyon", "cf_units": 3}),
        _ticket(1001, "Tack för hjälpen", 4, 1, 2, 11, 51, None, _t(2), _t(2, 11)),
        _ticket(1002, "Le menu du café ne charge pas", 6, 2, 3, 12, 51, 2, _t(3), _t(3, 12)),
        _ticket(1003, "Outbound check-in", 5, 1, 10, 13, 50, 1, _t(4), _t(4, 9)),
        _ticket(1004, "Spam offer", 2, 1, 1, 13, None, None, _t(4), _t(4, 10), spam=True),
        _ticket(1005, "HTML & <b>bold</b> subject", 3, 2, 7, 10, 50, 2, _t(5), _t(5, 9)),
        _ticket(1006, "Same second A", 2, 1, 1, 11, None, None, _t(6), _t(6, 9)),
        _ticket(1007, "Same second B", 2, 1, 1, 12, None, None, _t(6), _t(6, 9)),
        _ticket(1008, "Same second C", 2, 1, 1, 13, None, None, _t(6), _t(6, 9)),
        _ticket(1009, "Later one", 5, 1, 2, 10, 51, 1, _t(7), _t(7, 9)),
        _ticket(1010, "Still later", 5, 1, 9, 11, 51, 1, _t(8), _t(8, 9)),
        _ticket(1011, "Last of March", 2, 3, 1, 12, 50, 2, _t(9), _t(9, 9)),
        _ticket(1012, "Created this month", 2, 1, 2, 10, None, None, recent, recent),
        _ticket(1013, "Deleted one", 2, 1, 1, 10, None, None, _t(10), _t(10, 9), deleted=True),
    ]
    tickets[0]["description"] = '<div>My printer is <strong>on fire</strong>!<br><img src="{FILES}/inline/smoke.png?X-Amz-Signature={SIG}" alt="smoke.png"></div>'
    tickets[0]["description_text"] = "My printer is on fire!"
    tickets[0]["attachments"] = [_attachment(7000, "receipt.pdf", "application/pdf", 2048)]
    tickets[0]["stats"] = {"first_responded_at": _t(1, 9, 30), "resolved_at": None, "closed_at": None}
    tickets[5]["description"] = "<p>Use &lt;b&gt; tags &amp; more</p><ul><li>one</li></ul>"
    tickets[5]["description_text"] = "Use <b> tags & more\none"
    conversations = {
        1000: [
            _conversation(9001, 1000, 50, "<div>Please unplug it now.</div>", "Please unplug it now.", False, False, 0, _t(1, 9, 20)),
            _conversation(9002, 1000, 10, "<div>Done, photo attached.</div>", "Done, photo attached.", True, False, 0, _t(1, 9, 25),
                          attachments=[_attachment(7001, "photo.jpg", "image/jpeg", 1024)]),
            _conversation(9003, 1000, 50, "<div>Escalating to hardware team.</div>", "Escalating to hardware team.", False, True, 2, _t(1, 9, 40)),
            _conversation(9004, 1000, 50, "<div>FYI vendor</div>", "FYI vendor", False, False, 8, _t(1, 9, 50)),
        ],
        1002: [_conversation(9010, 1002, 51, "<p>Nous regardons.</p>", "Nous regardons.", False, False, 0, _t(3, 12))],
    }
    return {
        "settings": {"primary_language": "en", "supported_languages": ["fr"], "portal_languages": ["fr"]},
        "companies": [
            _company(100, "Globex Corporation", ["globex.example", "globex.test"], _t(1), {"region": "Europe", "contract_value": 12000}, health="Happy", tier="Enterprise", renewal="2025-01-31T00:00:00Z", industry="Manufacturing"),
            _company(101, "Initech", ["initech.example"], _t(2), {"region": "North America", "contract_value": None}),
            _company(102, "Umbrella", [], _t(3), {}),
        ],
        "contacts": [
            _contact(10, "Dana Scully", "dana@globex.example", _t(1), company=100, others=[101], tags=["vip"], custom={"plan_tier": "Enterprise", "newsletter": True, "signup_date": "2023-05-01"}),
            _contact(11, "Zoë Ångström", "zoe@initech.example", _t(2), company=101, phone="+46 70 123 45 67", custom={"plan_tier": "Free", "newsletter": False}),
            _contact(12, "Émile Zola", "emile@example.fr", _t(3), tags=["beta", "vip"], other_emails=["emile@zola.example"]),
            _contact(13, "Fay NoEmail", None, _t(4), phone="+1 415 555 0100"),
            _contact(14, "Gone Person", "gone@example.com", _t(5), deleted=True),
        ],
        "agents": [
            _agent(50, "Ada Agent", "ada@acme.example", True),
            _agent(51, "Bob Agent", "bob@acme.example", True),
        ],
        "groups": [{"id": 1, "name": "Billing", "description": "", "created_at": _t(1), "updated_at": _t(1)},
                   {"id": 2, "name": "Hardware", "description": "", "created_at": _t(1), "updated_at": _t(1)}],
        "ticket_fields": ticket_fields(),
        "contact_fields": [
            _field(1, "name", "Full name", "default_name", default=True),
            _field(20, "plan_tier", "Plan tier", "custom_dropdown", choices=["Free", "Pro", "Enterprise"]),
            _field(21, "newsletter", "Newsletter", "custom_checkbox"),
            _field(22, "signup_date", "Signup date", "custom_date"),
        ],
        "company_fields": [
            _field(1, "name", "Company Name", "default_name", default=True),
            _field(30, "region", "Region", "custom_dropdown", choices=["Europe", "North America"]),
            _field(31, "contract_value", "Contract value", "custom_number"),
        ],
        "tickets": tickets,
        "conversations": conversations,
        "categories": [
            {"id": 1, "name": "Getting started", "description": "First steps", "created_at": _t(1), "updated_at": _t(1),
             "tr": {"fr": {"name": "Premiers pas", "description": "Les débuts"}}},
        ],
        "folders": [
            {"id": 4, "category_id": 1, "name": "Installation", "description": "Install guides", "parent_folder_id": None, "visibility": 1,
             "articles_count": 1, "sub_folders_count": 1, "created_at": _t(1), "updated_at": _t(1), "tr": {"fr": {"name": "Installation FR"}}},
            {"id": 5, "category_id": 1, "name": "Advanced", "description": None, "parent_folder_id": 4, "visibility": 1,
             "articles_count": 1, "sub_folders_count": 0, "created_at": _t(2), "updated_at": _t(2), "tr": {}},
        ],
        "articles": [
            {"id": 400, "type": 1, "category_id": 1, "folder_id": 4, "agent_id": 50, "title": "How to install Acme", "status": 2,
             "description": '<p>Download it.</p><img src="{FILES}/8000/screen.png?X-Amz-Signature={SIG}" alt="screen">',
             "description_text": "Download it.", "tags": ["install"], "seo_data": {"meta_keywords": "install, setup"},
             "hits": 10, "thumbs_up": 2, "thumbs_down": 0, "created_at": _t(1), "updated_at": _t(2),
             "tr": {"fr": {"title": "Comment installer Acme", "description": "<p>Téléchargez-le.</p>", "status": 2}}},
            {"id": 401, "type": 1, "category_id": 1, "folder_id": 5, "agent_id": 51, "title": "Tuning", "status": 1,
             "description": "<p>Draft tuning notes</p>", "description_text": "Draft tuning notes", "tags": [],
             "seo_data": {}, "hits": 0, "thumbs_up": 0, "thumbs_down": 0, "created_at": _t(3), "updated_at": _t(3), "tr": {}},
        ],
    }


def ticket_fields() -> list[dict[str, Any]]:
    """Default fields with their code choices, and a custom field of every type (the nested one with its levels)."""
    return [
        _field(1, "requester", "Search a requester", "default_requester", default=True),
        _field(2, "subject", "Subject", "default_subject", default=True),
        _field(3, "ticket_type", "Type", "default_ticket_type", default=True, choices=["Question", "Incident", "Problem", "Feature Request"]),
        _field(4, "source", "Source", "default_source", default=True, choices={"Email": 1, "Portal": 2, "Phone": 3, "Chat": 7, "Feedback Widget": 9, "Outbound Email": 10}),
        _field(5, "status", "Status", "default_status", default=True, choices={
            "2": ["Open", "Being Processed"], "3": ["Pending", "Awaiting your Reply"], "4": ["Resolved", "This ticket has been Resolved"],
            "5": ["Closed", "This ticket has been Closed"], "6": ["Waiting on Customer", "Awaiting your Reply"]}),
        _field(6, "priority", "Priority", "default_priority", default=True, choices={"Low": 1, "Medium": 2, "High": 3, "Urgent": 4}),
        _field(7, "group", "Group", "default_group", default=True, choices={"Billing": 1, "Hardware": 2}),
        _field(10, "cf_order_number", "Order number", "custom_text"),
        _field(11, "cf_product", "Product line", "custom_dropdown", choices=["Widget Pro", "Gadget"]),
        _field(12, "cf_refund_amount", "Refund amount", "custom_decimal"),
        _field(13, "cf_vip", "VIP customer", "custom_checkbox"),
        _field(14, "cf_ordered_on", "Ordered on", "custom_date"),
        _field(15, "cf_units", "Units", "custom_number"),
        _field(16, "cf_notes", "Internal notes", "custom_paragraph"),
        {**_field(17, "cf_country", "Country", "nested_field", choices={"France": {"Lyon": [], "Paris": []}}),
         "nested_ticket_fields": [{"id": 3, "name": "cf_city", "label": "City", "label_in_portal": "City", "level": 2, "ticket_field_id": 17,
                                   "created_at": _t(1), "updated_at": _t(1)}]},
    ]


def _field(fid: int, name: str, label: str, type_: str, *, default: bool = False, choices: Any = None) -> dict[str, Any]:
    field_ = {"id": fid, "name": name, "label": label, "description": "", "position": fid, "type": type_, "default": default,
              "required_for_closure": False, "required_for_agents": False, "created_at": _t(1), "updated_at": _t(1)}
    if choices is not None:
        field_["choices"] = choices
    return field_


def _ticket(tid: int, subject: str, status: int, priority: int, source: int, requester: int, responder: int | None, group: int | None,
            created: str, updated: str, *, tags: list[str] | None = None, custom: dict[str, Any] | None = None,
            spam: bool = False, deleted: bool = False) -> dict[str, Any]:
    return {
        "id": tid, "subject": subject, "description": f"<div>{subject}</div>", "description_text": subject,
        "status": status, "priority": priority, "source": source, "type": "Question", "requester_id": requester,
        "responder_id": responder, "group_id": group, "company_id": 100 if requester == 10 else None, "product_id": None,
        "email_config_id": None, "to_emails": None, "cc_emails": [], "fwd_emails": [], "reply_cc_emails": [], "fr_escalated": False,
        "spam": spam, "deleted": deleted, "is_escalated": False, "tags": tags or [], "due_by": _t(20), "fr_due_by": _t(19),
        "custom_fields": {"cf_order_number": None, "cf_product": None, "cf_refund_amount": None, "cf_vip": False,
                          "cf_ordered_on": None, "cf_units": None, "cf_notes": None, "cf_country": None, "cf_city": None, **(custom or {})},
        "attachments": [], "created_at": created, "updated_at": updated,
    }


def _conversation(cid: int, ticket: int, user: int, html: str, text: str, incoming: bool, private: bool, source: int, created: str,
                  attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": cid, "ticket_id": ticket, "user_id": user, "body": html, "body_text": text, "incoming": incoming, "private": private,
            "source": source, "support_email": None, "from_email": None, "to_emails": [], "cc_emails": [], "bcc_emails": [],
            "attachments": attachments or [], "created_at": created, "updated_at": created, "last_edited_at": None}


def _attachment(aid: int, name: str, content_type: str, size: int) -> dict[str, Any]:
    return {"id": aid, "name": name, "content_type": content_type, "size": size, "attachment_url": "", "created_at": _t(1), "updated_at": _t(1)}


def _company(cid: int, name: str, domains: list[str], updated: str, custom: dict[str, Any], *, health: str | None = None, tier: str | None = None,
             renewal: str | None = None, industry: str | None = None) -> dict[str, Any]:
    return {"id": cid, "name": name, "description": f"{name} description", "note": None, "domains": domains, "health_score": health,
            "account_tier": tier, "renewal_date": renewal, "industry": industry, "custom_fields": custom, "created_at": _t(1), "updated_at": updated}


def _contact(cid: int, name: str, email: str | None, updated: str, *, company: int | None = None, others: list[int] | None = None,
             tags: list[str] | None = None, phone: str | None = None, custom: dict[str, Any] | None = None,
             other_emails: list[str] | None = None, deleted: bool = False) -> dict[str, Any]:
    contact = {"id": cid, "name": name, "email": email, "other_emails": other_emails or [], "phone": phone, "mobile": None,
               "twitter_id": None, "unique_external_id": None, "company_id": company, "view_all_tickets": False,
               "job_title": None, "language": "en", "time_zone": "Paris", "tags": tags or [], "active": email is not None,
               "address": None, "description": None, "custom_fields": custom or {}, "created_at": _t(1), "updated_at": updated}
    if others:
        contact["other_companies"] = others
    if deleted:
        contact["deleted"] = True
    return contact


def _agent(aid: int, name: str, email: str, active: bool) -> dict[str, Any]:
    return {"id": aid, "available": True, "occasional": False, "signature": None, "ticket_scope": 1, "type": "support_agent",
            "created_at": _t(1), "updated_at": _t(1), "available_since": None,
            "contact": {"active": active, "email": email, "job_title": None, "language": "en", "last_login_at": None,
                        "mobile": None, "name": name, "phone": None, "time_zone": "Paris", "created_at": _t(1), "updated_at": _t(1)}}


# -- the messy account ------------------------------------------------------------------------------

MESSY_ADMIN, MESSY_AGENT, MESSY_OCCASIONAL_AGENT = 50, 51, 52
MESSY_FIRST_CONTACT = 100
MESSY_DELETED_CONTACT = 190
# Ticket id → the teammate (agent id = their user id, the id tickets name as requester_id) who requested it.
MESSY_TEAMMATE_TICKETS = {3036: MESSY_ADMIN, 3037: MESSY_AGENT, 3038: MESSY_OCCASIONAL_AGENT}
MESSY_DELETED_REQUESTER_TICKETS = (3040, 3041)
MESSY_OUTBOUND_EVERY = 7  # every 7th ticket (index 3, 10, ...) is an outbound email: the agent wrote its description


def messy_account() -> dict[str, Any]:
    """An account like a real one (see tests/fakes/messy.py): 36 contacts with national phones, their language and Rails
    time zone, custom fields holding dates as typed and "gold" in a number; three agents who requested tickets of their
    own; a deleted contact who requested two; 41 tickets. Same settings and solutions as the default account."""
    base = default_account()
    contacts = []
    for person in PEOPLE:
        contact = _contact(MESSY_FIRST_CONTACT + person.number, person.name, person.email, _t(2, 8 + person.number % 10), phone=person.phone,
                           custom={"signup_date": person.signup, "seats": person.seats, "plan_tier": "Enterprise" if person.number % 4 == 0 else "Free"})
        contact.update(language=person.locale, time_zone=person.rails_tz)
        if person.number % 6 == 5:
            contact["mobile"] = "+1 555 0100"
        contacts.append(contact)
    contacts.append(_contact(MESSY_DELETED_CONTACT, "Forget Me", "forget.me@example.com", _t(3), deleted=True))
    tickets, conversations = [], {}
    for index, person in enumerate(PEOPLE):
        tid, requester, day = 3000 + index, MESSY_FIRST_CONTACT + person.number, 1 + index % 20
        outbound = index % MESSY_OUTBOUND_EVERY == 3
        units: Any = "gold" if index == 5 else index % 9
        ticket = _ticket(tid, SUBJECTS[index % len(SUBJECTS)], (2, 3, 4, 5)[index % 4], 1, 10 if outbound else (1, 2, 3, 7)[index % 4], requester,
                         MESSY_AGENT, 1, _t(day), _t(day, 15), custom={"cf_order_date": person.signup, "cf_units": units})
        tickets.append(ticket)
        conversations[tid] = [_conversation(tid * 10, tid, MESSY_AGENT, "<div>Thanks, looking into it.</div>", "Thanks, looking into it.", False, False, 0, _t(day, 11))]
    for tid, requester in MESSY_TEAMMATE_TICKETS.items():
        tickets.append(_ticket(tid, f"Internal request {tid}", 2, 1, 2, requester, MESSY_AGENT, 1, _t(21), _t(21, 12)))
        conversations[tid] = [_conversation(tid * 10, tid, MESSY_AGENT, "<div>Done.</div>", "Done.", False, True, 2, _t(21, 11))]
    for tid in MESSY_DELETED_REQUESTER_TICKETS:
        tickets.append(_ticket(tid, "Please forget me", 5, 1, 1, MESSY_DELETED_CONTACT, MESSY_AGENT, None, _t(22), _t(22, 12)))
    return {
        **base,
        "contacts": contacts,
        "agents": [_agent(MESSY_ADMIN, "Ada Admin", "ada@acme.example", True), _agent(MESSY_AGENT, "Bob Agent", "bob@acme.example", True),
                   {**_agent(MESSY_OCCASIONAL_AGENT, "Cleo Occasional", "cleo@acme.example", False), "occasional": True}],
        "contact_fields": [
            _field(1, "name", "Full name", "default_name", default=True),
            _field(20, "plan_tier", "Plan tier", "custom_dropdown", choices=["Free", "Pro", "Enterprise"]),
            _field(22, "signup_date", "Signup date", "custom_text"),
            _field(23, "seats", "Seats", "custom_number"),
        ],
        "ticket_fields": [*ticket_fields(), _field(18, "cf_order_date", "Order date", "custom_text")],
        "tickets": tickets,
        "conversations": conversations,
    }
