"""Saved files for the loader (Freshdesk's attachment copies): read from their folder on disk, never another local path."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskmigrate.core.errors import SourceError
from deskmigrate.core.files import FolderFiles


class RemoteFiles:
    """Stands in for the account's own hosts."""

    def __init__(self) -> None:
        self.downloaded: list[str] = []

    def owns(self, url: str) -> bool:
        return url.startswith("https://acme.freshdesk.com/")

    def is_public(self, url: str) -> bool:
        return False

    def download(self, url: str) -> tuple[bytes, str | None]:
        self.downloaded.append(url)
        return b"remote", "text/plain"


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    folder = tmp_path / "attachments" / "1000" / "9002"
    folder.mkdir(parents=True)
    (folder / "0-photo.jpg").write_bytes(b"jpeg bytes")
    (tmp_path / "private.key").write_bytes(b"secret")
    return tmp_path


def test_a_saved_copy_is_read_from_disk_with_its_type(saved: Path) -> None:
    files = FolderFiles(saved / "attachments", RemoteFiles())
    url = (saved / "attachments" / "1000" / "9002" / "0-photo.jpg").as_uri()
    assert files.owns(url) and not files.is_public(url)
    assert files.download(url) == (b"jpeg bytes", "image/jpeg")


@pytest.mark.parametrize("relative", ["private.key", "attachments/../private.key"])
def test_no_file_outside_the_attachments_folder_is_ever_read(saved: Path, relative: str) -> None:
    files = FolderFiles(saved / "attachments", RemoteFiles())
    url = "file://" + str(saved) + "/" + relative
    assert not files.owns(url)
    with pytest.raises(SourceError):
        files.download("file://" + str(saved / "attachments" / "missing.pdf"))


def test_account_urls_go_to_the_accounts_own_file_access(saved: Path) -> None:
    remote = RemoteFiles()
    files = FolderFiles(saved / "attachments", remote)
    url = "https://acme.freshdesk.com/helpdesk/attachments/1"
    assert files.owns(url) and not files.owns("https://s3.amazonaws.com/x")
    assert files.download(url) == (b"remote", "text/plain") and remote.downloaded == [url]


def test_without_hosts_of_its_own_only_the_folder_is_read(saved: Path) -> None:
    files = FolderFiles(saved / "attachments")
    assert files.owns((saved / "attachments" / "1000" / "9002" / "0-photo.jpg").as_uri())
    url = "https://cdn.example.com/photo.jpg"
    assert not files.owns(url) and not files.is_public(url)
    with pytest.raises(SourceError, match="not a file in"):
        files.download(url)
