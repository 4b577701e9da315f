"""deskmigrate beside the naive loader of Intercom's migration guide, on the same CSV and the same fake Intercom, in one run.

The naive loader does what the guide's import script does, one call at a time: per company a create; per contact a
search by email, then a create or an update, one call per company link and one per tagging; a pause every 50 contacts.
The guide (developers.intercom.com, "Import Contacts with the Intercom API") gives no pause length that we could find,
so the pause is 1 s unless `--pause-s` says otherwise. deskmigrate runs `deskmigrate run` on the same CSV into a fresh
sandbox with the same latency: the whole command, start-up, extraction and plan included.

Then a case where the rate limit binds (`--bound-rate-limit` calls per 10-second window): deskmigrate alone, and the
share of the budget it used in every whole window its load spanned, with the share of calls answered 429.

    python benchmarks/naive_bench.py --records 500 --latency-ms 50 --bound-rate-limit 250
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import TOKEN, run_cli, start_sandbox, write_csv_config  # noqa: E402
from make_csv import make_csv  # noqa: E402

from deskmigrate.sandbox import SandboxStore  # noqa: E402

WINDOW_S = 10
UNBOUND_RATE_LIMIT = 10_000  # per window: never reached by either loader at the latencies benchmarked


@dataclass
class NaiveCounts:
    calls: int = 0
    companies: int = 0
    contacts: int = 0
    links: int = 0
    taggings: int = 0
    paused_s: float = 0.0


class NaiveLoader:
    """The guide's loader: one request at a time, a search before every contact write, a pause every 50 contacts."""

    def __init__(self, base_url: str, pause_s: float, pause_every: int = 50) -> None:
        self.base_url = base_url
        self.pause_s = pause_s
        self.pause_every = pause_every
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.15", "Accept": "application/json"})
        self.counts = NaiveCounts()

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        self.counts.calls += 1
        response = self.session.request(method, self.base_url + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else {}

    def load(self, companies_csv: Path, contacts_csv: Path) -> None:
        company_ids: dict[str, str] = {}
        for row in read_rows(companies_csv):
            company = self.call("POST", "/companies", {"company_id": row["id"], "name": row["name"], "website": row["website"]})
            company_ids[row["id"]] = str(company["id"])
            self.counts.companies += 1
        for index, row in enumerate(read_rows(contacts_csv), start=1):
            self.load_contact(row, company_ids)
            if index % self.pause_every == 0:
                time.sleep(self.pause_s)
                self.counts.paused_s += self.pause_s

    def load_contact(self, row: dict[str, str], company_ids: dict[str, str]) -> None:
        query = {"query": {"field": "email", "operator": "=", "value": row["email"]}}
        found = self.call("POST", "/contacts/search", query).get("data") or []
        body = {"role": row["role"] or "user", "external_id": row["id"], "email": row["email"], "name": row["name"]}
        if found:
            contact = self.call("PUT", f"/contacts/{found[0]['id']}", body)
        else:
            contact = self.call("POST", "/contacts", body)
        self.counts.contacts += 1
        for company in filter(None, row["company_ids"].split(";")):
            self.call("POST", f"/contacts/{contact['id']}/companies", {"id": company_ids[company]})
            self.counts.links += 1
        for tag in filter(None, row["tags"].split(";")):
            self.call("POST", "/tags", {"name": tag, "users": [{"id": contact["id"]}]})
            self.counts.taggings += 1


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def deskmigrate_run(work: Path, rate_limit: int, latency_ms: float, concurrency: int) -> tuple[float, list[dict]]:
    """`deskmigrate run` on the CSV in `work` into a fresh sandbox: its wall time and the sandbox's request log."""
    process, url = start_sandbox(work / "sandbox.db", rate_limit, latency_ms)
    try:
        elapsed, _, _ = run_cli(write_csv_config(work, url, concurrency), "run")
        return elapsed, SandboxStore(work / "sandbox.db").request_log()
    finally:
        process.terminate()
        process.wait()


def naive_run(work: Path, latency_ms: float, pause_s: float) -> tuple[float, NaiveLoader]:
    process, url = start_sandbox(work / "sandbox.db", UNBOUND_RATE_LIMIT, latency_ms)
    loader = NaiveLoader(url, pause_s)
    try:
        started = time.monotonic()
        loader.load(work / "companies.csv", work / "contacts.csv")
        return time.monotonic() - started, loader
    finally:
        loader.session.close()
        process.terminate()
        process.wait()


def window_shares(log: list[dict], limit: int) -> list[float]:
    """The share of the budget used in each whole 10-second window between the load's first and last call (the sandbox's
    windows are aligned on multiples of 10 s; a refused call uses none of the budget)."""
    answered = [entry["at"] for entry in log if entry["status"] != 429]
    if not answered:
        return []
    first, last = math.floor(min(answered) / WINDOW_S) + 1, math.floor(max(answered) / WINDOW_S) - 1
    used = {window: 0 for window in range(first, last + 1)}
    for at in answered:
        window = math.floor(at / WINDOW_S)
        if window in used:
            used[window] += 1
    return [used[window] / limit for window in sorted(used)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500, help="contacts; companies are a tenth")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the sandbox's added latency per call")
    parser.add_argument("--pause-s", type=float, default=1.0, help="the naive loader's pause every 50 contacts")
    parser.add_argument("--concurrency", type=int, default=16, help="deskmigrate's load.concurrency")
    parser.add_argument("--bound-rate-limit", type=int, default=250,
                        help="calls per 10-second window for the case where the limit binds (0: skip that case)")
    parser.add_argument("--repeat", type=int, default=1, help="run deskmigrate this many times, each into a fresh sandbox, "
                                                                 "and take the median (on a busy machine)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-naive-bench-"))
    folders = {name: work / name for name in ("naive", *(f"deskmigrate-{i}" for i in range(max(1, args.repeat))), "bound")}
    for folder in folders.values():
        make_csv(args.records, folder)

    naive_s, naive = naive_run(folders["naive"], args.latency_ms, args.pause_s)
    runs = [deskmigrate_run(folders[f"deskmigrate-{i}"], UNBOUND_RATE_LIMIT, args.latency_ms, args.concurrency)
            for i in range(max(1, args.repeat))]
    ours_s, ours_log = statistics.median(elapsed for elapsed, _ in runs), runs[0][1]
    counts = naive.counts
    print(f"{args.records} contacts, {counts.companies} companies, {counts.links} company links, {counts.taggings} taggings; "
          f"{args.latency_ms:g} ms a call")
    print(f"naive loader             {naive_s:6.1f} s  {counts.calls} calls, {counts.paused_s:g} s of pauses ({args.pause_s:g} s every 50 contacts)")
    spread = f", median of {len(runs)}: {', '.join(f'{elapsed:.2f}' for elapsed, _ in runs)}" if len(runs) > 1 else ""
    print(f"deskmigrate run          {ours_s:6.2f} s  {len(ours_log)} calls (start-up, extraction and plan included{spread})")
    print(f"ratio                    {naive_s / ours_s:6.1f}x")

    if args.bound_rate_limit:
        bound_s, bound_log = deskmigrate_run(folders["bound"], args.bound_rate_limit, args.latency_ms, args.concurrency)
        shares = window_shares(bound_log, args.bound_rate_limit)
        refused = sum(1 for entry in bound_log if entry["status"] == 429)
        print(f"limit binding            {args.bound_rate_limit} calls per 10 s: deskmigrate run {bound_s:.1f} s, {len(bound_log)} calls")
        if shares:
            print(f"  budget used            {100 * sum(shares) / len(shares):.1f}% on average over {len(shares)} whole windows "
                  f"(lowest {100 * min(shares):.1f}%)")
        else:
            print("  budget used            the load spanned no whole 10-second window: lower --bound-rate-limit")
        print(f"  answered 429           {refused} of {len(bound_log)} calls ({100 * refused / max(len(bound_log), 1):.2f}%)")
    print(f"work folder              {work}")


if __name__ == "__main__":
    main()
