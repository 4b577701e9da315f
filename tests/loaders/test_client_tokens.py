"""The Intercom client over several tokens of one workspace: calls spread over all, a 429 slowing one token only, ordered
calls kept in order whichever token carries them, every token redacted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from deskmigrate.core.errors import AuthError, RejectedError
from deskmigrate.core.http import RetryPolicy
from deskmigrate.loaders.intercom.client import IntercomClient
from tests.fakes import loopback
from tests.loaders.test_client import FakeIntercom, Reply, Seen, error_body

TOKENS = ["fake-token-one-aaaa-1111111111", "fake-token-two-bbbb-2222222222", "fake-token-three-cccc-333333333"]
POLICY = RetryPolicy(max_attempts=3, deadline_s=20, base_delay_s=0.005, max_delay_s=0.01)


def token_of(seen: Seen) -> int:
    """Which token (1-based) a request carried."""
    return TOKENS.index(seen.headers["Authorization"].removeprefix("Bearer ")) + 1


def budget(remaining: int = 500, reset_in_s: int = 10) -> dict[str, str]:
    return {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(int(time.time()) + reset_in_s)}


@pytest.fixture
def several() -> Iterator[Callable[..., tuple[IntercomClient, FakeIntercom]]]:
    clients: list[IntercomClient] = []
    with loopback.ScriptedServers() as serve:

        def start(respond: Callable[[Seen], object], tokens: list[str] = TOKENS, **options: Any) -> tuple[IntercomClient, FakeIntercom]:
            fake = FakeIntercom(respond)
            client = IntercomClient(serve(fake.answer), tokens, policy=POLICY, **options)
            clients.append(client)
            return client, fake

        yield start
        for client in clients:
            client.close()


def run_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_calls_are_spread_over_every_token_and_counted_per_token(several) -> None:
    client, fake = several(lambda seen: Reply(200, {"type": "contact", "id": seen.path.rsplit("/", 1)[-1]}, budget()))

    run_threads(6, lambda worker: [client.get_contact(f"c{worker}-{n}") for n in range(10)])

    per_token = [sum(1 for seen in fake.seen if token_of(seen) == position) for position in (1, 2, 3)]
    assert sum(per_token) == 60 and min(per_token) >= 10, per_token
    report = client.stats_dict()
    assert report["tokens"] == [{"token": position, "calls": per_token[position - 1], "rate_limited": 0} for position in (1, 2, 3)]


def test_a_429_on_one_token_does_not_stop_the_others(several) -> None:
    def respond(seen: Seen) -> Reply:
        if token_of(seen) == 2:  # this app's budget is spent for the next minute
            return Reply(429, error_body("rate_limit_exceeded", "Exceeded rate limit of 1000 in 10_seconds"), budget(0, reset_in_s=60))
        return Reply(200, {"type": "contact", "id": seen.path.rsplit("/", 1)[-1]}, budget())

    client, fake = several(respond)
    got: list[str] = []
    run_threads(6, lambda worker: got.extend(client.get_contact(f"c{worker}-{n}")["id"] for n in range(8)))

    assert sorted(got) == sorted(f"c{w}-{n}" for w in range(6) for n in range(8))  # none waited out token 2's minute
    by_token = {row["token"]: row for row in client.stats_dict()["tokens"]}
    assert by_token[2]["rate_limited"] == by_token[2]["calls"] >= 1
    assert by_token[1]["rate_limited"] == by_token[3]["rate_limited"] == 0
    assert by_token[1]["calls"] + by_token[3]["calls"] == 48
    assert client.stats.rate_limited == by_token[2]["calls"]


def test_calls_one_thread_makes_in_order_arrive_in_order_whichever_token_carries_them(several) -> None:
    client, fake = several(lambda seen: Reply(200, {"type": "conversation", "id": "1"}, budget()))
    stop = threading.Event()

    def noise(_: int) -> None:  # other workers keep every token busy meanwhile
        while not stop.is_set():
            client.get_contact("other")

    helpers = [threading.Thread(target=noise, args=(index,)) for index in range(4)]
    for helper in helpers:
        helper.start()
    try:
        for n in range(40):
            client.reply_to_conversation("conv-1", {"message_type": "comment", "type": "admin", "body": f"part {n}"})
    finally:
        stop.set()
        for helper in helpers:
            helper.join()

    replies = [seen for seen in fake.seen if seen.path == "/conversations/conv-1/reply"]
    assert [seen.body["body"] for seen in replies] == [f"part {n}" for n in range(40)]
    assert len({token_of(seen) for seen in replies}) == 3  # the order held while the tokens carrying it changed


def test_no_token_shows_in_an_error_even_when_the_server_echoes_it(several) -> None:
    def respond(seen: Seen) -> Reply:
        echoed = f"bad request from {seen.headers['Authorization']} ({seen.headers['Authorization'].split()[-1]})"
        return Reply(400, error_body("parameter_invalid", echoed), budget())

    client, _ = several(respond)
    for _ in range(3):  # each call may go through another token
        with pytest.raises(RejectedError) as raised:
            client.create_contact({"role": "user", "email": "a@example.com"})
        shown = f"{raised.value} {raised.value.excerpt}"
        assert not any(token in shown for token in TOKENS), shown


def test_check_asks_each_token_for_its_workspace_and_names_a_refused_one_by_position(several) -> None:
    def respond(seen: Seen) -> Reply:
        position = token_of(seen)
        if position == 3:
            return Reply(401, error_body("unauthorized", "Access Token Invalid"))
        return Reply(200, {"type": "admin", "app": {"id_code": "ws1" if position == 1 else "ws2", "name": f"W{position}"}}, budget())

    client, fake = several(respond)
    with pytest.raises(AuthError, match="token 3 of target.tokens") as raised:
        client.token_workspaces()
    assert not any(token in str(raised.value) for token in TOKENS)

    two, _ = several(respond, tokens=TOKENS[:2])
    assert two.token_workspaces() == [(1, "ws1", "W1"), (2, "ws2", "W2")]


def test_one_token_is_the_client_it_always_was(several) -> None:
    client, fake = several(lambda seen: Reply(200, {"type": "admin"}, budget()), tokens=TOKENS[:1])
    client.me()
    assert "tokens" not in client.stats_dict()
    assert {token_of(seen) for seen in fake.seen} == {1}
    with pytest.raises(AuthError):
        IntercomClient("http://127.0.0.1:9", ["", "x"])
