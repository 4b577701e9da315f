"""The HTML report (issue 12, item 5): one self-contained page per run and per plan, rendered in a real browser (headless
Chromium): what it says, that it loads nothing from the network, and that it holds no secret."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deskmigrate.cli import app
from deskmigrate.htmlreport import chart, render
from tests.app.conftest import TOKEN, Project

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Debian's chromium and sets this: there the browser test must run, never skip.
REQUIRE_BROWSER = os.environ.get("DESKMIGRATE_REQUIRE_BROWSER") == "1"
# As the machine's notes prescribe: a closed network, no first-run work, a fresh profile.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def browser(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if REQUIRE_BROWSER:
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed")
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)


def run_with_a_rejection_and_a_failure(project: Project) -> Path:
    rows = project.contacts
    rows[1] = {**rows[1], "email": "not-an-email"}
    rows[3] = {**rows[3], "company_id": "c9"}  # no such company: the link fails
    project.write_contacts(rows)
    assert CliRunner().invoke(app, ["run", "--accept-rejections", "-c", str(project.config)], env={"E2E_TOKEN": TOKEN}).exit_code == 3
    shown = CliRunner().invoke(app, ["report", "-c", str(project.config)], env={"E2E_TOKEN": TOKEN})
    assert shown.exit_code == 0, shown.stderr
    return Path(shown.stdout.strip())


def test_the_report_renders_in_a_browser_and_says_what_happened(project: Project, tmp_path: Path) -> None:
    page = run_with_a_rejection_and_a_failure(project)
    assert page.suffix == ".html" and page.with_suffix(".json").is_file()

    dom = browser(page, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    for said in ("Every record accounted for", "Not landed, by reason", "invalid email address", "is not in Intercom",
                 "Phases", "API calls", "per 10-second window"):
        assert said in text, said
    assert "u002" in text and "u004" in text  # examples of the rejected and the failed record

    shot = tmp_path / "report.png"
    taken = browser(page, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,1800")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_the_page_is_self_contained_and_holds_no_secret(project: Project) -> None:
    page = run_with_a_rejection_and_a_failure(project)
    html = page.read_text(encoding="utf-8")
    assert TOKEN not in html
    assert "<script" not in html and not re.search(r"""(?:src|href)\s*=\s*["']?https?:""", html)
    assert "default-src 'none'" in html  # the page itself forbids loading anything
    assert oct(page.stat().st_mode & 0o777) == "0o600"


def test_a_plan_has_its_page_too(project: Project) -> None:
    result = CliRunner().invoke(app, ["plan", "-c", str(project.config)], env={"E2E_TOKEN": TOKEN})
    assert result.exit_code == 0, result.stderr
    [page] = (project.state / "reports").glob("*.html")
    assert "deskmigrate plan" in page.read_text(encoding="utf-8") and "<h2>Plan</h2>" in page.read_text(encoding="utf-8")


def test_the_chart_draws_calls_429s_and_retries_per_window() -> None:
    svg = chart([{"at_s": 0, "calls": 1600, "rate_limited": 0, "retries": 0}, {"at_s": 10, "calls": 1666, "rate_limited": 4, "retries": 4}])
    assert svg.count("<rect") == 4 and "rate_limited 4 at 10 s" in svg and ">1666<" in svg
    assert "No API calls" in chart([])


def test_values_are_escaped() -> None:
    page = render({"run_id": "r1", "command": "run", "error": "<script>alert(1)</script>", "exit_code": 1})
    assert "<script>alert" not in page and "&lt;script&gt;" in page
