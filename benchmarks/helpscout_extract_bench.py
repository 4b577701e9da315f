"""Help Scout extract benchmark: a generated fake account read in full by the connector; the calls it costs.

Prints the Help Scout calls per endpoint (from the fake's request log), the calls per 1,000 conversations, the
records read and the wall time. Page sizes are Help Scout's (25 conversations, 50 customers/users per page).

    python benchmarks/helpscout_extract_bench.py --conversations 2000 --chat-share 0.1 --customers 1000 --articles 200
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from deskmigrate.connectors.helpscout import HelpScoutConnector, HelpScoutSourceConfig  # noqa: E402
from deskmigrate.core.source import SourceCheckpoint, SourceContext  # noqa: E402
from tests.fakes.helpscout import FAKE_APP_ID, FAKE_APP_SECRET, FAKE_DOCS_KEY, FakeHelpScout, default_account  # noqa: E402


def generated_account(conversations: int, chat_share: float, customers: int, articles: int) -> dict[str, Any]:
    """The default account's records copied with fresh ids: every `1/chat_share`-th conversation is a chat."""
    base = default_account()
    account = copy.deepcopy(base)
    account["customers"] = []
    for i in range(customers):
        customer = copy.deepcopy(base["customers"][i % len(base["customers"])])
        customer["id"] = 10_000 + i
        customer["createdAt"] = f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z"
        account["customers"].append(customer)
    email = next(c for c in base["conversations"] if c["id"] == 1000)
    chat = next(c for c in base["conversations"] if c["id"] == 1002)
    every = round(1 / chat_share) if chat_share > 0 else 0
    account["conversations"] = []
    for i in range(conversations):
        conversation = copy.deepcopy(chat if every and i % every == 0 else email)
        conversation["id"] = 100_000 + i
        conversation["createdAt"] = f"2024-02-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
        account["conversations"].append(conversation)
    docs_articles = []
    for i in range(articles):
        article = copy.deepcopy(base["docs"]["articles"][i % 3])
        article["id"] = f"{i:024x}"
        docs_articles.append(article)
    account["docs"]["articles"] = docs_articles
    for collection in account["docs"]["collections"]:
        collection["articleCount"] = sum(1 for a in docs_articles if a["collectionId"] == collection["id"])
    return account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--chat-share", type=float, default=0.1, help="share of chat conversations (their threads are listed again in full)")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=200)
    args = parser.parse_args()

    account = generated_account(args.conversations, args.chat_share, args.customers, args.articles)
    with FakeHelpScout(account, rate_limit_per_minute=10_000_000) as fake:
        config = HelpScoutSourceConfig(app_id=FAKE_APP_ID, app_secret=FAKE_APP_SECRET, base_url=fake.api_root,
                                       docs_api_key=FAKE_DOCS_KEY, docs_base_url=fake.docs_root, requests_per_minute=10_000_000)
        connector = HelpScoutConnector(config, SourceContext(base_dir=REPO_ROOT))
        read: Counter[str] = Counter()
        calls_by_entity: dict[str, int] = {}
        started = time.perf_counter()
        for entity in connector.entities():
            before = len(fake.requests)
            for item in connector.read(entity):
                if not isinstance(item, SourceCheckpoint):
                    read[type(item).__name__] += 1
            calls_by_entity[entity] = len(fake.requests) - before
        elapsed = time.perf_counter() - started
        by_endpoint = Counter(
            f"{r.method} {'/'.join('{id}' if s.isdigit() or len(s) == 24 else s for s in r.path.split('/'))}" for r in fake.requests
        )
    print(f"account: {args.conversations} conversations ({args.chat_share:.0%} chats), {args.customers} customers, {args.articles} articles")
    print(f"records read: {dict(read)}")
    print("calls per entity:", calls_by_entity)
    print("calls per endpoint:")
    for endpoint, count in sorted(by_endpoint.items()):
        print(f"  {count:7d}  {endpoint}")
    per_thousand = calls_by_entity["conversations"] * 1000 / max(args.conversations, 1)
    print(f"conversation calls per 1,000 conversations: {per_thousand:.0f}"
          f" (list pages of 25 with threads embedded, plus one threads call per chat)")
    print(f"total calls: {len(fake.requests)}; wall time {elapsed:.1f} s against the local fake")


if __name__ == "__main__":
    main()
