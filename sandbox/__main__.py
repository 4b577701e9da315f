"""`python -m deskmigrate.sandbox --path F --token T`: serve a sandbox in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from deskmigrate.sandbox.server import SandboxServer
from deskmigrate.sandbox.settings import SandboxSettings

logger = logging.getLogger("deskmigrate.sandbox")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deskmigrate.sandbox", description="Serve a local Intercom API sandbox."
    )
    parser.add_argument("--path", type=Path, required=True, help="SQLite file holding the workspace (created if missing)")
    parser.add_argument("--token", required=True, help="the bearer token the sandbox accepts")
    parser.add_argument("--extra-token", action="append", default=[], metavar="TOKEN",
                        help="the token of another private app of the same workspace, with its own rate-limit window (repeatable)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--rate-limit", type=int, default=None, help="calls per 10-second window (default: unlimited)")
    parser.add_argument("--workspace-rate-limit", type=int, default=None,
                        help="calls a minute across all the workspace's apps, held in 10-second windows (default: not emulated)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered with a 5xx")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of requests whose connection is dropped")
    parser.add_argument("--search-delay-s", type=float, default=2.0, help="seconds before a new contact is searchable")
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible fault injection")
    parser.add_argument("--strict-phones", action="store_true",
                        help="answer 400 to a contact phone that is not E.164 (Intercom accepts free text; a test switch)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = SandboxSettings(
        path=args.path,
        token=args.token,
        rate_limit=args.rate_limit,
        extra_tokens=args.extra_token,
        workspace_rate_limit=args.workspace_rate_limit,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        search_delay_s=args.search_delay_s,
        seed=args.seed,
        strict_phones=args.strict_phones,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with SandboxServer(settings, host=args.host, port=args.port) as server:
        logger.info("sandbox ready at %s", server.base_url)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
    logger.info("sandbox stopped")


if __name__ == "__main__":
    main()
