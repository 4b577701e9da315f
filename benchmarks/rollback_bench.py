"""Rollback benchmark: migrate N synthetic contacts (a share of them pre-existing, tagged and linked by hand), then time
`rollback --all --dry-run` (the plan: one read per record, the carriers of each created tag) and `rollback --all --yes`.

Prints wall time, records/s and API calls per record by route, and checks that the hand-made data survived.
The sandbox runs in its own process, as Intercom would.

    python benchmarks/rollback_bench.py --records 2000 --latency-ms 50 --rate-limit 1666
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import TOKEN, run_cli, start_sandbox  # noqa: E402
from make_csv import make_csv  # noqa: E402

from deskmigrate.sandbox import SandboxStore  # noqa: E402


def seed_pre_existing(url: str, work: Path, share: float) -> list[str]:
    """Contacts with the emails of every 1/share-th CSV row, each tagged `hand-made` before the migration."""
    import csv

    with (work / "contacts.csv").open(encoding="utf-8") as handle:
        emails = [row["email"] for row in csv.DictReader(handle) if row["email"]]
    chosen = emails[:: max(1, round(1 / share))] if share > 0 else []
    ids = []
    with requests.Session() as api:
        api.headers.update({"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.15"})
        for email in chosen:
            contact = api.post(f"{url}/contacts", json={"role": "user", "email": email, "name": "Before The Migration"})
            if contact.ok:
                ids.append(contact.json()["id"])
        for start in range(0, len(ids), 50):
            api.post(f"{url}/tags", json={"name": "hand-made", "users": [{"id": i} for i in ids[start:start + 50]]}).raise_for_status()
    return ids


def calls_by_route(store: SandboxStore, since: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in store.request_log()[since:]:
        counts[entry["route"]] = counts.get(entry["route"], 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000, help="contacts; companies are a tenth")
    parser.add_argument("--pre-existing", type=float, default=0.1, help="share of contacts that exist before the migration")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rate-limit", type=int, default=1666, help="calls per 10-second window")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-rollback-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    make_csv(args.records, work)
    sandbox_path = work / "sandbox.db"
    process, url = start_sandbox(sandbox_path, args.rate_limit, args.latency_ms)
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"type": "csv", "companies": {"path": "companies.csv"},
                   "contacts": {"path": "contacts.csv", "company_column": "company_ids", "tags_column": "tags"}},
        "target": {"type": "sandbox", "token": "${BENCH_TOKEN}", "base_url": url},
        "mapping": "csv", "state": "state", "load": {"concurrency": args.concurrency},
    }, sort_keys=False))
    try:
        hand_made = seed_pre_existing(url, work, args.pre_existing)
        load_s, _, _ = run_cli(config, "run")
        store = SandboxStore(sandbox_path)
        records = len(store.objects("contacts")) + len(store.objects("companies"))
        before_plan = len(store.request_log())
        plan_s, _, _ = run_cli_args(config, "rollback", "--all", "--dry-run")
        plan_calls = calls_by_route(store, before_plan)
        before_apply = len(store.request_log())
        apply_s, _, report = run_cli_args(config, "rollback", "--all", "--yes")
        apply_calls = calls_by_route(store, before_apply)
        survivors = {c["id"]: c for c in store.objects("contacts")}
        tags = {t["id"]: t["name"] for t in store.objects("tags")}
    finally:
        process.terminate()
        process.wait()
    kept = sum(1 for i in hand_made if i in survivors and "hand-made" in {tags.get(t["id"]) for t in survivors[i]["tags"]["data"]})
    print(f"records in Intercom after the run  {records} ({len(hand_made)} contacts existed before)")
    print(f"run                                {load_s:.1f} s")
    print(f"rollback --dry-run (plan)          {plan_s:.1f} s  ({records / plan_s:.0f} records/s)")
    for route, n in sorted(plan_calls.items()):
        print(f"  {route:<40} {n:>6}  ({n / records:.2f} per record)")
    print(f"rollback --yes (plan + apply)      {apply_s:.1f} s  ({records / apply_s:.0f} records/s)")
    for route, n in sorted(apply_calls.items()):
        print(f"  {route:<40} {n:>6}  ({n / records:.2f} per record)")
    print(f"pre-existing contacts left, with their hand-made tag  {kept} of {len(hand_made)}; other contacts left "
          f"{len(survivors) - kept}; exit code {report.get('exit_code')}")
    print(f"work folder                        {work}")


def run_cli_args(config: Path, *args: str) -> tuple[float, int, dict]:
    """`run_cli` with arguments after the command."""
    import json
    import os
    import subprocess

    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "deskmigrate", *args, "-c", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "BENCH_TOKEN": TOKEN}, check=False)
    elapsed = time.monotonic() - started
    if result.returncode not in (0, 3):
        sys.stderr.write(result.stderr.decode())
        raise SystemExit(f"deskmigrate {' '.join(args)} exited {result.returncode}")
    reports = sorted((config.parent / "state" / "reports").glob("*.json"), key=lambda p: p.stat().st_mtime)
    return elapsed, 0, json.loads(reports[-1].read_text()) if reports else {}


if __name__ == "__main__":
    main()
