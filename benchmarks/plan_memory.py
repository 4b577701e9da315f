"""Memory benchmark: `deskmigrate plan` over a large CSV (default 1,000,000 contacts) must stream in flat memory.

Generates the files with make_csv, runs `deskmigrate plan` in a subprocess (offline: plan never
calls Intercom), and prints the wall time, rows per second and the peak RSS of the plan process.
Run it at two sizes to see that memory does not grow with the file.

    python benchmarks/plan_memory.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_csv import make_csv  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-plan-"))
    work.mkdir(parents=True, exist_ok=True)
    make_csv(args.rows, work)
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"type": "csv", "companies": {"path": "companies.csv"},
                   "contacts": {"path": "contacts.csv", "company_column": "company_ids", "tags_column": "tags"}},
        "target": {"type": "sandbox", "token": "not-used-by-plan"},
        "mapping": "csv", "state": "state",
    }, sort_keys=False))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "deskmigrate", "plan", "-c", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    elapsed = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if result.returncode not in (0, 3):
        sys.stderr.write(result.stderr.decode()[-3000:])
        raise SystemExit(f"plan exited {result.returncode}")
    [latest] = sorted((work / "state" / "plans").glob("*/contacts.jsonl"))[-1:]
    lines = sum(1 for _ in latest.open(encoding="utf-8"))
    print(f"contacts in the CSV      {args.rows}")
    print(f"payloads written         {lines} contacts (exit {result.returncode})")
    print(f"wall time                {elapsed:.1f} s  ({args.rows / elapsed:.0f} rows/s)")
    print(f"peak RSS (plan process)  {peak_mib:.0f} MiB")
    print(f"work folder              {work}")


if __name__ == "__main__":
    main()
