"""What the cassette tests share: vcrpy in replay-only mode (recording on request, against a fake) and the secrets check.

Re-record a vendor's cassettes (after changing its fake account or the connector's calls):
    DESKMIGRATE_RECORD_CASSETTES=1 .venv/bin/pytest tests/connectors/<vendor>/test_<vendor>_cassettes.py -q
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import vcr

from tests.fakes.base import FakeVendorServer

RECORDING = os.environ.get("DESKMIGRATE_RECORD_CASSETTES") == "1"
CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
REPLAY_BASE_URL = "http://127.0.0.1:9"  # never contacted: vcrpy answers every request from the cassette

Fake = TypeVar("Fake", bound=FakeVendorServer)


def recorder(**options: Any) -> vcr.VCR:
    """Replays only (recording when asked), Authorization headers filtered out, requests matched on method, path and query."""
    return vcr.VCR(
        record_mode="all" if RECORDING else "none",
        filter_headers=["authorization"],
        match_on=["method", "path", "query"],
        **options,
    )


@contextmanager
def cassette_base_url(path: Path, new_fake: Callable[[], Fake], prepare: Callable[[Fake], None] | None = None) -> Iterator[str]:
    """Yield the base URL to configure: the replay URL, or (recording) a fresh fake prepared with its faults."""
    if RECORDING:
        with new_fake() as fake:
            if prepare is not None:
                prepare(fake)
            with recorder().use_cassette(str(path)):
                yield fake.base_url
    else:
        with recorder().use_cassette(str(path), allow_playback_repeats=False):
            yield REPLAY_BASE_URL


def assert_cassettes_hold_no_secret(folder: Path, count: int, secrets: Iterable[str]) -> None:
    """All `count` cassettes of `folder` are free of each secret and of any Authorization header."""
    cassettes = sorted(folder.glob("*.yaml"))
    assert len(cassettes) == count
    for cassette in cassettes:
        text = cassette.read_text(encoding="utf-8")
        for secret in (*secrets, "Authorization", "authorization"):
            assert secret not in text, f"{secret[:12]}… found in {cassette.name}"
