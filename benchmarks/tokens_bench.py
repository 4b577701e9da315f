"""Tokens benchmark: the same CSV load with 1, 2 and 3 tokens (private apps of one workspace) when the per-app limit binds.

Each run gets a fresh sandbox in its own process that knows three apps, each with `--rate-limit` calls per 10-second
window, and the workspace's `--workspace-rate-limit` calls a minute across them (the config sets the same figure, so
the loader's workspace cap matches it). Prints per token count: API calls, the wall time between the load's first and
last call, contacts/s over it, the steady throughput (calls/s in the whole 10-second windows between the first and the
last, which a run's partly used edge windows would otherwise skew) and the share of the rate budget those windows
used (the apps' sum, or the workspace's limit when lower), 429s, calls per token, and the speed-up against 1 token
(steady calls/s).

    python benchmarks/tokens_bench.py --contacts 500 --rate-limit 100 --latency-ms 50
    python benchmarks/tokens_bench.py --contacts 500 --rate-limit 100 --workspace-rate-limit 1500   # the workspace cap binds
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import start_sandbox  # noqa: E402
from make_csv import make_csv  # noqa: E402

from deskmigrate.sandbox import SandboxStore  # noqa: E402

TOKENS = {"BENCH_TOKEN_A": "bench-app-a-token-0123456789", "BENCH_TOKEN_B": "bench-app-b-token-9876543210",
          "BENCH_TOKEN_C": "bench-app-c-token-5555511111"}
WINDOW_S = 10


@dataclass
class Outcome:
    tokens: int
    calls: int
    seconds: float
    contacts: int
    steady_calls: int  # in the whole windows between the first and the last
    steady_windows: int
    window_budget: int
    rate_limited: int
    per_token: dict[int, int]

    @property
    def calls_per_s(self) -> float:
        """Steady throughput; the whole run's when it touched no window in full."""
        if self.steady_windows:
            return self.steady_calls / (self.steady_windows * WINDOW_S)
        return self.calls / self.seconds if self.seconds else float("nan")

    @property
    def budget_used(self) -> float:
        if self.steady_windows:
            return self.steady_calls / (self.steady_windows * self.window_budget)
        return float("nan")


def write_config(work: Path, url: str, token_count: int, args: argparse.Namespace) -> Path:
    config = work / "config.yaml"
    names = list(TOKENS)[:token_count]
    config.write_text(yaml.safe_dump({
        "source": {"type": "csv", "companies": {"path": "companies.csv"},
                   "contacts": {"path": "contacts.csv", "company_column": "company_ids", "tags_column": "tags"}},
        "target": {"type": "sandbox", "tokens": [f"${{{name}}}" for name in names], "base_url": url,
                   "workspace_rate_limit": args.workspace_rate_limit},
        "mapping": "csv",
        "state": "state",
        "load": {"concurrency": args.concurrency},
    }, sort_keys=False))
    return config


def per_window_budget(token_count: int, args: argparse.Namespace) -> int:
    return min(token_count * args.rate_limit, args.workspace_rate_limit * WINDOW_S // 60)


def one_run(token_count: int, args: argparse.Namespace, root: Path) -> Outcome:
    work = root / f"tokens-{token_count}"
    work.mkdir(parents=True, exist_ok=True)
    make_csv(args.contacts, work)
    sandbox_path = work / "sandbox.db"
    process, url = start_sandbox(sandbox_path, args.rate_limit, args.latency_ms, tokens=tuple(TOKENS.values()),
                                 workspace_rate_limit=args.workspace_rate_limit)
    try:
        config = write_config(work, url, token_count, args)
        result = subprocess.run([sys.executable, "-m", "deskmigrate", "run", "-c", str(config)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **TOKENS})
        if result.returncode not in (0, 3):
            sys.stderr.write(result.stderr.decode())
            raise SystemExit(f"deskmigrate run with {token_count} token(s) exited {result.returncode}")
        with SandboxStore(sandbox_path) as store:
            log = store.request_log()
            contacts = len(store.objects("contacts"))
    finally:
        process.terminate()
        process.wait()
    times = [entry["at"] for entry in log]
    first, last = min(times), max(times)
    first_window, last_window = math.floor(first / WINDOW_S), math.floor(last / WINDOW_S)
    steady = [at for at in times if first_window < math.floor(at / WINDOW_S) < last_window]
    return Outcome(
        tokens=token_count, calls=len(log), seconds=last - first, contacts=contacts, steady_calls=len(steady),
        steady_windows=max(last_window - first_window - 1, 0), window_budget=per_window_budget(token_count, args),
        rate_limited=sum(1 for entry in log if entry["status"] == 429),
        per_token=dict(sorted(Counter(entry["app"] for entry in log).items())),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=500, help="contacts to load (companies are a tenth)")
    parser.add_argument("--rate-limit", type=int, default=100, help="calls per 10-second window, per app (low, so it binds)")
    parser.add_argument("--workspace-rate-limit", type=int, default=25_000, help="calls a minute across the workspace's apps")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tokens", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3], help="token counts to run")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="deskmigrate-tokens-bench-"))
    outcomes = [one_run(count, args, root) for count in args.tokens]
    baseline = outcomes[0].calls_per_s if outcomes[0].tokens == 1 else None
    print(f"per app {args.rate_limit} calls/10 s, workspace {args.workspace_rate_limit}/min ({args.workspace_rate_limit * WINDOW_S // 60}/10 s), "
          f"{args.latency_ms:g} ms latency, concurrency {args.concurrency}, {args.contacts} contacts")
    print(f"{'tokens':>6} {'calls':>6} {'load s':>7} {'contacts/s':>10} {'steady calls/s':>14} {'budget used':>11} {'429s':>5} "
          f"{'speed-up':>8}  calls per token")
    for outcome in outcomes:
        speed_up = f"{outcome.calls_per_s / baseline:.2f}x" if baseline else "-"
        print(f"{outcome.tokens:>6} {outcome.calls:>6} {outcome.seconds:>7.1f} {outcome.contacts / outcome.seconds:>10.1f} "
              f"{outcome.calls_per_s:>14.1f} {100 * outcome.budget_used:>10.1f}% {outcome.rate_limited:>5} {speed_up:>8}  {outcome.per_token}")
    print(f"work folder: {root}")


if __name__ == "__main__":
    main()
