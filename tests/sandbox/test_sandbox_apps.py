"""The sandbox as a workspace with several private apps: a token each, a 10-second window each, one workspace limit."""

from __future__ import annotations

import sqlite3
from typing import Any

from deskmigrate.sandbox import SandboxStore
from tests.conftest import TOKEN, Api

SECOND = "sandbox-second-app-token-5d1e"
THIRD = "sandbox-third-app-token-77c0"
FOREIGN = "other-workspace-app-token-a3f9"


def statuses(answers: list[Any]) -> list[int]:
    return [answer.status_code for answer in answers]


def test_each_app_has_its_own_window(start_sandbox, manual_clock) -> None:
    manual_clock.now = 1_800_000_003.0
    server, first = start_sandbox(clock=manual_clock, rate_limit=2, extra_tokens=[SECOND])
    second = Api(server.base_url, SECOND)

    first_answers = [first.get("/admins") for _ in range(3)]
    second_answers = [second.get("/admins") for _ in range(3)]

    assert statuses(first_answers) == [200, 200, 429]
    assert statuses(second_answers) == [200, 200, 429]  # the first app's spent window is not the second's
    assert [a.headers["X-RateLimit-Remaining"] for a in second_answers] == ["1", "0", "0"]
    second.close()


def test_the_workspace_limit_binds_the_apps_together(start_sandbox, manual_clock, sandbox_path) -> None:
    manual_clock.now = 1_800_000_003.0
    # 30 a minute for the workspace: 5 in a 10-second window, across apps allowed 3 each
    server, first = start_sandbox(clock=manual_clock, rate_limit=3, extra_tokens=[SECOND, THIRD], workspace_rate_limit=30)
    second, third = Api(server.base_url, SECOND), Api(server.base_url, THIRD)

    answers = [first.get("/admins"), first.get("/admins"), first.get("/admins"), second.get("/admins"), second.get("/admins"),
               third.get("/admins")]

    assert statuses(answers) == [200, 200, 200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json()["errors"][0] == {"code": "rate_limit_exceeded", "message": "Exceeded rate limit of 5 in 10_seconds"}
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    manual_clock.advance(7)
    assert third.get("/admins").status_code == 200  # a new window for the workspace too
    with SandboxStore(sandbox_path) as store:
        assert [entry["app"] for entry in store.request_log()] == [1, 1, 1, 2, 2, 3, 3]
    second.close()
    third.close()


def test_every_app_is_the_same_workspace_and_a_foreign_token_is_not(start_sandbox, sandbox_path) -> None:
    server, first = start_sandbox(extra_tokens=[SECOND], foreign_tokens={FOREIGN: "otherws1"})
    second, foreign = Api(server.base_url, SECOND), Api(server.base_url, FOREIGN)

    workspaces = [api.get("/me").json()["app"]["id_code"] for api in (first, second, foreign)]

    assert workspaces[0] == workspaces[1] != workspaces[2] == "otherws1"
    assert foreign.get("/contacts").status_code == 401  # this workspace's data is not another workspace's app's
    assert second.post("/contacts", {"email": "a@example.com"}).status_code == 200
    assert Api(server.base_url, "not-a-token-at-all").get("/me").status_code == 401
    with SandboxStore(sandbox_path) as store:
        log = store.request_log()
    assert [entry["app"] for entry in log] == [1, 2, None, None, 2, None]
    for api in (second, foreign):
        api.close()


def test_a_sandbox_file_from_before_apps_gains_the_column(start_sandbox, sandbox_path) -> None:
    connection = sqlite3.connect(sandbox_path)
    connection.executescript(
        "CREATE TABLE request_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,"
        " route TEXT, status INTEGER, is_write INTEGER NOT NULL, dropped TEXT, request_id TEXT NOT NULL);"
        "INSERT INTO request_log (at, method, path, route, status, is_write, dropped, request_id) VALUES (1, 'GET', '/me', 'GET /me', 200, 0, NULL, 'r1');"
    )
    connection.commit()
    connection.close()

    _, api = start_sandbox()
    assert api.get("/me").status_code == 200

    with SandboxStore(sandbox_path) as store:
        assert [(entry["request_id"], entry["app"]) for entry in store.request_log()][0] == ("r1", None)
        assert store.request_log()[1]["app"] == 1


def test_the_settings_never_show_a_token(tmp_path) -> None:
    from deskmigrate.sandbox import SandboxSettings

    shown = repr(SandboxSettings(path=tmp_path / "s.db", token=TOKEN, extra_tokens=[SECOND], foreign_tokens={FOREIGN: "x"}))
    assert TOKEN not in shown and SECOND not in shown and FOREIGN not in shown
    assert "apps=2" in shown
