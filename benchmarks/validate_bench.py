"""Validate benchmark: N synthetic contacts (N/10 companies, tags, company links) loaded into the sandbox, then read back
twice on the same data — one GET per record (how validate read before listings) and by listing (150 contacts a page,
the company scroll) — with the sandbox answering after `--latency-ms`. Prints calls by route and wall time for each,
and the ratios. Both must find the same mismatches (none, on an untouched workspace).

The sandbox runs in its own process, as Intercom would; the load runs without latency (it is not what is measured).

    python benchmarks/validate_bench.py --contacts 20000 --latency-ms 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import TOKEN, run_cli, start_sandbox  # noqa: E402
from make_csv import make_csv  # noqa: E402

from deskmigrate.core.ledger import Ledger  # noqa: E402
from deskmigrate.loaders.intercom.client import IntercomClient  # noqa: E402
from deskmigrate.loaders.intercom.validate import Validator  # noqa: E402
from deskmigrate.sandbox import SandboxStore  # noqa: E402

UNLIMITED = 1_000_000  # calls per 10-second window: latency, not the rate limit, bounds the read-back


def read_back(url: str, state: Path, sandbox: Path, concurrency: int, by_listing: bool) -> tuple[float, Counter[str], int, dict[str, int]]:
    """One validation: seconds, calls by route (as the sandbox logged them), mismatches, records checked per entity."""
    with SandboxStore(sandbox) as store:
        start = len(store.request_log())
    client = IntercomClient(url, TOKEN, pool_size=max(16, concurrency * 2))
    ledger = Ledger(state / "ledger.db")
    validator = Validator(client, ledger, concurrency, by_listing=by_listing)
    started = time.monotonic()
    mismatches = validator.run()
    elapsed = time.monotonic() - started
    with SandboxStore(sandbox) as store:
        calls = Counter(entry["route"] for entry in store.request_log()[start:])
    return elapsed, calls, len(mismatches), dict(validator.checked)


def load_data(work: Path, sandbox_path: Path, contacts: int, reuse: bool) -> float:
    """Seconds `deskmigrate run` took to load the synthetic CSV files into a sandbox without latency (0: reused)."""
    if reuse:
        return 0.0
    make_csv(contacts, work)
    process, url = start_sandbox(sandbox_path, UNLIMITED, 0.0)
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"type": "csv", "companies": {"path": "companies.csv"},
                   "contacts": {"path": "contacts.csv", "company_column": "company_ids", "tags_column": "tags"}},
        "target": {"type": "sandbox", "token": "${BENCH_TOKEN}", "base_url": url},
        "mapping": "csv", "state": "state", "load": {"concurrency": 16},
    }, sort_keys=False))
    try:
        return run_cli(config, "run")[0]
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=20000, help="contacts; companies are a tenth")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the sandbox's answer delay while validating")
    parser.add_argument("--concurrency", type=int, default=8, help="load.concurrency (validate's default is 8)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it; a folder loaded by an earlier --keep is read back as it is")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-validate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sandbox_path = work / "sandbox.db"
    load_s = load_data(work, sandbox_path, args.contacts, reuse=(work / "state" / "ledger.db").exists() and sandbox_path.exists())
    process, url = start_sandbox(sandbox_path, UNLIMITED, args.latency_ms)
    try:
        results = {mode: read_back(url, work / "state", sandbox_path, args.concurrency, by_listing=mode == "listing")
                   for mode in ("one GET per record", "listing")}
    finally:
        process.terminate()
        process.wait()

    checked = results["listing"][3]
    print(f"records in Intercom       {', '.join(f'{n} {entity}' for entity, n in checked.items())} ({f'loaded in {load_s:.1f} s' if load_s else 'loaded before'})")
    print(f"validate at {args.latency_ms:g} ms latency, concurrency {args.concurrency}")
    for mode, (seconds, calls, mismatches, _) in results.items():
        print(f"  {mode:<22} {sum(calls.values()):>7} calls  {seconds:7.1f} s  {mismatches} mismatches")
        for route, n in sorted(calls.items()):
            print(f"    {route:<34} {n:>7}")
    (before_s, before_calls, before_found, _), (after_s, after_calls, after_found, _) = results.values()
    print(f"fewer calls               {sum(before_calls.values()) / max(1, sum(after_calls.values())):.1f}x")
    print(f"faster                    {before_s / max(after_s, 1e-9):.1f}x")
    if before_found != after_found:
        raise SystemExit(f"the two read-backs disagree: {before_found} and {after_found} mismatches")
    print(f"work folder               {work}")


if __name__ == "__main__":
    main()
