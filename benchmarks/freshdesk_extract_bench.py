"""Freshdesk extract benchmark: a generated fake account read by the connector; calls and credits per 1,000 tickets.

Prints the Freshdesk calls made by endpoint (from the fake's request log), the credits they cost (includes
cost 2 each), the number of updated_since windows, and the tickets read. Loopback only.

    python benchmarks/freshdesk_extract_bench.py --tickets 1000 --conversations 4
    python benchmarks/freshdesk_extract_bench.py --tickets 5000 --same-second 250 --no-description-attachments
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from deskmigrate.connectors.freshdesk import FreshdeskConnector, FreshdeskSourceConfig  # noqa: E402
from deskmigrate.core.model import Conversation  # noqa: E402
from deskmigrate.core.source import SourceContext  # noqa: E402
from tests.fakes.freshdesk import FAKE_API_KEY, FAKE_DOMAIN, FakeFreshdesk, default_account  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)


def generated_account(tickets: int, conversations: int, same_second: int) -> dict[str, Any]:
    """`tickets` tickets one minute apart (the first `same_second` share one updated_at), each with `conversations` replies."""
    account = default_account()
    template = account["tickets"][1]
    account["tickets"], account["conversations"] = [], {}
    for n in range(tickets):
        stamp = (START + timedelta(minutes=max(n - same_second, 0))).strftime("%Y-%m-%dT%H:%M:%SZ")
        tid = 10_000 + n
        account["tickets"].append({**template, "id": tid, "created_at": stamp, "updated_at": stamp})
        account["conversations"][tid] = [
            {"id": tid * 100 + c, "ticket_id": tid, "user_id": 50 if c % 2 == 0 else 10, "body": f"<p>reply {c}</p>", "body_text": f"reply {c}",
             "incoming": c % 2 == 1, "private": False, "source": 0, "attachments": [], "created_at": stamp, "updated_at": stamp}
            for c in range(conversations)
        ]
    return account


def endpoint(path: str) -> str:
    return re.sub(r"/\d+", "/{id}", path.removeprefix("/api/v2"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--conversations", type=int, default=4)
    parser.add_argument("--same-second", type=int, default=0, help="tickets sharing the first updated_at (a bulk update)")
    parser.add_argument("--no-description-attachments", action="store_true")
    args = parser.parse_args()
    with FakeFreshdesk(generated_account(args.tickets, args.conversations, args.same_second)) as fake:
        config = FreshdeskSourceConfig(
            domain=FAKE_DOMAIN, api_key=FAKE_API_KEY, base_url=fake.base_url, tickets_list_per_minute=1_000_000,
            contacts_list_per_minute=1_000_000, description_attachments=not args.no_description_attachments,
        )
        connector = FreshdeskConnector(config, SourceContext(base_dir=Path(".")))
        started = time.monotonic()
        read = sum(isinstance(item, Conversation) for item in connector.read("conversations"))
        elapsed = time.monotonic() - started
        calls = Counter(endpoint(r.path) for r in fake.requests)
        credits = sum(1 + 2 * len([i for i in r.query.get("include", "").split(",") if i]) for r in fake.requests)
    per_thousand = 1000 / max(args.tickets, 1)
    print(f"tickets read: {read} of {args.tickets}   wall: {elapsed:.1f} s (no pacing: loopback fake)")
    for name, count in calls.most_common():
        print(f"  {name:<40} {count:>7}   {count * per_thousand:>8.1f} per 1,000 tickets")
    total = sum(calls.values())
    print(f"calls: {total} ({total * per_thousand:.0f} per 1,000 tickets); credits: {credits} ({credits * per_thousand:.0f} per 1,000 tickets)")


if __name__ == "__main__":
    main()
