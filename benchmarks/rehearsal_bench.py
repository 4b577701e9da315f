"""Rehearsal benchmark: what choosing a stratified sample costs against a large generated fake Zendesk account.

Runs `deskmigrate run --sample N` (profile every ticket from the incremental tickets export, read the candidates'
comments by id, load the sample into a sandbox) and, for comparison, `deskmigrate extract` (the full read) in
subprocesses, and prints the Zendesk calls of each by endpoint, the tickets whose history was read and the wall time.

    python benchmarks/rehearsal_bench.py --tickets 20000 --sample 20
    python benchmarks/rehearsal_bench.py --tickets 5000 --sample 50 --no-extract
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from benchmarks.zendesk_extract_bench import GeneratedZendesk, Shape, endpoint, write_config  # noqa: E402
from tests.fakes.zendesk import FAKE_TOKEN  # noqa: E402


class ShowManyZendesk(GeneratedZendesk):
    """The generated account, with tickets and organizations by id (GET /tickets/show_many, /organizations/show_many)."""

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        ids = [int(i) for i in query.get("ids", "").split(",") if i]
        if path == "tickets/show_many":
            tickets = [self.ticket(i) for i in ids if 1 <= i <= self.shape.tickets]
            users = sorted({t["requester_id"] for t in tickets} | {t["assignee_id"] for t in tickets})
            return 200, {"tickets": tickets, "users": [self.user(u) for u in users], "metric_sets": [], "count": len(tickets)}
        if path == "organizations/show_many":
            return 200, {"organizations": [self.organization(i - 100_000) for i in ids], "count": len(ids)}
        return super()._route(path, query)


def run(config: Path, *args: str) -> tuple[float, int]:
    env = {**os.environ, "BENCH_ZENDESK_TOKEN": FAKE_TOKEN, "BENCH_INTERCOM_TOKEN": "bench-intercom-token-0123456789"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "deskmigrate", *args, "-c", str(config)], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    if done.returncode not in (0, 3):
        sys.stderr.write(done.stderr.decode(errors="replace"))
        raise SystemExit(f"deskmigrate {' '.join(args)} exited {done.returncode}")
    return time.monotonic() - started, done.returncode


def measure(shape: Shape, work: Path, *args: str) -> tuple[float, Counter[str]]:
    work.mkdir(parents=True, exist_ok=True)
    with ShowManyZendesk(shape) as fake:
        config = write_config(work, fake.base_url, "auto")
        elapsed, _ = run(config, *args)
        return elapsed, Counter(endpoint(r.path) for r in fake.requests)


def show(title: str, elapsed: float, calls: Counter[str]) -> None:
    histories = calls.get("tickets/{id}/comments", 0)
    print(f"{title:<26} {elapsed:6.1f} s, {sum(calls.values())} Zendesk calls, {histories} ticket histories read by id")
    for name, count in calls.most_common():
        print(f"  {name:<40} {count:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--comments", type=int, default=4, help="comments per ticket")
    parser.add_argument("--users", type=int, default=5_000, help="users; the first 5 are agents")
    parser.add_argument("--sample", type=int, default=20, help="N of run --sample N")
    parser.add_argument("--no-extract", action="store_true", help="skip the full extract used for comparison")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    shape = Shape(tickets=args.tickets, comments_per_ticket=args.comments, users=args.users)
    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-rehearsal-bench-"))
    print(f"account                    {shape.tickets} tickets x {shape.comments_per_ticket} comments, {shape.users} users")
    elapsed, calls = measure(shape, work / "rehearsal", "run", "--sample", str(args.sample))
    section = json.loads(sorted((work / "rehearsal" / "state" / "rehearsal" / "reports").glob("*.json"))[-1].read_text())["rehearsal"]
    print(f"sample                     {len(section['tickets'])} tickets; {section['profiled']} profiled, {section['read_whole']} read whole")
    show(f"run --sample {args.sample}", elapsed, calls)
    if not args.no_extract:
        show("extract (the full read)", *measure(shape, work / "extract", "extract"))
    print(f"work folder                {work}")


if __name__ == "__main__":
    main()
