"""What a `deskmigrate sync` cycle costs once the migration is done: a large CSV migrated into the local sandbox with
`run`, then single sync cycles (each a fresh process, start-up included) — after one row of the contacts file changed,
after nothing changed — with each cycle's wall time, what it landed, and the lag its report gives (from the file's save
to the write that landed the row).

    python benchmarks/sync_bench.py --rows 20000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_csv import make_csv  # noqa: E402

TOKEN = "sync-bench-sandbox-token"


def write_config(work: Path) -> Path:
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"type": "csv", "companies": {"path": "companies.csv"},
                   "contacts": {"path": "contacts.csv", "company_column": "company_ids", "tags_column": "tags"}},
        "target": {"type": "sandbox", "token": "${SYNC_BENCH_TOKEN}", "path": "sandbox.db", "search_delay_s": 0},
        "mapping": "csv", "state": "state", "load": {"concurrency": 8, "max_rejected": "100%"},
    }, sort_keys=False))
    return config


def timed(config: Path, *args: str) -> float:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "deskmigrate", *args, "-c", str(config), "-q"],
                            env={**os.environ, "SYNC_BENCH_TOKEN": TOKEN}, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 3):
        sys.stderr.write(result.stderr[-3000:])
        raise SystemExit(f"deskmigrate {args[0]} exited {result.returncode}")
    return time.monotonic() - started


def one_cycle(config: Path) -> tuple[float, dict]:
    """One sync cycle: --until a minute ahead and --every an hour, so the loop runs once and stops."""
    until = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    elapsed = timed(config, "sync", "--every", "1h", "--until", until)
    reports = sorted((config.parent / "state" / "reports").glob("*.json"))
    return elapsed, json.loads(reports[-1].read_text()).get("sync") or {}


def touch_one_row(contacts: Path) -> None:
    with contacts.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[len(rows) // 2][2] = f"Renamed at {time.time():.0f}"
    with contacts.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="contacts in the CSV (companies: a tenth of it)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-sync-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    _, contacts = make_csv(args.rows, work)
    config = write_config(work)
    print(f"{args.rows} contacts, {max(1, args.rows // 10)} companies; work folder {work}")
    print(f"{'step':34} {'wall':>8} {'landed':>7} {'lag':>8}")
    print(f"{'initial run':34} {timed(config, 'run'):7.1f}s")
    for label, change in (("sync cycle, one row changed", True), ("sync cycle, nothing changed", False)):
        if change:
            touch_one_row(contacts)
        elapsed, section = one_cycle(config)
        lag = "-" if section.get("lag_s") is None else f"{section['lag_s']:.1f}s"
        print(f"{label:34} {elapsed:7.1f}s {section.get('landed', 0):>7} {lag:>8}")


if __name__ == "__main__":
    main()
