"""Progress people can read (issue 12, item 6): bars with done/total, rate, time left and what was rejected or failed,
that end full and before the summary; off a terminal, a line per phase every 10 seconds on stderr and in the log."""

from __future__ import annotations

import io
import logging
import os
import pty
import re
import subprocess
import sys

import pytest
from rich.console import Console
from rich.progress import Progress

from deskmigrate import progress_bars
from tests.app.conftest import TOKEN, Project


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_a_line_every_ten_seconds_with_rate_and_time_left(capsys: pytest.CaptureFixture[str],
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    lines = progress_bars.LineProgress(every_s=10.0, clock=clock)
    caplog.set_level(logging.INFO, logger="deskmigrate.progress")
    lines.start("contacts", 1000)
    lines.count("contacts", "rejected", 12)
    for _ in range(5):
        clock.now += 1
        lines.advance("contacts", 20)  # 100 in 5 s: nothing said yet
    assert capsys.readouterr().err == ""
    clock.now += 5
    lines.advance("contacts", 100)  # 200 done in 10 s: 20/s, 800 left, 40 s
    lines.count("contacts", "failed")
    said = capsys.readouterr().err.strip()
    assert said == "contacts: 200/1000 (20.0/s, about 40 s left), 12 rejected"
    assert said in caplog.text
    clock.now += 30
    lines.advance("contacts", 800)
    lines.finish("contacts")
    assert "contacts: 1000/1000" in capsys.readouterr().err and "12 rejected, 1 failed — done" in caplog.text


def test_bars_show_the_rate_and_what_was_rejected_or_failed_and_end_full() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    with Progress(*progress_bars.progress_columns(), console=console, transient=False) as progress:
        bars = progress_bars.BarProgress(progress)
        bars.start("contacts", 10)
        bars.count("contacts", "rejected", 3)
        bars.advance("contacts", 6)
        bars.count("contacts", "failed", 1)
        bars.finish("contacts")  # six of ten went through: the bar still ends full, the rest said beside it
    final = out.getvalue().split("\r")[-1]
    assert "6/6" in final and "3 rejected, 1 failed" in final


def test_on_a_terminal_the_summary_prints_after_the_bars(project: Project) -> None:
    rows = project.contacts
    rows[1] = {**rows[1], "email": "not-an-email"}
    project.write_contacts(rows)
    leader, follower = pty.openpty()
    env = {**os.environ, "E2E_TOKEN": TOKEN, "COLUMNS": "160", "TERM": "xterm"}
    process = subprocess.Popen([sys.executable, "-m", "deskmigrate", "run", "--accept-rejections", "-c", str(project.config)],
                               stdin=follower,
                               stdout=follower, stderr=follower, env=env, cwd=project.root)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert process.returncode == 3, text
    summary = text.find("Every record accounted for")
    rates = [match.end() for match in re.finditer(r"\d\.\d/s ", text)]  # "1,453.5/s ": drawn only in bars
    assert summary > 0 and rates, text
    assert max(rates) < summary, "a bar was drawn after the summary"
    assert "1 rejected" in text[:summary]  # the invalid email, beside the contacts bar
