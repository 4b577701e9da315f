"""Load benchmark: N synthetic contacts (N/10 companies, tags) → the sandbox with injected latency and a rate limit.

Prints records/s, API calls per record (creates, company links and tag calls apart), the share of the
rate budget used, 429s, and peak memory; then re-runs to show an unchanged re-run makes no write.
The sandbox runs in its own process, as Intercom would, so its CPU does not slow the loader.

    python benchmarks/load_bench.py --records 10000 --latency-ms 50 --rate-limit 1666

With `--tickets N --comments M` it loads N synthetic Zendesk tickets of M comments each as conversations
instead (contacts are set up first, untimed) and prints tickets/s, parts/s and calls per ticket.

    python benchmarks/load_bench.py --tickets 500 --comments 8 --latency-ms 50 --rate-limit 1666
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

from deskmigrate.sandbox import SandboxStore  # noqa: E402

TOKEN = "bench-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(path: Path, rate_limit: int, latency_ms: float, *, tokens: tuple[str, ...] = (TOKEN,),
                  workspace_rate_limit: int | None = None, python: str = sys.executable) -> tuple[subprocess.Popen[bytes], str]:
    """A sandbox in its own process, as Intercom would be (its CPU does not slow the loader); every benchmark starts it here.
    `tokens`: the apps it accepts (the first is the main one); `python`: the interpreter whose deskmigrate serves it."""
    port = free_port()
    first, *others = tokens
    command = [python, "-m", "deskmigrate.sandbox", "--path", str(path), "--token", first, "--port", str(port),
               "--rate-limit", str(rate_limit), "--latency-ms", str(latency_ms)]
    command += [argument for token in others for argument in ("--extra-token", token)]
    if workspace_rate_limit is not None:
        command += ["--workspace-rate-limit", str(workspace_rate_limit)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=path.parent)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the sandbox did not start")


def write_csv_config(work: Path, url: str, concurrency: int) -> Path:
    """config.yaml for the CSV files make_csv wrote in `work`, into the sandbox at `url` (token from BENCH_TOKEN)."""
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": {
            "type": "csv",
            "companies": {"path": "companies.csv"},
            "contacts": {"path": "contacts.csv", "company_column": "company_ids", "tags_column": "tags"},
        },
        "target": {"type": "sandbox", "token": "${BENCH_TOKEN}", "base_url": url},
        "mapping": "csv",
        "state": "state",
        "load": {"concurrency": concurrency},
    }, sort_keys=False))
    return config


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


def conversation_bench(args: argparse.Namespace, work: Path) -> None:
    """N tickets × M comments through the conversations phase, in-process, against a sandbox in its own process."""
    from datetime import UTC, datetime, timedelta

    from deskmigrate.core.config import LoadConfig
    from deskmigrate.core.ledger import Ledger
    from deskmigrate.core.model import Agent, Conversation, Part
    from deskmigrate.core.payload import Payload
    from deskmigrate.loaders.intercom.client import IntercomClient
    from deskmigrate.loaders.intercom.history import load_history
    from deskmigrate.loaders.intercom.loader import IntercomLoader, run_concurrently
    from deskmigrate.loaders.intercom.preflight import preflight
    from deskmigrate.transforms import Mapper, load_mapping

    sandbox_path = work / "sandbox.db"
    process, url = start_sandbox(sandbox_path, args.rate_limit, args.latency_ms)
    ledger = Ledger(work / "ledger.db")
    client = IntercomClient(url, TOKEN, pool_size=max(16, args.concurrency * 2))
    try:
        setup_run = ledger.start_run("setup")
        ledger.stage(setup_run, [Agent(source="zendesk", source_id="1", email="agent@sandbox.example.com")])
        requesters = [str(i) for i in range(max(1, args.tickets // 4))]

        def make_contact(source_id: str) -> None:
            contact = client.create_contact({"role": "user", "external_id": f"zd:{source_id}"})
            ledger.record_write(setup_run, "contacts", "contacts", source_id, intercom_id=contact["id"], action="create",
                                origin="created", payload_hash="", body={})

        run_concurrently(requesters, make_contact, args.concurrency)
        spec = load_mapping("zendesk", None, [])
        mapper = Mapper(spec)
        start = datetime(2024, 1, 1, tzinfo=UTC)
        payloads = []
        for t in range(args.tickets):
            requester = requesters[t % len(requesters)]
            parts = [
                Part(source_id=f"{t}-{c}", author_kind="contact" if c % 2 == 0 else "agent", author_id=requester if c % 2 == 0 else "1",
                     body_html=f"<p>Comment {c} of ticket {t}</p>", public=c % 3 != 2, created_at=start + timedelta(minutes=t * 100 + c))
                for c in range(args.comments)
            ]
            record = Conversation(source="zendesk", source_id=str(t), subject=f"Ticket {t}", requester_id=requester, assignee_id="1",
                                  status="solved" if t % 2 else "open", tags=["bench"], created_at=parts[0].created_at, parts=parts)
            mapped = mapper.map(record)
            assert isinstance(mapped, Payload)
            payloads.append(mapped)
        calls_before = len(SandboxStore(sandbox_path).request_log())
        # As `run` prepares a load of ticket history: the workspace's conversation attributes are read, and on 2.15 those the
        # mapping writes that it lacks are kept as tags (the sandbox refuses a conversation attribute it does not have).
        declarations = mapper.written_attribute_declarations()
        loader = IntercomLoader(client, ledger, ledger.start_run("load"), LoadConfig(concurrency=args.concurrency))
        loader.mapping_options = spec.loader_options()
        preflight(loader, declarations)
        started = time.monotonic()
        result = load_history(loader, payloads)
        elapsed = time.monotonic() - started
        log = SandboxStore(sandbox_path).request_log()[calls_before:]
        rerun = IntercomLoader(client, ledger, ledger.start_run("load"), LoadConfig(concurrency=args.concurrency))
        rerun.mapping_options = spec.loader_options()
        preflight(rerun, declarations)
        rerun_result = load_history(rerun, payloads)
    finally:
        client.close()
        ledger.close()
        process.terminate()
        process.wait()
    writes = [e for e in log if e["write"]]
    by_route: dict[str, int] = {}
    for entry in writes:
        by_route[entry["route"]] = by_route.get(entry["route"], 0) + 1
    parts_total = args.tickets * args.comments
    print(f"tickets loaded           {result.created} of {args.tickets} ({args.comments} comments each), failed {result.failed}")
    print(f"wall time (load)         {elapsed:.1f} s  ({args.tickets / elapsed:.1f} tickets/s, {parts_total / elapsed:.0f} comments/s)")
    print(f"API calls                {len(log)}  ({len(log) / max(args.tickets, 1):.2f} per ticket, {len(writes) / max(args.tickets, 1):.2f} writes)")
    for route, count in sorted(by_route.items()):
        print(f"  {route:<34} {count / max(args.tickets, 1):.2f} per ticket")
    print(f"429s                     {sum(1 for e in log if e['status'] == 429)}")
    print(f"unchanged re-run         {rerun_result.unchanged} tickets unchanged, {rerun_result.created + rerun_result.updated} sent")
    print(f"work folder              {work}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000, help="contacts; companies are a tenth")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rate-limit", type=int, default=1666, help="calls per 10-second window")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--tickets", type=int, help="benchmark conversations: this many tickets instead of contacts")
    parser.add_argument("--comments", type=int, default=8, help="comments per ticket (with --tickets)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.tickets:
        conversation_bench(args, work)
        return
    make_csv(args.records, work)
    sandbox_path = work / "sandbox.db"
    process, url = start_sandbox(sandbox_path, args.rate_limit, args.latency_ms)
    config = write_csv_config(work, url, args.concurrency)
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
        f"  company calls          {(by_route.get('POST /companies', 0) + by_route.get('GET /companies', 0) + by_route.get('GET /companies/scroll', 0)) / max(companies, 1):.3f} per company"
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
