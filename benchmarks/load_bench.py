"""Load benchmark: N synthetic contacts (N/10 companies, tags) → the sandbox with injected latency and a rate limit.

Prints records/s, API calls per record (creates, company links and tag calls apart), the share of the
rate budget used, 429s, and peak memory; then re-runs to show an unchanged re-run makes no write.
The sandbox runs in its own process, as Intercom would, so its CPU does not slow the loader.

    python benchmarks/load_bench.py --records 10000 --latency-ms 50 --rate-limit 1666
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_csv import make_csv  # noqa: E402

from deskmigrate.loaders.intercom.sandbox import SandboxStore  # noqa: E402

TOKEN = "bench-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(path: Path, rate_limit: int, latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deskmigrate.loaders.intercom.sandbox",
            "--path",
            str(path),
            "--token",
            TOKEN,
            "--port",
            str(port),
            "--rate-limit",
            str(rate_limit),
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the sandbox did not start")


def run_cli(config: Path, command: str) -> tuple[float, int, dict]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "deskmigrate", command, "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "BENCH_TOKEN": TOKEN},
    )
    elapsed = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    reports = sorted((config.parent / "state" / "reports").glob("*.json"), key=lambda p: p.stat().st_mtime)
    report = json.loads(reports[-1].read_text()) if reports else {}
    if result.returncode not in (0, 3):
        sys.stderr.write(result.stderr.decode())
        raise SystemExit(f"deskmigrate {command} exited {result.returncode}")
    return elapsed, peak_kib, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000, help="contacts; companies are a tenth")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rate-limit", type=int, default=1666, help="calls per 10-second window")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    make_csv(args.records, work)
    sandbox_path = work / "sandbox.db"
    process, url = start_sandbox(sandbox_path, args.rate_limit, args.latency_ms)
    config = work / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "source": {
                    "type": "csv",
                    "companies": {"path": "companies.csv"},
                    "contacts": {"path": "contacts.csv", "company_column": "company_ids", "tags_column": "tags"},
                },
                "target": {"type": "sandbox", "token": "${BENCH_TOKEN}", "base_url": url},
                "mapping": "csv",
                "state": "state",
                "load": {"concurrency": args.concurrency},
            },
            sort_keys=False,
        )
    )
    try:
        elapsed, peak_kib, report = run_cli(config, "run")
        store = SandboxStore(sandbox_path)
        log = store.request_log()
        first_run_calls = len(log)
        by_route: dict[str, int] = {}
        for entry in log:
            by_route[entry["route"]] = by_route.get(entry["route"], 0) + 1
        contacts = len(store.objects("contacts"))
        companies = len(store.objects("companies"))
        taggings = sum(len(c["tags"]["data"]) for c in store.objects("contacts"))
        throttled = sum(1 for e in log if e["status"] == 429)
        load_window = [e["at"] for e in log]
        load_seconds = max(load_window) - min(load_window) if load_window else elapsed
        budget = args.rate_limit * load_seconds / 10.0
        rerun_elapsed, _, _ = run_cli(config, "run")
        rerun_writes = sum(1 for e in store.request_log()[first_run_calls:] if e["method"] != "GET" and "search" not in e["route"])
    finally:
        process.terminate()
        process.wait()

    records = contacts + companies
    print(f"records loaded           {contacts} contacts, {companies} companies, {taggings} contact taggings")
    print(f"wall time (run)          {elapsed:.1f} s  ({records / elapsed:.1f} records/s)")
    print(f"API calls, first run     {first_run_calls}  ({first_run_calls / max(records, 1):.3f} per record)")
    print(f"  POST /contacts         {by_route.get('POST /contacts', 0) / max(contacts, 1):.3f} per contact")
    print(f"  company links          {by_route.get('POST /contacts/{id}/companies', 0) / max(contacts, 1):.3f} per contact")
    print(
        f"  company calls          {(by_route.get('POST /companies', 0) + by_route.get('GET /companies', 0)) / max(companies, 1):.3f} per company"
    )
    print(f"  POST /tags (bulk)      {by_route.get('POST /tags', 0)}  ({by_route.get('POST /tags', 0) / max(taggings, 1):.4f} per tagging)")
    print(f"rate budget used         {100 * first_run_calls / max(budget, 1):.1f}%  of {args.rate_limit}/10 s over {load_seconds:.1f} s")
    print(f"429s                     {throttled}")
    print(f"peak RSS (deskmigrate)   {peak_kib / 1024:.0f} MiB")
    print(f"unchanged re-run         {rerun_writes} writes, {rerun_elapsed:.1f} s")
    print(f"report                   {json.dumps(report.get('api', {}))[:300]}")
    print(f"work folder              {work}")


if __name__ == "__main__":
    main()
