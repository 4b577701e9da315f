"""The first load's company listing (`GET /companies/scroll` in preflight): a company it shows is adopted as it was, and a
listing that lost a page is not trusted — every page of a scroll is asked for with one `scroll_param`, so a retry would
skip the lost page and take the companies on it for new ones (then a rollback would delete them)."""

from __future__ import annotations

from typing import Any

import requests

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.http import RetryPolicy
from deskmigrate.core.ledger import Ledger
from deskmigrate.core.model import Company
from deskmigrate.core.payload import Payload
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.companies import load_companies
from deskmigrate.loaders.intercom.loader import IntercomLoader
from deskmigrate.loaders.intercom.preflight import preflight
from deskmigrate.sandbox import SandboxStore
from deskmigrate.transforms import Mapper, load_mapping
from tests.conftest import TOKEN

FAST_RETRIES = RetryPolicy(max_attempts=5, base_delay_s=0.0, max_delay_s=0.0)


class LosesOneScrollAnswer(requests.Session):
    """Intercom serves the chosen scroll page, then the answer is lost on the way back (a read timeout)."""

    def __init__(self, lose_call: int) -> None:
        super().__init__()
        self.lose_call = lose_call
        self.scroll_calls = 0

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        if url.endswith("/companies/scroll"):
            self.scroll_calls += 1
            if self.scroll_calls == self.lose_call:
                raise requests.ReadTimeout("read timed out")
        return response


def seed_companies(api: Any, n: int) -> None:
    for i in range(n):
        response = api.post("/companies", {"company_id": f"c-{i:03d}", "name": f"Company {i} (before)", "plan": "before-plan"})
        assert response.status_code == 200, response.text


def load(tmp_path: Any, url: str, session: requests.Session | None, source_ids: list[str]) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.db")
    run_id = ledger.start_run("test")
    ledger.stage(run_id, [Company(source="csv", source_id=sid, name=f"Company {sid} (migrated)") for sid in source_ids])
    client = IntercomClient(url, TOKEN, policy=FAST_RETRIES, session=session)
    loader = IntercomLoader(client, ledger, run_id, LoadConfig(concurrency=2))
    preflight(loader, [])
    mapper = Mapper(load_mapping("csv", None, []))
    payloads = [p for p in (mapper.map(r) for r in ledger.iter_staged("companies")) if isinstance(p, Payload)]
    result = load_companies(loader, payloads)
    assert result.failed == 0
    return ledger


def test_companies_the_listing_shows_are_adopted_with_their_before_image_and_new_ones_cost_one_call(
        start_sandbox, sandbox_path, tmp_path) -> None:
    server, api = start_sandbox()
    seed_companies(api, 120)  # three scroll pages: 50, 50, 20

    ledger = load(tmp_path, server.base_url, None, ["c-099", "c-119", "new-1", "new-2"])

    assert {sid: ledger.id_row("companies", sid).origin for sid in ("c-099", "c-119", "new-1", "new-2")} == {
        "c-099": "adopted", "c-119": "adopted", "new-1": "created", "new-2": "created"}
    assert ledger.id_row("companies", "c-099").before["name"] == "Company 99 (before)"
    with SandboxStore(sandbox_path) as store:
        routes = [entry["route"] for entry in store.request_log()]
    assert routes.count("GET /companies") == 0 and routes.count("POST /companies") == 120 + 4
    assert routes.count("GET /companies/scroll") == 4


def test_a_listing_that_lost_a_page_is_dropped_and_each_company_is_looked_up(start_sandbox, sandbox_path, tmp_path) -> None:
    server, api = start_sandbox()
    seed_companies(api, 120)
    session = LosesOneScrollAnswer(lose_call=2)  # the page holding c-050 … c-099 is served, and its answer lost

    ledger = load(tmp_path, server.base_url, session, ["c-099", "new-1"])

    assert ledger.id_row("companies", "c-099").origin == "adopted", "a company on the lost page is not taken for new"
    assert ledger.id_row("companies", "c-099").before["name"] == "Company 99 (before)"
    assert ledger.id_row("companies", "new-1").origin == "created"
    with SandboxStore(sandbox_path) as store:
        routes = [entry["route"] for entry in store.request_log()]
    assert routes.count("GET /companies/scroll") == 2, "the scroll is not asked again after a lost answer"
    assert routes.count("GET /companies") == 2, "each company is looked up instead"
