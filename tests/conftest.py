"""Shared fixtures: a sandbox server per test (the loader, sandbox and app tests all run against it), a manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from deskmigrate.sandbox import SandboxServer, SandboxSettings, SandboxStore

TOKEN = "sandbox-test-token-123"


class ManualClock:
    """A clock the test moves by hand, so windows and delays are crossed without sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """A requests session against one sandbox, with the bearer token and Intercom-Version set."""

    def __init__(self, base_url: str, token: str = TOKEN) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Intercom-Version": "2.15", "Accept": "application/json"})

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base_url + path, json=body, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.call("POST", path, body)

    def put(self, path: str, body: Any = None) -> requests.Response:
        return self.call("PUT", path, body)

    def delete(self, path: str) -> requests.Response:
        return self.call("DELETE", path)

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def sandbox_token() -> str:
    return TOKEN


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox_path(tmp_path: Path) -> Path:
    return tmp_path / "sandbox.db"


@pytest.fixture
def start_sandbox(sandbox_path: Path) -> Iterator[Callable[..., tuple[SandboxServer, Api]]]:
    """Start a sandbox with some settings overridden; every server and session is closed after the test."""
    started: list[tuple[SandboxServer, Api]] = []

    def start(clock: Callable[[], float] | None = None, **overrides: Any) -> tuple[SandboxServer, Api]:
        settings = SandboxSettings(**{"path": sandbox_path, "token": TOKEN, "search_delay_s": 0.0, **overrides})
        server = SandboxServer(settings, clock=clock) if clock else SandboxServer(settings)
        server.start()
        api = Api(server.base_url)
        started.append((server, api))
        return server, api

    yield start
    for server, api in started:
        api.close()
        server.stop()


@pytest.fixture
def sandbox_api(start_sandbox: Callable[..., tuple[SandboxServer, Api]]) -> Api:
    """A default sandbox (no faults, no search delay) and a session on it."""
    return start_sandbox()[1]


@pytest.fixture
def sandbox_store(sandbox_path: Path) -> Iterator[SandboxStore]:
    opened = SandboxStore(sandbox_path)
    yield opened
    opened.close()
