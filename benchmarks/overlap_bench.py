"""Phases overlapping: `deskmigrate run` on a mixed export (companies, contacts, a Help Center, ticket history) into the
sandbox with injected latency, and when each kind of object was written, from the sandbox's request log.

Prints the run's wall time, each phase's duration as the report gives it, and the window (first to last call, seconds
from the run's start) in which each kind of object was written: with phases overlapping, the Help Center's windows lie
inside the people's, and contacts begin before the last company.

    python benchmarks/overlap_bench.py --records 500 --collections 20 --articles 200 --tickets 100 --latency-ms 50
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import run_cli, start_sandbox  # noqa: E402

from deskmigrate.sandbox import SandboxStore  # noqa: E402

UNBOUND_RATE_LIMIT = 10_000
# What the request log's routes write, by the kind of object (routes the loader uses; reads and preflight left out).
WRITES = {
    "companies": ("POST /companies",),
    "contacts": ("POST /contacts", "POST /contacts/{id}/companies"),
    "collections": ("POST /help_center/collections",),
    "articles": ("POST /articles", "PUT /articles/{id}"),
    "conversations": ("POST /conversations", "POST /conversations/{id}/reply", "POST /conversations/{id}/parts",
                      "PUT /conversations/{id}", "POST /conversations/{id}/tags"),
}


def write_export(folder: Path, args: argparse.Namespace) -> None:
    """Canonical JSON Lines, the shape of `connectors/jsonl`: every contact in one company, a third tagged."""
    companies = max(1, args.records // 10)
    files: dict[str, list[dict[str, Any]]] = {
        "companies.jsonl": [{"source_id": f"co-{i}", "name": f"Company {i}"} for i in range(companies)],
        "contacts.jsonl": [{"source_id": f"u-{i}", "email": f"person{i}@example.com", "name": f"Person {i}",
                            "company_ids": [f"co-{i % companies}"], "tags": ["vip"] if i % 3 == 0 else []} for i in range(args.records)],
        "agents.jsonl": [{"source_id": "ag-1", "email": "agent@sandbox.example.com", "name": "Support Agent"}],
        "collections.jsonl": [{"source_id": f"col-{i}", "name": f"Topic {i}", "locale": "en-us",
                               **({"parent_id": f"col-{i // 2}"} if i else {})} for i in range(args.collections)],
        "articles.jsonl": [{"source_id": f"kb-{i}", "title": f"Guide {i}", "body_html": f"<p>Step {i}</p>", "author_id": "ag-1",
                            "collection_id": f"col-{i % max(args.collections, 1)}", "locale": "en-us", "state": "published"}
                           for i in range(args.articles if args.collections else 0)],
        "conversations.jsonl": [
            {"source_id": f"t-{t}", "subject": f"Question {t}", "requester_id": f"u-{t % args.records}", "status": "closed",
             "created_at": "2024-01-05T10:00:00Z",
             "parts": [{"source_id": f"t-{t}-{c}", "author_kind": "contact" if c % 2 == 0 else "agent",
                        "author_id": f"u-{t % args.records}" if c % 2 == 0 else "ag-1", "body_text": f"Message {c}",
                        "created_at": f"2024-01-05T10:{c:02d}:00Z"} for c in range(args.comments)]}
            for t in range(args.tickets)],
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in files.items():
        (folder / name).write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500, help="contacts; companies are a tenth")
    parser.add_argument("--collections", type=int, default=20, help="Help Center collections (a tree)")
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--tickets", type=int, default=100, help="tickets, loaded as conversations")
    parser.add_argument("--comments", type=int, default=3, help="comments per ticket")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-overlap-bench-"))
    write_export(work / "export", args)
    process, url = start_sandbox(work / "sandbox.db", UNBOUND_RATE_LIMIT, args.latency_ms)
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"type": "jsonl", "folder": "export"},
        "target": {"type": "sandbox", "token": "${BENCH_TOKEN}", "base_url": url},
        "mapping": "jsonl",
        "state": "state",
        "load": {"concurrency": args.concurrency},
    }, sort_keys=False))
    try:
        elapsed, _, report = run_cli(config, "run")
        log = SandboxStore(work / "sandbox.db").request_log()
    finally:
        process.terminate()
        process.wait()

    started = datetime.fromisoformat(report["started_at"]).timestamp()
    print(f"{args.records} contacts, {args.records // 10} companies, {args.collections} collections, {args.articles} articles, "
          f"{args.tickets} tickets of {args.comments} comments; {args.latency_ms:g} ms a call, concurrency {args.concurrency}")
    print(f"deskmigrate run          {elapsed:.1f} s  ({len(log)} calls)")
    for phase in report.get("phases", []):
        print(f"  phase {phase['phase']:<18} {phase.get('duration_s', 0):6.2f} s")
    print("writes, seconds from the start of the run:")
    for kind, routes in WRITES.items():
        times = [entry["at"] - started for entry in log if entry["route"] in routes]
        if times:
            print(f"  {kind:<22} {min(times):6.2f} – {max(times):6.2f}  ({len(times)} calls)")
    print(f"work folder              {work}")


if __name__ == "__main__":
    main()
