"""Preflight reads side by side, then writes side by side: the admins, the workspace's attributes and (on a first load)
its companies are asked for at once, then the missing attributes are made at once — and a read that stops the run
stops it before anything is made."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.errors import LoadError
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Company
from deskmigrate.core.payload import AttributeDeclaration
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.loader import IntercomLoader, side_by_side
from deskmigrate.loaders.intercom.preflight import preflight
from deskmigrate.sandbox import SandboxStore
from tests.conftest import TOKEN

# Long enough never to run out on a loaded machine; only reached when the calls it waits for do not overlap.
NEVER_S = 10.0
READS = ("GET /admins", "GET /data_attributes", "GET /companies/scroll")


class MeetsAtBarriers(requests.Session):
    """Holds each preflight read until every read has been sent, and each attribute create until every create has: a
    preflight that sends them one after another breaks the barrier instead of passing it."""

    def __init__(self, reads: int, creates: int) -> None:
        super().__init__()
        self.reads = threading.Barrier(reads, timeout=NEVER_S)
        self.creates = threading.Barrier(creates, timeout=NEVER_S)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        route = f"{method} /{url.split('/', 3)[3].split('?')[0]}"
        if route in READS:
            self.reads.wait()
        elif route == "POST /data_attributes":
            self.creates.wait()
        return super().request(method, url, *args, **kwargs)


def declared(model: str, *names: str, create: bool = True) -> list[AttributeDeclaration]:
    return [AttributeDeclaration(model=model, name=name, data_type="string", create_if_missing=create) for name in names]  # type: ignore[arg-type]


def first_load(tmp_path: Path, url: str, session: requests.Session | None = None) -> IntercomLoader:
    ledger = Ledger(tmp_path / "ledger.db")
    run_id = ledger.start_run("test")
    ledger.stage(run_id, [Company(source="csv", source_id="c1", name="Acme")])
    return IntercomLoader(IntercomClient(url, TOKEN, session=session), ledger, run_id, LoadConfig(concurrency=8))


def test_reads_go_out_together_then_the_missing_attributes_are_made_together(start_sandbox, sandbox_path, tmp_path) -> None:
    server, _ = start_sandbox()
    # admins, contact attributes, company attributes, the company listing; then three creates
    session = MeetsAtBarriers(reads=4, creates=3)
    loader = first_load(tmp_path, server.base_url, session)

    result = preflight(loader, [*declared("contact", "plan", "region"), *declared("company", "tier")])

    assert sorted(result.attributes_created) == ["company.tier", "contact.plan", "contact.region"]
    with SandboxStore(sandbox_path) as store:
        names = {a["name"] for a in store.objects("data_attributes")}
    assert {"plan", "region", "tier"} <= names
    assert sorted(w.source_id for w in loader.ledger.writes(loader.run_id)) == ["company.tier", "contact.plan", "contact.region"], \
        "every attribute made is in the ledger, so that a rollback archives it"


def test_a_read_that_stops_the_run_stops_it_before_any_attribute_is_made(start_sandbox, sandbox_path, tmp_path) -> None:
    server, _ = start_sandbox()
    loader = first_load(tmp_path, server.base_url)

    with pytest.raises(LoadError, match="company attribute 'tier' does not exist"):
        preflight(loader, [*declared("contact", "plan"), *declared("company", "tier", create=False)])

    with SandboxStore(sandbox_path) as store:
        routes = [entry["route"] for entry in store.request_log()]
        names = {a["name"] for a in store.objects("data_attributes")}
    assert "POST /data_attributes" not in routes
    assert "plan" not in names, "the contact attribute, whose read succeeded, was not made either"


def test_side_by_side_answers_in_order_and_raises_the_first_error_once_every_call_has_ended() -> None:
    ended: list[str] = []
    slow_started = threading.Event()

    def fails() -> str:
        slow_started.wait(NEVER_S)
        ended.append("fails")
        raise LoadError("the first error")

    def fails_too() -> str:
        ended.append("fails_too")
        raise LoadError("a later error")

    def slow() -> str:
        slow_started.set()
        ended.append("slow")
        return "slow"

    assert side_by_side([lambda: "a", lambda: "b", slow], workers=3) == ["a", "b", "slow"]
    ended.clear()
    slow_started.clear()
    with pytest.raises(LoadError, match="the first error"):
        side_by_side([fails, fails_too, slow], workers=3)
    assert sorted(ended) == ["fails", "fails_too", "slow"], "no call is left running behind the error"
