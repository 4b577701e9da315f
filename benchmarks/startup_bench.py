"""Start-up benchmark: `deskmigrate --version`, `--help`, `import deskmigrate.cli`, and the time from the start of `run`
to its first API call, each in fresh processes (issue 14, item 1).

The first call: a `run` of a generated CSV (N contacts, N/10 companies) against a sandbox in its own process with
injected latency. The clock starts just before the `run` process is spawned; the first call is when the sandbox
received its first request, read from the sandbox's own request log (each entry is stamped with the sandbox's clock
when the answer is made, after the injected latency; the latency is subtracted, a `GET /me` takes well under a
millisecond to answer). Both clocks are this machine's wall clock.

    python benchmarks/startup_bench.py
    python benchmarks/startup_bench.py --python /tmp/before-venv/bin/python --python .venv/bin/python --repeat 7

`--python` measures another install of deskmigrate; given twice, the two are measured in turn, round after round, so that
a busy machine weighs on both alike (a before/after comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import TOKEN, start_sandbox  # noqa: E402
from make_csv import make_csv  # noqa: E402

from deskmigrate.sandbox import SandboxStore  # noqa: E402

# What the `deskmigrate` console script runs (pyproject's [project.scripts]), without depending on where it is installed.
CONSOLE_SCRIPT = "import sys; sys.argv[0] = 'deskmigrate'; from deskmigrate.cli import main; sys.exit(main())"


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=cwd)
    return time.perf_counter() - started


def first_call(python: str, csv_dir: Path, work: Path, latency_ms: float, rate_limit: int) -> tuple[float, float, float, str]:
    """One fresh `run` (new state, new sandbox): seconds from spawning it to the sandbox receiving its first request and
    its first write, the run's whole duration, and what the first request was."""
    work.mkdir(parents=True)
    for name in ("companies.csv", "contacts.csv"):
        shutil.copy(csv_dir / name, work / name)
    sandbox_path = work / "sandbox.db"
    process, url = start_sandbox(sandbox_path, rate_limit, latency_ms, python=python)
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "source": {"type": "csv", "companies": {"path": "companies.csv"},
                   "contacts": {"path": "contacts.csv", "company_column": "company_ids", "tags_column": "tags"}},
        "target": {"type": "sandbox", "token": "${BENCH_TOKEN}", "base_url": url},
        "mapping": "csv", "state": "state",
    }, sort_keys=False))
    try:
        started = time.time()
        done = subprocess.run([python, "-c", CONSOLE_SCRIPT, "run", "-c", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env={**os.environ, "BENCH_TOKEN": TOKEN}, cwd=work)
        elapsed = time.time() - started
        if done.returncode not in (0, 3):
            sys.stderr.write(done.stderr.decode())
            raise SystemExit(f"deskmigrate run exited {done.returncode}")
        log = SandboxStore(sandbox_path).request_log()
        if not log:
            raise SystemExit("the run made no API call")
        latency_s = latency_ms / 1000.0
        first = min(log, key=lambda entry: entry["at"])
        first_write = min(entry["at"] for entry in log if entry["write"])
        return first["at"] - latency_s - started, first_write - latency_s - started, elapsed, first["route"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def summary(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.0f} ms   min {min(samples) * 1000:7.0f} ms"


def measure_round(python: str, root: Path, run_dir: Path, args: argparse.Namespace, figures: dict[str, list[float]],
                  routes: set[str]) -> None:
    """One measurement of each figure for one install, each in a fresh process."""
    figures.setdefault("--version", []).append(timed([python, "-c", CONSOLE_SCRIPT, "--version"], root))
    figures.setdefault("--help", []).append(timed([python, "-c", CONSOLE_SCRIPT, "--help"], root))
    figures.setdefault("import deskmigrate.cli", []).append(timed([python, "-c", "import deskmigrate.cli"], root))
    first, first_write, total, route = first_call(python, root / "csv", run_dir, args.latency_ms, args.rate_limit)
    figures.setdefault("run: start → first API call", []).append(first)
    figures.setdefault("run: start → first write", []).append(first_write)
    figures.setdefault("run: whole run", []).append(total)
    routes.add(route)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", action="append", help="the interpreter of a deskmigrate install to measure (this one when "
                        "left out); give it twice to compare two installs, measured in turn, round after round")
    parser.add_argument("--rows", type=int, default=500, help="contacts in the generated CSV (companies: a tenth as many)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the sandbox's injected latency per call")
    parser.add_argument("--rate-limit", type=int, default=1666, help="the sandbox's calls per 10 s (a private app's 10,000/min)")
    parser.add_argument("--repeat", type=int, default=5, help="measurements of each (after one warm-up round)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = parser.parse_args()

    pythons = args.python or [sys.executable]
    figures: dict[str, dict[str, list[float]]] = {python: {} for python in pythons}
    routes: dict[str, set[str]] = {python: set() for python in pythons}
    # Every process runs in an empty folder: `python -c` puts the working directory first on sys.path, and a checkout's
    # own deskmigrate/ folder there would shadow the install being measured.
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as temp:
        root = Path(temp)
        make_csv(args.rows, root / "csv")
        for attempt in range(args.repeat + 1):
            for number, python in enumerate(pythons):
                # the first round is a warm-up: bytecode compiled, files in the page cache
                kept: dict[str, list[float]] = figures[python] if attempt else {}
                measure_round(python, root, root / f"run{attempt}-{number}", args, kept, routes[python])
    if args.json:
        print(json.dumps({python: {name: {"median_s": statistics.median(v), "min_s": min(v), "samples_s": v} for name, v in found.items()}
                          | {"first_call_routes": sorted(routes[python])} for python, found in figures.items()}, indent=2))
        return
    print(f"{args.rows} contacts + {max(1, args.rows // 10)} companies, sandbox latency {args.latency_ms:.0f} ms, "
          f"{args.repeat} measurements of each after a warm-up round")
    for python, found in figures.items():
        print(python)
        for name, samples in found.items():
            print(f"  {name:<30} {summary(samples)}")
        print(f"  the first API call: {', '.join(sorted(routes[python]))}")


if __name__ == "__main__":
    main()
