"""JSON Lines extract benchmark: a large generated export → `deskmigrate extract` in a subprocess.

Writes contacts.jsonl and conversations.jsonl (each conversation with --parts parts of about 1 KB) and prints the
wall time, records per second and the peak RSS of the extract process. Run it at two sizes to see that memory does
not grow with the files (extraction stages into the ledger as it reads).

    python benchmarks/jsonl_extract_bench.py --conversations 100000 --parts 5 --contacts 50000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

BODY = "<p>" + "The quick brown fox jumps over the lazy dog. " * 20 + "</p>"


def write_export(folder: Path, conversations: int, parts: int, contacts: int) -> int:
    """The two files; returns their size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "contacts.jsonl").open("w", encoding="utf-8") as handle:
        for n in range(contacts):
            handle.write(json.dumps({"source_id": f"u{n}", "email": f"person{n}@example.com", "name": f"Person {n}", "tags": ["vip"] if n % 7 == 0 else [],
                                     "updated_at": "2024-01-01T00:00:00Z", "custom_fields": {"plan": "pro"}}) + "\n")
    with (folder / "conversations.jsonl").open("w", encoding="utf-8") as handle:
        for n in range(conversations):
            requester = f"u{n % max(contacts, 1)}"
            thread = [{"source_id": f"{n}-{p}", "author_kind": "contact" if p % 2 == 0 else "agent", "author_id": requester if p % 2 == 0 else "a1",
                       "body_html": BODY, "created_at": f"2024-01-01T00:{p:02d}:00Z", "public": p != 3} for p in range(parts)]
            handle.write(json.dumps({"source_id": f"t{n}", "subject": f"Ticket {n}", "requester_id": requester, "status": "solved",
                                     "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z", "tags": ["billing"],
                                     "parts": thread}) + "\n")
    return sum(path.stat().st_size for path in folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--parts", type=int, default=5)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-jsonl-"))
    work.mkdir(parents=True, exist_ok=True)
    size = write_export(work / "export", args.conversations, args.parts, args.contacts)
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"type": "jsonl", "folder": "export"},
        "target": {"type": "sandbox", "token": "not-used-by-extract"},
        "mapping": "jsonl", "state": "state",
    }, sort_keys=False))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "deskmigrate", "extract", "-c", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    elapsed = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if result.returncode != 0:
        sys.stderr.write(result.stderr.decode()[-3000:])
        raise SystemExit(f"extract exited {result.returncode}")
    records = args.conversations + args.contacts
    print(f"export                     {args.contacts} contacts, {args.conversations} conversations × {args.parts} parts, {size / 2**20:.0f} MiB")
    print(f"wall time                  {elapsed:.1f} s  ({records / elapsed:.0f} records/s, {size / 2**20 / elapsed:.1f} MiB/s)")
    print(f"peak RSS (extract process) {peak_mib:.0f} MiB")
    print(f"work folder                {work}")


if __name__ == "__main__":
    main()
