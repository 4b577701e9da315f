"""Direct read access to a sandbox file, without HTTP or rate limits: for tests, `status` and `validate` debugging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deskmigrate.sandbox.db import Database
from deskmigrate.sandbox.views import document_from_view, view_of

KINDS = ("contacts", "companies", "tags", "data_attributes", "admins")


class SandboxStore:
    """Reads what a sandbox holds, shaped as its GET endpoints return it. `data_attributes` lists custom attributes only."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = Database(self.path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SandboxStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def objects(self, kind: str) -> list[dict[str, Any]]:
        check_kind(kind)
        with self._db.transaction() as db:
            return [view_of(db, kind, document, self._app_id(db)) for document in db.all(kind)]

    def get(self, kind: str, id: str) -> dict[str, Any] | None:  # noqa: A002 - the name the API uses
        check_kind(kind)
        with self._db.transaction() as db:
            document = db.get(kind, str(id))
            return view_of(db, kind, document, self._app_id(db)) if document else None

    def request_log(self) -> list[dict[str, Any]]:
        """Every request served, oldest first: method, path, route (templated), status (None when dropped before answering), at,
        plus write, dropped ("before"/"after"/None), request_id and app (which of the workspace's tokens sent it, 1-based; None:
        a token it does not know)."""
        with self._db.transaction() as db:
            return db.request_log()

    def count_requests(self, *, method: str | None = None, route: str | None = None, writes_only: bool = False) -> int:
        return sum(
            1
            for entry in self.request_log()
            if (method is None or entry["method"] == method.upper())
            and (route is None or entry["route"] == route)
            and (not writes_only or entry["write"])
        )

    def put_raw(self, kind: str, obj: dict[str, Any]) -> None:
        """Store an API-shaped object as if changed in Intercom's UI; derived keys (tags, user_count, ...) are ignored."""
        check_kind(kind)
        if "id" not in obj:
            raise ValueError("put_raw needs an object with an id")
        with self._db.transaction() as db:
            db.put(kind, document_from_view(kind, obj, db.get(kind, str(obj["id"]))))

    @staticmethod
    def _app_id(db: Database) -> str:
        return db.meta("app_id") or ""


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
