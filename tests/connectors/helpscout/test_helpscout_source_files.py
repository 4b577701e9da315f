"""Help Scout Docs files behind a private site: fetched with the Docs API key from the account's own Docs hosts only."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.connectors.helpscout.conftest import make_connector
from tests.fakes.helpscout import FakeHelpScout, RecordedRequest, default_account

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class FakeHelpScoutWithFiles(FakeHelpScout):
    """The fake Help Scout, also serving a private Docs site's files (`/assets/…`) to the Docs API key only."""

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if not handler.path.startswith("/assets/"):
            return super()._handle(handler)
        authorized = self._authorized(handler.headers.get("Authorization"), docs=True)
        self.requests.append(RecordedRequest("GET", handler.path, {}, authorized))
        status, body, kind = (200, PNG, "image/png") if authorized else (401, b"<html>Sign in</html>", "text/html")
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture
def fake_with_files() -> Iterator[FakeHelpScoutWithFiles]:
    account = default_account()
    account["docs"]["sites"][0]["cname"] = "Help.Acme.example"
    with FakeHelpScoutWithFiles(account=account) as server:
        yield server


def test_docs_files_come_from_the_accounts_own_hosts_with_the_docs_key(fake_with_files: FakeHelpScoutWithFiles) -> None:
    base = fake_with_files.base_url
    files = make_connector(f"{base}/v2", f"{base}/v1").source_files()
    assert files is not None
    assert files.owns("https://acme.helpscoutdocs.com/assets/1/diagram.png")
    assert files.owns("https://help.acme.example/assets/1/diagram.png")  # the site's custom domain
    assert files.owns(f"{base}/v1/articles/1")  # the Docs API host itself
    assert not files.owns("https://globex.helpscoutdocs.com/assets/1/diagram.png")  # another account's site
    assert not files.owns("https://d33v4339jhl8k0.cloudfront.net/docs/assets/1/diagram.png")  # the public asset CDN

    url = "https://acme.helpscoutdocs.com/assets/1/diagram.png"
    assert files.is_public(url) is False
    assert files.download(url) == (PNG, "image/png")
    file_requests = [r.authorized for r in fake_with_files.requests if r.path.startswith("/assets/")]
    assert file_requests == [False, True]  # probed anonymously, then fetched with the Docs API key


def test_without_a_docs_key_there_are_no_docs_files(fake_with_files: FakeHelpScoutWithFiles) -> None:
    assert make_connector(f"{fake_with_files.base_url}/v2").source_files() is None
