"""A fake Zendesk on 127.0.0.1: a small account served in Zendesk's real response shapes, with fault switches.

Usage:
    with FakeZendesk() as fake:            # or FakeZendesk(account).start() ... .stop()
        base_url = fake.base_url            # http://127.0.0.1:<port>
        fake.fail_next("incremental/users", 429, retry_after=1)
        fake.help_center_forbidden = True
        fake.touch("users", 10, name="New name")   # bump updated_at: the next delta read sees it
        fake.requests                       # [RecordedRequest(method, path, query, authorized)]

Credentials accepted: Basic "{email}/token:{token}" or "Bearer {oauth_token}" (FAKE_EMAIL, FAKE_TOKEN, FAKE_OAUTH_TOKEN).
"""

from __future__ import annotations

import base64
import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.fakes.base import FakeVendorServer, RecordedRequest, iso_z, send_json, update_record
from tests.fakes.messy import PEOPLE, SUBJECTS

FAKE_SUBDOMAIN = "acme"
FAKE_EMAIL = "migrator@acme.example"
FAKE_TOKEN = "fake-zendesk-api-token-0123456789"
FAKE_OAUTH_TOKEN = "fake-zendesk-oauth-token-9876543210"


@dataclass
class FakeZendesk(FakeVendorServer):
    """Serves `account` (see `default_account()` for its shape) under /api/v2 on an ephemeral loopback port."""

    vendor: ClassVar[str] = "Zendesk"

    account: dict[str, Any] | None = None
    email: str = FAKE_EMAIL
    token: str = FAKE_TOKEN
    oauth_token: str = FAKE_OAUTH_TOKEN
    help_center_forbidden: bool = False
    # Tickets show_many leaves out (as an archived one may be): GET /tickets/{id} still answers them.
    archived: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.account = copy.deepcopy(self.account) if self.account is not None else default_account()

    # -- switches ---------------------------------------------------------------------------------

    def touch(self, collection: str, record_id: int, **changes: Any) -> None:
        """Change a record and move its updated_at to now, as an edit in Zendesk would."""
        record = update_record(self.account, collection, record_id, changes)
        record["updated_at"] = iso_z(datetime.now(UTC) - timedelta(minutes=2))

    # -- request handling -------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        authorized = self._authorized(handler.headers.get("Authorization"))
        self.requests.append(RecordedRequest("GET", parts.path, query, authorized))
        if not authorized:
            return _send(handler, 401, {"error": "Couldn't authenticate you"})
        fault = self._take_fault(parts.path)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            body = {"error": "TooManyRequests" if fault.status == 429 else "ServerError", "description": f"injected {fault.status}"}
            return _send(handler, fault.status, body, headers)
        path = re.sub(r"\.json$", "", parts.path.removeprefix("/api/v2/"))
        if path in self.unavailable:
            return _send(handler, *_refusal(self.unavailable[path]))
        if path.startswith("help_center") and self.help_center_forbidden:
            return _send(handler, 403, {"error": "Forbidden", "description": "You do not have access to this page"})
        try:
            status, body = self._route(path, query)
        except KeyError as exc:
            status, body = 404, {"error": "RecordNotFound", "description": f"Not found: {exc}"}
        _send(handler, status, body)

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        if header == f"Bearer {self.oauth_token}":
            return True
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return header == f"Basic {expected}"

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        acc = self.account
        assert acc is not None
        if path == "incremental/organizations":
            return 200, self._time_export(path, "organizations", acc["organizations"], query)
        if path == "incremental/users/cursor":
            return 200, self._cursor_export(path, "users", acc["users"], query)
        if path == "incremental/tickets/cursor":
            body = self._cursor_export(path, "tickets", acc["tickets"], query)
            return 200, self._ticket_sideloads(body, query.get("include", ""))
        if path == "incremental/ticket_events":
            return 200, self._time_export(path, "ticket_events", self._ticket_events(query.get("include", "")), query, stamp_key="timestamp")
        if path == "help_center/incremental/articles":
            return 200, self._time_export(path, "articles", acc["articles"], query)
        if path in ("tickets/count", "users/count", "organizations/count"):
            # the count endpoints leave out what was deleted (the incremental exports still list it)
            name = path.split("/")[0]
            live = [record for record in acc[name] if not _deleted(record)]
            return 200, {"count": {"value": len(live), "refreshed_at": iso_z(datetime.now(UTC))}}
        if path == "users/show_many":
            wanted = {int(i) for i in query.get("ids", "").split(",") if i}
            return 200, {"users": [u for u in acc["users"] if u["id"] in wanted], "next_page": None, "previous_page": None, "count": len(wanted)}
        match = re.fullmatch(r"tickets/(\d+)", path)
        if match:
            ticket = next((t for t in acc["tickets"] if t["id"] == int(match.group(1))), None)
            if ticket is None:
                raise KeyError(path)
            return 200, {"ticket": ticket, **({"users": [u for u in acc["users"] if u["id"] in (ticket["requester_id"], ticket["assignee_id"])]}
                                              if "users" in query.get("include", "") else {})}
        if path in ("tickets/show_many", "organizations/show_many"):
            # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-multiple-tickets (up to 100 ids)
            name = path.split("/")[0]
            wanted = {int(i) for i in query.get("ids", "").split(",") if i}
            assert len(wanted) <= 100, "show_many takes at most 100 ids"
            archived = set(self.archived) if name == "tickets" else set()
            body = {name: [r for r in acc[name] if r["id"] in wanted - archived], "next_page": None, "previous_page": None, "count": len(wanted)}
            return 200, self._ticket_sideloads(body, query.get("include", "")) if name == "tickets" else body
        if path == "account/settings":
            return 200, {"settings": acc["settings"]}
        match = re.fullmatch(r"tickets/(\d+)/comments", path)
        if match:
            comments = acc["comments"].get(int(match.group(1)))
            if comments is None:
                raise KeyError(path)
            body = self._list(path, "comments", comments, query)
            if "users" in query.get("include", ""):
                authors = {c["author_id"] for c in body["comments"]}
                body["users"] = [u for u in acc["users"] if u["id"] in authors]
            return 200, body
        match = re.fullmatch(r"help_center/(categories|sections)/(\d+)/translations", path)
        if match:
            translations = acc.get("category_translations" if match.group(1) == "categories" else "section_translations", {})
            return 200, self._list(path, "translations", translations.get(int(match.group(2)), []), query)
        match = re.fullmatch(r"help_center/articles/(\d+)/(translations|attachments)", path)
        if match:
            article_id, kind = int(match.group(1)), match.group(2)
            source = acc["article_translations" if kind == "translations" else "article_attachments"].get(article_id, [])
            return 200, self._list(path, "translations" if kind == "translations" else "article_attachments", source, query)
        lists = {
            "ticket_fields": "ticket_fields",
            "ticket_forms": "ticket_forms",
            "groups": "groups",
            "user_fields": "user_fields",
            "organization_fields": "organization_fields",
            "organization_memberships": "organization_memberships",
            "help_center/categories": "categories",
            "help_center/sections": "sections",
            "brands": "brands",
        }
        if path in lists:
            return 200, self._list(path, lists[path], acc[lists[path]], query)
        raise KeyError(path)

    # -- pagination, as Zendesk does it -----------------------------------------------------------

    def _url(self, path: str, params: dict[str, Any]) -> str:
        return f"{self.base_url}/api/v2/{path}.json?{urlencode(params)}"

    def _cursor_export(self, path: str, key: str, records: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        """Incremental cursor export: ordered by (updated time, id); after_cursor is returned even on the last page."""
        per_page = int(query.get("per_page", 1000))
        ordered = sorted(records, key=_stamp_and_id)
        if "cursor" in query:
            stamp, last_id = _decode_cursor(query["cursor"])
            remaining = [r for r in ordered if _stamp_and_id(r) > (stamp, last_id)]
        else:
            start = int(query.get("start_time", 0))
            remaining = [r for r in ordered if _stamp(r) >= start]
        page, rest = remaining[:per_page], remaining[per_page:]
        after = _encode_cursor(*_stamp_and_id(page[-1])) if page else query.get("cursor")
        params = {"cursor": after} if after else {"start_time": query.get("start_time", 0)}
        return {
            key: page,
            "after_cursor": after,
            "after_url": self._url(path, params),
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": not rest,
        }

    def _time_export(self, path: str, key: str, records: list[dict[str, Any]], query: dict[str, str], stamp_key: str = "updated_at") -> dict[str, Any]:
        """Time-based export: items with time >= start_time; the last item's time is end_time and comes again next page."""
        per_page = int(query.get("per_page", 1000))
        start = int(query.get("start_time", 0))
        ordered = sorted((r for r in records if _stamp(r, stamp_key) >= start), key=lambda r: (_stamp(r, stamp_key), r["id"]))
        page = ordered[:per_page]
        end_time = _stamp(page[-1], stamp_key) if page else start
        end_of_stream = len(ordered) <= per_page
        params: dict[str, Any] = {"start_time": end_time, "per_page": per_page}
        if query.get("include"):
            params["include"] = query["include"]
        return {key: page, "count": len(page), "end_time": end_time, "next_page": None if end_of_stream else self._url(path, params), "end_of_stream": end_of_stream}

    def _list(self, path: str, key: str, records: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        """Cursor pagination when page[size] is given (meta/links), else one offset page with next_page null."""
        if "page[size]" not in query:
            return {key: records, "next_page": None, "previous_page": None, "count": len(records)}
        size = int(query["page[size]"])
        start = int(base64.urlsafe_b64decode(query["page[after]"]).decode()) if query.get("page[after]") else 0
        page = records[start : start + size]
        has_more = start + size < len(records)
        after = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        params = {k: v for k, v in query.items() if k not in ("page[after]",)}
        return {
            key: page,
            "meta": {"has_more": has_more, "after_cursor": after if has_more else None, "before_cursor": None},
            "links": {"next": self._url(path, {**params, "page[after]": after}) if has_more else None, "prev": None},
        }

    def _ticket_sideloads(self, body: dict[str, Any], include: str) -> dict[str, Any]:
        acc = self.account
        assert acc is not None
        if "users" in include:
            wanted = {t.get(k) for t in body["tickets"] for k in ("requester_id", "submitter_id", "assignee_id")}
            body["users"] = [u for u in acc["users"] if u["id"] in wanted]
        if "metric_sets" in include:
            body["metric_sets"] = [m for m in acc["metric_sets"] if m["ticket_id"] in {t["id"] for t in body["tickets"]}]
        return body

    def _ticket_events(self, include: str) -> list[dict[str, Any]]:
        """One audit event per comment; with include=comment_events the comment itself is a child event."""
        acc = self.account
        assert acc is not None
        events = []
        for ticket_id, comments in acc["comments"].items():
            for comment in comments:
                if "comment_events" in include:
                    child = {k: v for k, v in comment.items() if k != "plain_body"}
                    child.update({"event_type": "Comment", "type": "Comment", "via_reference_id": None})
                else:
                    child = {"id": comment["id"] + 1, "event_type": "Change", "comment_present": True, "comment_public": comment["public"]}
                events.append(
                    {
                        "id": comment["id"] * 10,
                        "ticket_id": ticket_id,
                        "timestamp": _stamp(comment, "created_at"),
                        "created_at": comment["created_at"],
                        "updater_id": comment["author_id"],
                        "via": comment.get("via", {"channel": "web"}),
                        "system": {},
                        "event_type": "Audit",
                        "merged_ticket_ids": [],
                        "child_events": [child],
                    }
                )
        return events


def _refusal(status: int) -> tuple[int, dict[str, Any]]:
    """Zendesk's bodies for an endpoint this plan or role is not served."""
    if status == 403:
        return 403, {"error": "Forbidden", "description": "You do not have access to this page. Please contact the account owner of this help desk for further help."}
    return status, {"error": "InvalidEndpoint", "description": "Not found"}


def _send(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    send_json(handler, status, body, {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699", **(headers or {})})


def _stamp(record: dict[str, Any], key: str = "updated_at") -> int:
    value = record[key]
    if isinstance(value, int):
        return value
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def _stamp_and_id(record: dict[str, Any]) -> tuple[int, int]:
    return _stamp(record), record["id"]


def _encode_cursor(stamp: int, record_id: int) -> str:
    return base64.b64encode(f"{stamp}.0||{record_id}|".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, int]:
    stamp, _, rest = base64.b64decode(cursor).decode().partition("||")
    return int(float(stamp)), int(rest.strip("|"))


def _t(day: int, hour: int = 9) -> str:
    return f"2024-03-{day:02d}T{hour:02d}:00:00Z"


def _brand(bid: int, name: str, subdomain: str, host_mapping: str | None, default: bool = False) -> dict[str, Any]:
    return {"id": bid, "url": f"https://{subdomain}.zendesk.com/api/v2/brands/{bid}.json", "name": name, "brand_url": f"https://{subdomain}.zendesk.com",
            "subdomain": subdomain, "host_mapping": host_mapping, "has_help_center": True, "help_center_state": "enabled", "active": True,
            "default": default, "is_deleted": False, "logo": None, "ticket_form_ids": [], "signature_template": "{{agent.signature}}",
            "created_at": _t(1), "updated_at": _t(1)}


def default_account() -> dict[str, Any]:
    """A small account: 4 organizations (one deleted), 11 users (admin, agents, end-users, one deleted), 6 tickets
    (one deleted, one whose requester was deleted, a private note, HTML and unicode bodies, dropdown fields),
    and a Help Center with 2 categories, 3 sections (one nested) and 3 articles (a translation, a draft, attachments)."""
    users = [
        _user(1, "Ada Admin", "ada@acme.example", "admin", _t(1)),
        _user(2, "Bob Agent", "bob@acme.example", "agent", _t(1, 10)),
        _user(3, "Cleo Agent", "cleo@acme.example", "agent", _t(1, 11), suspended=True),
        _user(10, "Dana Customer", "dana@globex.example", "end-user", _t(2), org=100, fields={"plan_tier": "tier_enterprise", "signup_source": "webinar"}, tags=["vip"]),
        _user(11, "Zoë Ångström", "zoe@initech.example", "end-user", _t(2, 10), org=101, fields={"plan_tier": "tier_free"}, phone="+46701234567"),
        _user(12, "Émile Zola", "emile@acme.example", "end-user", _t(2, 11), org=100),
        _user(13, "山田 太郎", "taro@example.jp", "end-user", _t(2, 12)),
        _user(14, "Fay NoEmail", None, "end-user", _t(2, 13)),
        _user(15, "Gus Lead", "gus@umbrella.example", "end-user", _t(2, 14), org=102),
        _user(16, "Hana Buyer", "hana@globex.example", "end-user", _t(2, 15), org=100),
        _user(17, "Permanently Deleted User", None, "end-user", _t(2, 16), active=False),
    ]
    organizations = [
        _org(100, "Globex Corporation", ["globex.example", "globex.test"], _t(1, 8), fields={"account_manager": "Bob Agent", "region": "region_eu"}, tags=["enterprise"]),
        _org(101, "Initech", ["initech.example"], _t(1, 9), fields={"region": "region_us"}, group_id=11),
        _org(102, "Umbrella Ltd", [], _t(1, 10), details="Unit 4, Raccoon Way", notes="Slow payer"),
        {**_org(103, "Gone Inc", ["gone.example"], _t(1, 11)), "deleted_at": _t(1, 12)},
    ]
    tickets = [
        _ticket(1000, "Printer on fire", "open", "high", 10, 2, 10, _t(5), _t(6), channel="email", tags=["fire", "hardware"], fields=[(500, "widget_pro"), (501, "ORD-1001"), (502, True)], form=600, type_="incident"),
        _ticket(1001, "Refund for order ORD-7", "solved", "normal", 11, 2, 11, _t(5, 10), _t(7), channel="web", fields=[(500, "gadget"), (503, "19.99")], form=601, type_="question"),
        _ticket(1002, "Café menu ☕ not loading", "pending", "low", 12, 3, 10, _t(5, 11), _t(8), channel="api", fields=[(500, None)]),
        _ticket(1003, "Spam", "deleted", None, 13, None, None, _t(5, 12), _t(9)),
        _ticket(1004, "Old question", "closed", "normal", 17, 2, 10, _t(5, 13), _t(10), channel="chat"),
        _ticket(1005, "HTML & <b>bold</b> subject", "hold", "urgent", 16, None, 11, _t(5, 14), _t(11), channel="web", tags=["escalated"]),
    ]
    comments = {
        1000: [
            _comment(5000, 10, "<p>My printer is <strong>on fire</strong>!</p>", "My printer is on fire!", True, _t(5)),
            _comment(5001, 2, "<p>Please unplug it.</p>", "Please unplug it.", True, _t(5, 12)),
            _comment(5002, 2, "<p>Internal: check warranty</p>", "Internal: check warranty", False, _t(5, 13)),
            _comment(
                5003, 10, "<p>Photo attached <img src=\"https://acme.zendesk.com/attachments/token/x/?name=fire.png\"></p>", "Photo attached", True, _t(5, 14),
                attachments=[_attachment(9000, "fire.png", "image/png", 2048, inline=True), _attachment(9001, "receipt.pdf", "application/pdf", 10240)],
            ),
        ],
        1001: [
            _comment(5010, 11, "<p>Hej! Jag vill ha återbetalning för ORD-7 — tack 🙏</p>", "Hej! Jag vill ha återbetalning för ORD-7 — tack 🙏", True, _t(5, 10)),
            _comment(5011, 2, "<p>Refund issued.</p>", "Refund issued.", True, _t(6)),
            _comment(5012, -1, "<p>Ticket solved by trigger</p>", "Ticket solved by trigger", False, _t(7)),
        ],
        1002: [
            _comment(5020, 12, "<div class=\"zd-comment\"><p>Le menu du café ne charge pas.</p></div>", "Le menu du café ne charge pas.", True, _t(5, 11)),
            _comment(5021, 3, "<p>Private: reproduced on Safari</p>", "Private: reproduced on Safari", False, _t(6, 9)),
        ],
        1003: [_comment(5030, 13, "<p>buy now</p>", "buy now", True, _t(5, 12))],
        1004: [_comment(5040, 17, "<p>Where is my order?</p>", "Where is my order?", True, _t(5, 13)), _comment(5041, 2, "<p>Shipped.</p>", "Shipped.", True, _t(5, 15))],
        1005: [_comment(5050, 16, "<p>Use &lt;b&gt; tags &amp; more</p><ul><li>one</li></ul>", "Use <b> tags & more\n- one", True, _t(5, 14))],
    }
    return {
        "settings": {"user": {"multiple_organizations": True, "tagging": True}},
        # https://developer.zendesk.com/api-reference/ticketing/account-configuration/brands/ (host_mapping: a help center's own domain)
        "brands": [_brand(1, "Acme", "acme", None, default=True)],
        "groups": [_group(10, "Support"), _group(11, "Billing")],
        "ticket_fields": [
            {"id": 1, "type": "subject", "title": "Subject", "active": True},
            _field(500, "tagger", "Product", options=[("Widget Pro", "widget_pro"), ("Gadget", "gadget")]),
            _field(501, "text", "Order number"),
            _field(502, "checkbox", "Urgent customer"),
            _field(503, "decimal", "Refund amount"),
        ],
        "ticket_forms": [{"id": 600, "name": "Default form", "display_name": "Default", "ticket_field_ids": [1, 500, 501, 502]}, {"id": 601, "name": "Refund request", "display_name": "Refunds", "ticket_field_ids": [1, 500, 503]}],
        "user_fields": [
            _field(700, "dropdown", "Plan tier", key="plan_tier", options=[("Enterprise", "tier_enterprise"), ("Free", "tier_free")]),
            _field(701, "text", "Signup source", key="signup_source"),
        ],
        "organization_fields": [
            _field(800, "text", "Account manager", key="account_manager"),
            _field(801, "dropdown", "Region", key="region", options=[("Europe", "region_eu"), ("United States", "region_us")]),
        ],
        "organization_memberships": [
            {"id": 900, "user_id": 10, "organization_id": 100, "default": True, "organization_name": "Globex Corporation"},
            {"id": 901, "user_id": 10, "organization_id": 101, "default": False, "organization_name": "Initech"},
            {"id": 902, "user_id": 11, "organization_id": 101, "default": True, "organization_name": "Initech"},
            {"id": 903, "user_id": 12, "organization_id": 100, "default": True, "organization_name": "Globex Corporation"},
            {"id": 904, "user_id": 15, "organization_id": 102, "default": True, "organization_name": "Umbrella Ltd"},
            {"id": 905, "user_id": 16, "organization_id": 100, "default": True, "organization_name": "Globex Corporation"},
        ],
        "organizations": organizations,
        "users": users,
        "tickets": tickets,
        "metric_sets": [{"id": 7001, "ticket_id": 1001, "solved_at": _t(7), "reopens": 0, "replies": 1}, {"id": 7004, "ticket_id": 1004, "solved_at": _t(5, 16), "reopens": 0, "replies": 1}],
        "comments": comments,
        "categories": [_category(200, "Getting started", 1, "First steps with Acme"), _category(201, "Billing", 2, "")],
        "sections": [
            _section(300, 200, None, "Installation", 1),
            _section(301, 200, 300, "Installation on macOS", 1),
            _section(302, 201, None, "Invoices", 1),
        ],
        "articles": [
            _article(400, 300, "How to install Acme", "<h2>Install</h2><p>Run <code>acme install</code>.</p>", _t(3), draft=False, labels=["install"]),
            _article(401, 301, "macOS notes (draft)", "<p>Work in progress</p>", _t(3, 10), draft=True),
            _article(402, 302, "Reading your invoice", "<p>See the attached sample <img src=\"https://acme.zendesk.com/hc/article_attachments/9100/sample.png\"></p>", _t(3, 11)),
        ],
        "article_translations": {
            400: [
                _translation(1400, 400, "en-us", "How to install Acme", "<h2>Install</h2><p>Run <code>acme install</code>.</p>"),
                _translation(1401, 400, "fr", "Comment installer Acme", "<h2>Installer</h2><p>Lancez <code>acme install</code>.</p>"),
            ],
            401: [_translation(1410, 401, "en-us", "macOS notes (draft)", "<p>Work in progress</p>", draft=True)],
            402: [_translation(1420, 402, "en-us", "Reading your invoice", "<p>See the attached sample</p>")],
        },
        "article_attachments": {
            402: [
                {"id": 9100, "article_id": 402, "file_name": "sample.png", "content_type": "image/png", "content_url": "https://acme.zendesk.com/hc/article_attachments/9100/sample.png", "size": 4096, "inline": True, "created_at": _t(3, 11), "updated_at": _t(3, 11)},
                {"id": 9101, "article_id": 402, "file_name": "invoice-guide.pdf", "content_type": "application/pdf", "content_url": "https://acme.zendesk.com/hc/article_attachments/9101/invoice-guide.pdf", "size": 90000, "inline": False, "created_at": _t(3, 11), "updated_at": _t(3, 11)},
            ]
        },
    }


def _user(uid: int, name: str, email: str | None, role: str, updated: str, *, org: int | None = None, fields: dict[str, Any] | None = None,
          tags: list[str] | None = None, phone: str | None = None, active: bool = True, suspended: bool = False) -> dict[str, Any]:
    return {
        "id": uid, "url": f"https://acme.zendesk.com/api/v2/users/{uid}.json", "name": name, "email": email, "phone": phone, "role": role,
        "role_type": None if role == "end-user" else 0, "organization_id": org, "external_id": None, "tags": tags or [], "alias": "",
        "active": active, "suspended": suspended, "verified": True, "shared": False, "time_zone": "Europe/Stockholm", "locale": "en-US",
        "locale_id": 1, "details": "", "notes": "", "user_fields": {"plan_tier": None, "signup_source": None, **(fields or {})},
        "created_at": "2024-01-15T08:00:00Z", "updated_at": updated, "last_login_at": "2024-02-20T12:30:00Z" if active else None,
    }


def _org(oid: int, name: str, domains: list[str], updated: str, *, fields: dict[str, Any] | None = None, tags: list[str] | None = None,
         group_id: int | None = None, details: str = "", notes: str = "") -> dict[str, Any]:
    return {
        "id": oid, "url": f"https://acme.zendesk.com/api/v2/organizations/{oid}.json", "name": name, "domain_names": domains, "details": details,
        "notes": notes, "external_id": None, "group_id": group_id, "shared_tickets": False, "shared_comments": False, "tags": tags or [],
        "organization_fields": {"account_manager": None, "region": None, **(fields or {})}, "created_at": "2023-11-01T10:00:00Z", "updated_at": updated,
        "deleted_at": None,
    }


def _deleted(record: dict[str, Any]) -> bool:
    """A ticket, user or organization deleted in Zendesk, as the incremental exports show it."""
    return record.get("status") == "deleted" or record.get("active") is False or bool(record.get("deleted_at"))


def _ticket(tid: int, subject: str, status: str, priority: str | None, requester: int, assignee: int | None, group: int | None, created: str, updated: str,
            *, channel: str = "web", tags: list[str] | None = None, fields: list[tuple[int, Any]] | None = None, form: int | None = None, type_: str | None = None) -> dict[str, Any]:
    return {
        "id": tid, "url": f"https://acme.zendesk.com/api/v2/tickets/{tid}.json", "external_id": None, "type": type_, "subject": subject, "raw_subject": subject,
        "description": "", "priority": priority, "status": status, "requester_id": requester, "submitter_id": requester, "assignee_id": assignee,
        "organization_id": None, "group_id": group, "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [], "has_incidents": False, "is_public": True,
        "tags": tags or [], "custom_fields": [{"id": fid, "value": value} for fid, value in (fields or [])], "ticket_form_id": form, "brand_id": 1,
        "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}}, "satisfaction_rating": None,
        "created_at": created, "updated_at": updated, "generated_timestamp": _stamp({"updated_at": updated}),
    }


def _comment(cid: int, author: int, html: str, plain: str, public: bool, created: str, attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": cid, "type": "Comment", "author_id": author, "body": plain, "html_body": html, "plain_body": plain, "public": public,
        "attachments": attachments or [], "audit_id": cid * 10, "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": created, "metadata": {"system": {}, "custom": {}},
    }


def _attachment(aid: int, name: str, content_type: str, size: int, inline: bool = False) -> dict[str, Any]:
    return {
        "id": aid, "file_name": name, "content_url": f"https://acme.zendesk.com/attachments/token/{aid}/?name={name}",
        "mapped_content_url": f"https://acme.zendesk.com/attachments/token/{aid}/?name={name}", "content_type": content_type, "size": size,
        "inline": inline, "deleted": False, "malware_scan_result": "malware_not_found", "thumbnails": [],
    }


def _group(gid: int, name: str) -> dict[str, Any]:
    return {"id": gid, "name": name, "description": "", "default": gid == 10, "deleted": False, "is_public": True, "created_at": _t(1), "updated_at": _t(1)}


def _field(fid: int, type_: str, title: str, *, key: str | None = None, options: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    field_json: dict[str, Any] = {"id": fid, "type": type_, "title": title, "active": True, "description": "", "position": fid, "created_at": _t(1), "updated_at": _t(1)}
    if key:
        field_json["key"] = key
    if options:
        field_json["custom_field_options"] = [{"id": fid * 10 + i, "name": name, "raw_name": name, "value": value} for i, (name, value) in enumerate(options)]
    return field_json


def _category(cid: int, name: str, position: int, description: str) -> dict[str, Any]:
    return {
        "id": cid, "url": f"https://acme.zendesk.com/api/v2/help_center/en-us/categories/{cid}.json", "html_url": f"https://acme.zendesk.com/hc/en-us/categories/{cid}",
        "position": position, "created_at": _t(1), "updated_at": _t(1), "name": name, "description": description, "locale": "en-us", "source_locale": "en-us", "outdated": False,
    }


def _section(sid: int, category: int, parent: int | None, name: str, position: int) -> dict[str, Any]:
    return {
        "id": sid, "url": f"https://acme.zendesk.com/api/v2/help_center/en-us/sections/{sid}.json", "html_url": f"https://acme.zendesk.com/hc/en-us/sections/{sid}",
        "category_id": category, "parent_section_id": parent, "position": position, "sorting": "manual", "created_at": _t(1), "updated_at": _t(1),
        "name": name, "description": "", "locale": "en-us", "source_locale": "en-us", "outdated": False, "theme_template": "section_page",
    }


def _article(aid: int, section: int, title: str, body: str, updated: str, *, draft: bool = False, labels: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": aid, "url": f"https://acme.zendesk.com/api/v2/help_center/en-us/articles/{aid}.json", "html_url": f"https://acme.zendesk.com/hc/en-us/articles/{aid}",
        "author_id": 1, "comments_disabled": False, "draft": draft, "promoted": False, "position": 0, "vote_sum": 0, "vote_count": 0, "section_id": section,
        "created_at": "2024-02-01T09:00:00Z", "updated_at": updated, "edited_at": updated, "name": title, "title": title, "source_locale": "en-us", "locale": "en-us",
        "outdated": False, "outdated_locales": [], "permission_group_id": 1, "user_segment_id": None, "label_names": labels or [], "body": body,
    }


def _translation(tid: int, article: int, locale: str, title: str, body: str, draft: bool = False) -> dict[str, Any]:
    return {
        "id": tid, "url": f"https://acme.zendesk.com/api/v2/help_center/articles/{article}/translations/{locale}.json",
        "html_url": f"https://acme.zendesk.com/hc/{locale}/articles/{article}", "source_id": article, "source_type": "Article", "locale": locale,
        "title": title, "body": body, "outdated": False, "draft": draft, "hidden": False, "created_at": _t(3), "updated_at": _t(3), "updated_by_id": 1, "created_by_id": 1,
    }


# -- the messy account ------------------------------------------------------------------------------

MESSY_ADMIN, MESSY_AGENT, MESSY_SUSPENDED_AGENT, MESSY_API_AGENT = 1, 2, 3, 4
MESSY_DELETED_USER = 190
MESSY_FIRST_USER = 100
MESSY_TEAMMATE_TICKETS = {2036: MESSY_ADMIN, 2037: MESSY_AGENT, 2038: MESSY_SUSPENDED_AGENT, 2039: MESSY_API_AGENT, 2043: MESSY_ADMIN}
MESSY_DELETED_REQUESTER_TICKETS = (2040, 2041)
MESSY_DELETED_TICKET = 2042


def messy_account() -> dict[str, Any]:
    """An account like a real one (see tests/fakes/messy.py): 36 end-users with national phones, Rails and IANA zones and
    custom fields holding dates as typed and "gold" in a number; 4 teammates (one suspended) who open tickets of their own;
    a deleted user who requested two tickets; 44 tickets, one deleted. `refuse("ticket_forms", 403 or 404)` plays a plan
    without ticket forms."""
    teammates = [
        _user(MESSY_ADMIN, "Ada Admin", "ada@acme.example", "admin", _t(1, 8)),
        _user(MESSY_AGENT, "Bob Agent", "bob@acme.example", "agent", _t(1, 8)),
        _user(MESSY_SUSPENDED_AGENT, "Cleo Former", "cleo@acme.example", "agent", _t(1, 8), suspended=True),
        _user(MESSY_API_AGENT, "Integration Bot", "bot@acme.example", "agent", _t(1, 8)),
    ]
    teammates[0].update(time_zone="Pacific Time (US & Canada)", iana_time_zone="America/Los_Angeles", locale="en-US")
    orgs = [_org(50, "Globex", ["globex.example"], _t(1, 7)), _org(51, "Initech", ["initech.example"], _t(1, 7)), _org(52, "Umbrella", [], _t(1, 7))]
    end_users = []
    for person in PEOPLE:
        uid = MESSY_FIRST_USER + person.number
        user = _user(uid, person.name, person.email, "end-user", _t(2, 8 + person.number % 10), org=50 + person.number % 3, phone=person.phone,
                     fields={"signup_date": person.signup, "seats": person.seats, "plan_tier": "tier_enterprise" if person.number % 4 == 0 else "tier_free"})
        user.update(time_zone=person.rails_tz, locale=person.locale)
        if person.number % 5 != 4:  # some accounts' users predate iana_time_zone: only the Rails name
            user["iana_time_zone"] = person.iana_tz
        end_users.append(user)
    deleted = _user(MESSY_DELETED_USER, "Permanently Deleted User", None, "end-user", _t(3, 8), active=False)
    tickets, comments = [], {}
    for index, person in enumerate(PEOPLE):
        tid, uid, day = 2000 + index, MESSY_FIRST_USER + person.number, 4 + index % 20
        on_behalf = index % 7 == 3  # an agent opened it for the customer (a phone call): the agent writes first
        channel = "phone" if on_behalf else ("email" if index % 2 else "web")
        units: Any = "gold" if index == 5 else index % 9
        tickets.append(_ticket(tid, SUBJECTS[index % len(SUBJECTS)], ("open", "pending", "solved", "closed")[index % 4], "normal", uid, MESSY_AGENT, None,
                               _t(day, 9), _t(day, 15), channel=channel, fields=[(500, person.signup), (501, units)], form=600))
        first_author = MESSY_AGENT if on_behalf else uid
        comments[tid] = [
            _comment(tid * 10, first_author, f"<p>{SUBJECTS[index % len(SUBJECTS)]}</p>", SUBJECTS[index % len(SUBJECTS)], True, _t(day, 9)),
            _comment(tid * 10 + 1, MESSY_AGENT, "<p>Thanks, looking into it.</p>", "Thanks, looking into it.", True, _t(day, 11)),
        ]
    for tid, requester in MESSY_TEAMMATE_TICKETS.items():
        author = MESSY_AGENT if tid == 2043 else requester  # 2043: an agent logged it for the admin
        tickets.append(_ticket(tid, f"Internal request {tid}", "open", "low", requester, MESSY_AGENT, None, _t(25, 9), _t(25, 12), channel="api" if requester == MESSY_API_AGENT else "web", form=600))
        comments[tid] = [_comment(tid * 10, author, "<p>Please renew the SSL certificate.</p>", "Please renew the SSL certificate.", True, _t(25, 9)),
                         _comment(tid * 10 + 1, MESSY_AGENT, "<p>Done.</p>", "Done.", False, _t(25, 11))]
    for tid in MESSY_DELETED_REQUESTER_TICKETS:
        tickets.append(_ticket(tid, "Please forget me", "closed", "normal", MESSY_DELETED_USER, MESSY_AGENT, None, _t(26, 9), _t(26, 12), form=600))
        comments[tid] = [_comment(tid * 10, MESSY_DELETED_USER, "<p>Delete my data</p>", "Delete my data", True, _t(26, 9))]
    tickets.append(_ticket(MESSY_DELETED_TICKET, "Spam", "deleted", None, MESSY_FIRST_USER, None, None, _t(27, 9), _t(27, 10)))
    comments[MESSY_DELETED_TICKET] = [_comment(MESSY_DELETED_TICKET * 10, MESSY_FIRST_USER, "<p>buy now</p>", "buy now", True, _t(27, 9))]
    return {
        "settings": {"user": {"multiple_organizations": False, "tagging": True}},
        "brands": [_brand(1, "Acme", "acme", None, default=True)],
        "groups": [_group(10, "Support")],
        "ticket_fields": [
            {"id": 1, "type": "subject", "title": "Subject", "active": True},
            _field(500, "text", "Order date"),
            _field(501, "integer", "Units"),
        ],
        "ticket_forms": [{"id": 600, "name": "Default form", "display_name": "Default", "ticket_field_ids": [1, 500, 501]}],
        "user_fields": [
            _field(700, "dropdown", "Plan tier", key="plan_tier", options=[("Enterprise", "tier_enterprise"), ("Free", "tier_free")]),
            _field(701, "text", "Signup date", key="signup_date"),
            _field(702, "integer", "Seats", key="seats"),
        ],
        "organization_fields": [],
        "organization_memberships": [],
        "organizations": orgs,
        "users": teammates + end_users + [deleted],
        "tickets": tickets,
        "metric_sets": [],
        "comments": comments,
        "categories": [], "sections": [], "articles": [], "article_translations": {}, "article_attachments": {},
    }


# -- the stratified account (issue 15: a rehearsal must find every hard case) ------------------------------------------

STRATA_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
STRATA_PRIORITIES = ("low", "normal", "high", "urgent")
STRATA_TYPES = ("question", "incident", "problem", "task")
STRATA_LOCALES = ("en-US", "de", "fr", "ja")
STRATA_FORMS = {700: "Default", 701: "Refunds", 702: "Bug report"}
STRATA_BRANDS = {1: "Acme", 2: "Acme Kids"}
# The hard cases, each by the ticket(s) that hold it: two of each where a resample can pick another.
STRATA_LONG = 3100  # 520 comments: over Intercom's 500-part limit
STRATA_LONGER = (3101, 3102)  # 40 and 30 comments
STRATA_ATTACHMENTS = (3103, 3104)  # 6 and 5 files
STRATA_INLINE = (3105, 3106)  # 4 and 3 inline images
STRATA_TABLE, STRATA_CODE, STRATA_MEDIA = (3107, 3117), (3108, 3118), (3109, 3119)
STRATA_NOTES = (3110, 3120)
STRATA_BY_SUPPORT = (3111, 3121)  # an agent opened it for the customer (submitter ≠ requester)
STRATA_BY_TEAMMATE = (3112, 3122)  # an agent asked
STRATA_DELETED_REQUESTER = (3113,)
STRATA_SUSPENDED_REQUESTER = (3114,)
STRATA_MERGED = (3115, 3116)  # two people, one email in different case
STRATA_ARTICLE_LINK = 3123  # a reply links to a Help Center article
STRATA_PLAIN = tuple(range(3130, 3170))  # plain tickets whose metadata cycles through every status, priority, type, form, brand, language
STRATA_ARTICLES = {450: "Install Acme", 451: "Configure Acme", 452: "Billing FAQ"}  # 450 ↔ 451 link to each other; 452 from a ticket


def stratified_account() -> dict[str, Any]:
    """An account holding every stratum a rehearsal must cover (issue 15), in Zendesk's shapes: 64 live tickets over six
    statuses, four priorities, four types, three forms, two brands and four requester languages, with the hard cases
    above (a 520-comment thread, many attachments and inline images, tables, code, an embedded video, private notes,
    agent-opened and teammate tickets, a deleted and a suspended requester, two people sharing one email), and a Help
    Center whose articles link to each other."""
    agents = [_user(1, "Ada Admin", "ada@acme.example", "admin", _t(1, 8)), _user(2, "Bob Agent", "bob@acme.example", "agent", _t(1, 8))]
    customers = []
    for number in range(20):
        user = _user(200 + number, f"Customer {number}", f"customer{number}@example.com", "end-user", _t(2, 8), org=60 + number % 2)
        user["locale"] = STRATA_LOCALES[number % len(STRATA_LOCALES)]
        customers.append(user)
    customers[3]["suspended"] = True
    deleted = _user(290, "Permanently Deleted User", None, "end-user", _t(3, 8), active=False)
    twins = [_user(291, "Sam Case", "Sam.Case@example.com", "end-user", _t(2, 9)), _user(292, "Sam Case", "sam.case@example.com", "end-user", _t(2, 9))]
    tickets: list[dict[str, Any]] = []
    comments: dict[int, list[dict[str, Any]]] = {}

    def add(tid: int, thread: list[dict[str, Any]], *, requester: int | None = None, submitter: int | None = None,
            subject: str | None = None) -> None:
        index = len(tickets)  # each next ticket takes the next status, priority, type, form, brand and language
        customer = customers[index % len(customers)]["id"] if requester is None else requester
        ticket = _ticket(tid, subject or f"Case {tid}", STRATA_STATUSES[index % 6], STRATA_PRIORITIES[index % 4], customer, 2, 10,
                         _t(4 + index % 20, 9), _t(4 + index % 20, 15), channel=("email", "web", "api")[index % 3],
                         form=700 + index % 3, type_=STRATA_TYPES[index % 4])
        ticket["brand_id"] = 1 + index % 2
        ticket["submitter_id"] = submitter or customer
        tickets.append(ticket)
        comments[tid] = thread

    def says(tid: int, author: int, html: str, n: int = 0, *, public: bool = True, attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return _comment(tid * 1000 + n, author, html, re.sub(r"<[^>]+>", "", html), public, _t(4, 9 + n % 10), attachments=attachments)

    def chat(tid: int, length: int, customer: int = 200) -> list[dict[str, Any]]:
        return [says(tid, customer if n % 2 == 0 else 2, f"<p>Message {n} of {tid}</p>", n) for n in range(length)]

    add(STRATA_LONG, chat(STRATA_LONG, 520), subject="The endless thread")
    for tid, length in zip(STRATA_LONGER, (40, 30), strict=True):
        add(tid, chat(tid, length))
    for tid, files in zip(STRATA_ATTACHMENTS, (6, 5), strict=True):
        add(tid, [says(tid, 200, "<p>Logs attached</p>", attachments=[_attachment(tid * 10 + k, f"log{k}.txt", "text/plain", 100) for k in range(files)])])
    for tid, images in zip(STRATA_INLINE, (4, 3), strict=True):
        html = "".join(f'<p><img src="https://acme.zendesk.com/attachments/token/{tid * 10 + k}/?name=shot{k}.png"></p>' for k in range(images))
        add(tid, [says(tid, 200, html, attachments=[_attachment(tid * 10 + k, f"shot{k}.png", "image/png", 100, inline=True) for k in range(images)])])
    rich = {STRATA_TABLE: "<table><tr><th>Plan</th><th>Seats</th></tr><tr><td>Pro</td><td>12</td></tr></table>",
            STRATA_CODE: "<pre><code>curl -X POST https://api.acme.example/v1/reset</code></pre>",
            STRATA_MEDIA: '<p>Watch:</p><iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ"></iframe>'}
    for pair, html in rich.items():
        for tid in pair:
            add(tid, [says(tid, 200, "<p>Question</p>"), says(tid, 2, html, 1)])
    for tid in STRATA_NOTES:
        add(tid, [says(tid, 200, "<p>Help</p>"), says(tid, 2, "<p>Internal: escalate to tier 2</p>", 1, public=False)])
    for offset, tid in enumerate(STRATA_BY_SUPPORT):
        add(tid, [says(tid, 2, "<p>Logging your phone call</p>"), says(tid, 200 + offset, "<p>Thanks</p>", 1)], submitter=2)
    for tid in STRATA_BY_TEAMMATE:
        add(tid, [says(tid, 1, "<p>Please renew the certificate</p>")], requester=1, submitter=1)
    add(STRATA_DELETED_REQUESTER[0], [says(STRATA_DELETED_REQUESTER[0], 290, "<p>Forget me</p>")], requester=290)
    add(STRATA_SUSPENDED_REQUESTER[0], [says(STRATA_SUSPENDED_REQUESTER[0], 203, "<p>Still there?</p>")], requester=203)
    for offset, tid in enumerate(STRATA_MERGED):
        add(tid, [says(tid, 291 + offset, "<p>Same person, two accounts</p>")], requester=291 + offset)
    add(STRATA_ARTICLE_LINK, [says(STRATA_ARTICLE_LINK, 200, "<p>How do I pay?</p>"),
                                  says(STRATA_ARTICLE_LINK, 2, '<p>See <a href="https://acme.zendesk.com/hc/en-us/articles/452-Billing-FAQ">the FAQ</a></p>', 1)])
    for index, tid in enumerate(STRATA_PLAIN):
        add(tid, [says(tid, customers[index % len(customers)]["id"], "<p>A plain question</p>")])
    articles = [
        _article(450, 310, "Install Acme", '<p>Then <a href="https://acme.zendesk.com/hc/en-us/articles/451-Configure-Acme">configure it</a>.</p>', _t(3)),
        _article(451, 310, "Configure Acme", '<p>First <a href="/hc/en-us/articles/450">install it</a>.</p>', _t(3, 10)),
        _article(452, 311, "Billing FAQ", "<p>Invoices are monthly.</p>", _t(3, 11)),
        _article(453, 311, "Refund policy", "<p>30 days.</p>", _t(3, 12)),
    ]
    return {
        "settings": {"user": {"multiple_organizations": False, "tagging": True}},
        "brands": [_brand(bid, name, name.lower().replace(" ", ""), None, default=bid == 1) for bid, name in STRATA_BRANDS.items()],
        "groups": [_group(10, "Support")],
        "ticket_fields": [{"id": 1, "type": "subject", "title": "Subject", "active": True}],
        "ticket_forms": [{"id": fid, "name": name, "display_name": name, "ticket_field_ids": [1]} for fid, name in STRATA_FORMS.items()],
        "user_fields": [], "organization_fields": [], "organization_memberships": [],
        "organizations": [_org(60, "Globex", ["globex.example"], _t(1, 7)), _org(61, "Initech", ["initech.example"], _t(1, 7))],
        "users": agents + customers + [deleted, *twins],
        "tickets": tickets,
        "metric_sets": [{"id": 8000 + i, "ticket_id": t["id"], "solved_at": None, "reopens": 0,
                         "replies": sum(1 for c in comments[t["id"]] if c["author_id"] == 2 and c["public"])} for i, t in enumerate(tickets)],
        "comments": comments,
        "categories": [_category(210, "Guides", 1, "")],
        "sections": [_section(310, 210, None, "Setup", 1), _section(311, 210, None, "Billing", 2)],
        "articles": articles, "article_translations": {}, "article_attachments": {},
    }
