"""The mapping loop, timed end to end: `deskmigrate plan` on a large CSV (contacts plus a tenth as many companies),
then a re-plan after a mapping-only edit, then `plan --sample 1000`, each a fresh process (start-up included).

For each it prints the wall time, records per second end to end, the mapping's own rate (from the run log: records
mapped and judged per second over every entity) and the process's peak RSS. Offline: plan never writes to Intercom.

    python benchmarks/plan_bench.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_csv import make_csv  # noqa: E402

# The edit a support-ops person makes between two plans: one rule changed, every contact's payload with it.
EDIT = {"version": 1, "contact": {"rules": [{"to": "name", "from": "name", "transform": ["strip", "uppercase"]}]}}
PLANNED = re.compile(r"planned (\d+) (\w+) in ([\d.]+) s")


def write_config(work: Path, overrides: list[str]) -> Path:
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"type": "csv", "companies": {"path": "companies.csv"},
                   "contacts": {"path": "contacts.csv", "company_column": "company_ids", "tags_column": "tags"}},
        "target": {"type": "sandbox", "token": "not-used-by-plan"},
        "mapping": "csv", "overrides": overrides, "state": "state",
    }, sort_keys=False))
    return config


def timed_plan(config: Path, *args: str) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS (MiB) of this plan's process, records mapped and the seconds mapping took (from its log)."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "deskmigrate", "plan", "-c", str(config), *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        sys.stderr.write(stderr[-3000:])
        raise SystemExit(f"plan exited {code}")
    log = max((config.parent / "state" / "logs").glob("*.log"), key=lambda path: path.stat().st_mtime).read_text()
    planned = [(int(n), float(seconds)) for n, _, seconds in PLANNED.findall(log)]
    return elapsed, usage.ru_maxrss / 1024, sum(n for n, _ in planned), sum(seconds for _, seconds in planned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="contacts in the CSV (companies: a tenth of it)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-plan-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    make_csv(args.rows, work)
    config = write_config(work, [])
    steps = [("first plan (reads the files)", ())]
    print(f"{args.rows} contacts, {max(1, args.rows // 10)} companies, {os.cpu_count()} CPU(s); work folder {work}")
    print(f"{'step':36} {'wall':>8} {'end to end':>14} {'mapping':>16} {'peak RSS':>9}")
    for label, extra in [*steps, ("re-plan after a mapping edit", ()), ("plan --sample 1000", ("--sample", "1000"))]:
        if label.startswith("re-plan"):
            (work / "edit.yaml").write_text(yaml.safe_dump(EDIT, sort_keys=False))
            write_config(work, ["edit.yaml"])
        elapsed, peak, mapped, mapping_s = timed_plan(config, *extra)
        records = mapped or args.rows
        rate = f"{mapped / mapping_s:,.0f} rec/s" if mapping_s else "-"
        print(f"{label:36} {elapsed:7.1f}s {records / elapsed:10,.0f} rec/s {rate:>16} {peak:7.0f}MiB")


if __name__ == "__main__":
    main()
