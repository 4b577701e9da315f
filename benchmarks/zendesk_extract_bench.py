"""Zendesk extract benchmark: a large generated fake account → `deskmigrate extract` in a subprocess.

Prints the Zendesk calls made per 1,000 tickets by endpoint (from the fake's request log), the records
staged, the wall time and the peak RSS of the extract process. The fake generates every page from the
record ids on demand, so it holds no list of users, tickets or comments whatever the size.

    python benchmarks/zendesk_extract_bench.py --tickets 20000 --comments 4 --users 5000
    python benchmarks/zendesk_extract_bench.py --tickets 2000 --users 500      # compare the peak RSS
    python benchmarks/zendesk_extract_bench.py --tickets 2000 --comments-strategy per_ticket   # what a delta read costs
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from tests.fakes.zendesk import FAKE_EMAIL, FAKE_SUBDOMAIN, FAKE_TOKEN, FakeZendesk, default_account  # noqa: E402

EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z: every generated timestamp counts up from here
AGENTS = 5  # user ids 1..AGENTS are agents (1 is the admin); the rest are end-users
USERS_PER_ORGANIZATION = 20
COLLABORATOR_EVERY = 10  # every 10th ticket has a comment by an end-user who is not on the ticket


def iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_cursor(record_id: int) -> str:
    return base64.b64encode(f"after|{record_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    return int(base64.b64decode(cursor).decode().partition("|")[2])


@dataclass(frozen=True)
class Shape:
    """The generated account's size and the timestamp ranges that order its exports."""

    tickets: int
    comments_per_ticket: int
    users: int

    @property
    def organizations(self) -> int:
        return max(1, self.users // USERS_PER_ORGANIZATION)

    @property
    def end_users(self) -> int:
        return self.users - AGENTS

    def user_stamp(self, uid: int) -> int:
        return EPOCH + uid

    def organization_stamp(self, oid: int) -> int:
        return EPOCH + oid

    @property
    def first_comment_stamp(self) -> int:
        return EPOCH + self.users + 10

    @property
    def events(self) -> int:
        return self.tickets * self.comments_per_ticket

    def comment_stamp(self, event_index: int) -> int:
        return self.first_comment_stamp + event_index

    def ticket_stamp(self, tid: int) -> int:
        return self.first_comment_stamp + self.events + tid


class GeneratedZendesk(FakeZendesk):
    """FakeZendesk whose users, organizations, tickets and comments are computed from ids page by page."""

    def __init__(self, shape: Shape) -> None:
        small = default_account()
        for key in ("users", "organizations", "tickets", "organization_memberships", "metric_sets"):
            small[key] = []
        small["comments"] = {}
        super().__init__(account=small)
        self.shape = shape

    # -- generated records ------------------------------------------------------------------------------

    def user(self, uid: int) -> dict[str, Any]:
        role = "admin" if uid == 1 else "agent" if uid <= AGENTS else "end-user"
        org = None if role != "end-user" else (uid % self.shape.organizations) + 1
        return {
            "id": uid, "url": f"https://acme.zendesk.com/api/v2/users/{uid}.json", "name": f"User {uid}", "email": f"user{uid}@example.com",
            "phone": None, "role": role, "role_type": None if role == "end-user" else 0, "organization_id": org, "external_id": None,
            "tags": ["vip"] if uid % 7 == 0 else [], "alias": "", "active": True, "suspended": False, "verified": True, "shared": False,
            "time_zone": "Europe/Stockholm", "locale": "en-US", "locale_id": 1, "details": "", "notes": "",
            "user_fields": {"plan_tier": "tier_enterprise" if uid % 3 == 0 else "tier_free", "signup_source": None},
            "created_at": iso(EPOCH), "updated_at": iso(self.shape.user_stamp(uid)), "last_login_at": iso(EPOCH),
        }

    def organization(self, oid: int) -> dict[str, Any]:
        return {
            "id": 100_000 + oid, "url": f"https://acme.zendesk.com/api/v2/organizations/{100_000 + oid}.json", "name": f"Organization {oid}",
            "domain_names": [f"org{oid}.example"], "details": "", "notes": "", "external_id": None, "group_id": None, "shared_tickets": False,
            "shared_comments": False, "tags": [], "organization_fields": {"account_manager": None, "region": "region_eu"},
            "created_at": iso(EPOCH), "updated_at": iso(self.shape.organization_stamp(oid)), "deleted_at": None,
        }

    def requester_of(self, tid: int) -> int:
        return AGENTS + 1 + (tid % self.shape.end_users)

    def assignee_of(self, tid: int) -> int:
        return 2 + (tid % (AGENTS - 1))

    def ticket(self, tid: int) -> dict[str, Any]:
        requester, created = self.requester_of(tid), self.shape.comment_stamp((tid - 1) * self.shape.comments_per_ticket)
        updated = self.shape.ticket_stamp(tid)
        return {
            "id": tid, "url": f"https://acme.zendesk.com/api/v2/tickets/{tid}.json", "external_id": None, "type": "question",
            "subject": f"Ticket {tid}: the widget stopped working", "raw_subject": f"Ticket {tid}", "description": "", "priority": "normal",
            "status": ["open", "pending", "solved", "closed"][tid % 4], "requester_id": requester, "submitter_id": requester,
            "assignee_id": self.assignee_of(tid), "organization_id": None, "group_id": 10, "collaborator_ids": [], "follower_ids": [],
            "email_cc_ids": [], "has_incidents": False, "is_public": True, "tags": ["widget"], "custom_fields": [{"id": 500, "value": "widget_pro"}],
            "ticket_form_id": 600, "brand_id": 1, "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
            "satisfaction_rating": None, "created_at": iso(created), "updated_at": iso(updated), "generated_timestamp": updated,
        }

    def comment(self, tid: int, k: int) -> dict[str, Any]:
        """Comment k of ticket tid: requester and assignee take turns; every 10th ticket's last comment is by an outsider."""
        event = (tid - 1) * self.shape.comments_per_ticket + k
        if k == self.shape.comments_per_ticket - 1 and tid % COLLABORATOR_EVERY == 0:
            author = self.requester_of(tid + 1)
        else:
            author = self.requester_of(tid) if k % 2 == 0 else self.assignee_of(tid)
        text = f"Comment {k} on ticket {tid}: the widget shows error E{tid % 97} after the update. Steps to reproduce follow."
        return {
            "id": 10_000_000 + event, "type": "Comment", "author_id": author, "body": text, "html_body": f"<p>{text}</p><p>Thanks!</p>",
            "plain_body": text, "public": k % 3 != 2, "attachments": [], "audit_id": 20_000_000 + event,
            "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}}, "created_at": iso(self.shape.comment_stamp(event)),
            "metadata": {"system": {}, "custom": {}},
        }

    def comment_event(self, event: int) -> dict[str, Any]:
        tid, k = event // self.shape.comments_per_ticket + 1, event % self.shape.comments_per_ticket
        comment = self.comment(tid, k)
        child = {key: value for key, value in comment.items() if key != "plain_body"}
        child.update({"event_type": "Comment", "via_reference_id": None})
        return {
            "id": 30_000_000 + event, "ticket_id": tid, "timestamp": self.shape.comment_stamp(event), "created_at": comment["created_at"],
            "updater_id": comment["author_id"], "via": comment["via"], "system": {}, "event_type": "Audit", "merged_ticket_ids": [],
            "child_events": [child],
        }

    # -- routes ---------------------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        shape = self.shape
        if path == "incremental/users/cursor":
            ids = self._cursor_page(query, shape.users, lambda stamp: stamp - EPOCH)
            return 200, self._cursor_body(path, "users", [self.user(i) for i in ids], ids, shape.users, query)
        if path == "incremental/tickets/cursor":
            ids = self._cursor_page(query, shape.tickets, lambda stamp: stamp - shape.ticket_stamp(0))
            body = self._cursor_body(path, "tickets", [self.ticket(i) for i in ids], ids, shape.tickets, query)
            if "users" in query.get("include", ""):
                wanted = sorted({self.requester_of(t) for t in ids} | {self.assignee_of(t) for t in ids})
                body["users"] = [self.user(u) for u in wanted]
            if "metric_sets" in query.get("include", ""):
                body["metric_sets"] = []
            return 200, body
        if path == "incremental/organizations":
            return 200, self._generated_time_export(path, "organizations", query, shape.organizations, lambda i: self.organization(i + 1), EPOCH + 1)
        if path == "incremental/ticket_events":
            return 200, self._generated_time_export(path, "ticket_events", query, shape.events, self.comment_event, shape.first_comment_stamp)
        if path in ("tickets/count", "users/count", "organizations/count"):
            total = {"tickets": shape.tickets, "users": shape.users, "organizations": shape.organizations}[path.split("/")[0]]
            return 200, {"count": {"value": total, "refreshed_at": iso(int(time.time()))}}
        if path == "users/show_many":
            users = [self.user(int(i)) for i in query.get("ids", "").split(",") if i and 1 <= int(i) <= shape.users]
            return 200, {"users": users, "next_page": None, "previous_page": None, "count": len(users)}
        if path == "organization_memberships":
            return 200, self._memberships_page(path, query)
        match = re.fullmatch(r"tickets/(\d+)/comments", path)
        if match and 1 <= int(match.group(1)) <= shape.tickets:
            tid = int(match.group(1))
            body = self._list(path, "comments", [self.comment(tid, k) for k in range(shape.comments_per_ticket)], query)
            if "users" in query.get("include", ""):
                body["users"] = [self.user(u) for u in sorted({c["author_id"] for c in body["comments"]})]
            return 200, body
        return super()._route(path, query)

    # -- pagination over generated ids --------------------------------------------------------------------

    @staticmethod
    def _cursor_page(query: dict[str, str], total: int, id_at_stamp: Any) -> range:
        per_page = int(query.get("per_page", 1000))
        first = decode_cursor(query["cursor"]) + 1 if "cursor" in query else max(1, id_at_stamp(int(query.get("start_time", 0))))
        return range(first, min(first + per_page, total + 1))

    def _cursor_body(self, path: str, key: str, records: list[dict[str, Any]], ids: range, total: int, query: dict[str, str]) -> dict[str, Any]:
        after = encode_cursor(ids[-1]) if ids else query.get("cursor")
        params = {"cursor": after} if after else {"start_time": query.get("start_time", 0)}
        return {
            key: records, "after_cursor": after, "after_url": self._url(path, params), "before_cursor": None, "before_url": None,
            "end_of_stream": not ids or ids[-1] >= total,
        }

    def _generated_time_export(self, path: str, key: str, query: dict[str, str], total: int, make: Any, first_stamp: int) -> dict[str, Any]:
        """Record i has time first_stamp + i; like Zendesk, the next page starts at end_time, so its first item comes again."""
        per_page = int(query.get("per_page", 1000))
        start = max(0, int(query.get("start_time", 0)) - first_stamp)
        page = [make(i) for i in range(start, min(start + per_page, total))]
        end_time = first_stamp + start + len(page) - 1 if page else int(query.get("start_time", 0))
        end_of_stream = total - start <= per_page
        params: dict[str, Any] = {"start_time": end_time, "per_page": per_page}
        if query.get("include"):
            params["include"] = query["include"]
        return {key: page, "count": len(page), "end_time": end_time, "next_page": None if end_of_stream else self._url(path, params),
                "end_of_stream": end_of_stream}

    def _memberships_page(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        """One membership per end-user, in its organization; cursor-paginated like `_list`."""
        size = int(query.get("page[size]", 100))
        start = int(base64.urlsafe_b64decode(query["page[after]"]).decode()) if query.get("page[after]") else 0
        end = min(start + size, self.shape.end_users)
        memberships = []
        for index in range(start, end):
            uid = AGENTS + 1 + index
            org = self.user(uid)["organization_id"]
            memberships.append({"id": 900_000 + index, "user_id": uid, "organization_id": 100_000 + org, "default": True})
        has_more = end < self.shape.end_users
        after = base64.urlsafe_b64encode(str(end).encode()).decode()
        params = {k: v for k, v in query.items() if k != "page[after]"}
        return {
            "organization_memberships": memberships,
            "meta": {"has_more": has_more, "after_cursor": after if has_more else None, "before_cursor": None},
            "links": {"next": self._url(path, {**params, "page[after]": after}) if has_more else None, "prev": None},
        }


# -- the run ------------------------------------------------------------------------------------------------


def write_config(work: Path, base_url: str, comments_strategy: str) -> Path:
    config = {
        "source": {
            "type": "zendesk", "subdomain": FAKE_SUBDOMAIN, "email": FAKE_EMAIL, "token": "${BENCH_ZENDESK_TOKEN}",
            "base_url": base_url, "incremental_requests_per_minute": 100_000, "comments_strategy": comments_strategy,
        },
        "target": {"type": "sandbox", "token": "${BENCH_INTERCOM_TOKEN}", "path": "sandbox.db", "search_delay_s": 0},
        "mapping": "zendesk",
        "state": "state",
    }
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_extract(config: Path) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in KiB of that one process (wait4), and its exit code."""
    env = {**os.environ, "BENCH_ZENDESK_TOKEN": FAKE_TOKEN, "BENCH_INTERCOM_TOKEN": "bench-intercom-token-0123456789"}
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "deskmigrate", "extract", "-c", str(config)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    if process.returncode not in (0, 3):
        sys.stderr.write(errors.decode(errors="replace"))
        raise SystemExit(f"deskmigrate extract exited {process.returncode}")
    return elapsed, usage.ru_maxrss, process.returncode


def endpoint(path: str) -> str:
    name = re.sub(r"\.json$", "", path.removeprefix("/api/v2/"))
    return re.sub(r"/\d+(?=/|$)", "/{id}", name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--comments", type=int, default=4, help="comments per ticket")
    parser.add_argument("--users", type=int, default=5_000, help="users; the first 5 are agents, organizations are a twentieth")
    parser.add_argument("--comments-strategy", choices=["auto", "events", "per_ticket"], default="auto",
                        help="auto picks the ticket events export for a first full read")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if args.users <= AGENTS + 1 or args.tickets < 1 or args.comments < 1:
        raise SystemExit(f"need --users > {AGENTS + 1}, --tickets >= 1 and --comments >= 1")

    shape = Shape(tickets=args.tickets, comments_per_ticket=args.comments, users=args.users)
    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-zendesk-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    with GeneratedZendesk(shape) as fake:
        config = write_config(work, fake.base_url, args.comments_strategy)
        elapsed, peak_kib, code = run_extract(config)
        calls = Counter(endpoint(r.path) for r in fake.requests)
    reports = sorted((work / "state" / "reports").glob("*.json"))
    report = json.loads(reports[-1].read_text())
    staged: dict[str, int] = report["extract"]["staged"]
    total_calls = sum(calls.values())

    print(f"account                  {shape.tickets} tickets x {shape.comments_per_ticket} comments, {shape.users} users, "
          f"{shape.organizations} organizations, comments strategy {args.comments_strategy}")
    print(f"wall time (extract)      {elapsed:.1f} s  ({shape.tickets / elapsed:.0f} tickets/s), exit code {code}")
    print(f"peak RSS (extract)       {peak_kib / 1024:.0f} MiB")
    print(f"records staged           {sum(staged.values())}  " + ", ".join(f"{k} {v}" for k, v in staged.items()))
    print(f"Zendesk calls            {total_calls}  ({total_calls * 1000 / shape.tickets:.1f} per 1,000 tickets)")
    for name, count in calls.most_common():
        print(f"  {name:<40} {count:>7}  {count * 1000 / shape.tickets:>8.2f} per 1,000 tickets")
    print(f"work folder              {work}")


if __name__ == "__main__":
    main()
