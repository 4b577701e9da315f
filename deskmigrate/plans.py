"""Every plan kept: under <state>/plans/<run>/ the would-be payloads (<entity>.jsonl), the rejected records
(rejected.jsonl), an index of both (index.db: per record its action, a digest of its payload and where its line is)
and summary.json, written last; the newest `plan.keep` are kept. The folder holds customer data: 0700, files 0600.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from deskmigrate.exports import ExportFormat, export_rows
from deskmigrate.reconcile import rejection_kind

PLANS = "plans"
SUMMARY = "summary.json"
INDEX = "index.db"
REJECTED = "rejected.jsonl"
REJECTED_ACTION = "rejected"
DIFF = "diff.json"

# Rows go in in plan order; the index by record is built once at the end (a sort, cheaper than a B-tree kept sorted).
_INDEX_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    entity TEXT NOT NULL, source_id TEXT NOT NULL, action TEXT NOT NULL, digest INTEGER NOT NULL, line_at INTEGER NOT NULL);
"""
_INDEX_BY_RECORD = "CREATE UNIQUE INDEX IF NOT EXISTS records_by_id ON records (entity, source_id)"


def digest_of(text: str | bytes) -> int:
    """A 64-bit digest of a payload's JSON (or a rejection's reason), as SQLite stores integers."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def plans_dir(state_dir: Path) -> Path:
    return state_dir / PLANS


@dataclass(frozen=True)
class KeptPlan:
    """A plan kept in the state folder, as its summary describes it."""

    run_id: str
    folder: Path
    summary: dict[str, Any]

    @property
    def sample(self) -> int | None:
        return self.summary.get("sample")

    def describe(self) -> str:
        return f"{self.run_id}" + (f" (sample of {self.sample} per entity)" if self.sample else "")


def kept_plans(state_dir: Path) -> list[KeptPlan]:
    """The complete plans in the state folder (summary written), oldest first (run ids sort in time order)."""
    folder = plans_dir(state_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        summary = path / SUMMARY
        if path.is_dir() and summary.is_file() and (path / INDEX).is_file():
            try:
                found.append(KeptPlan(path.name, path, json.loads(summary.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                continue
    return found


def find_plan(state_dir: Path, run_id: str) -> KeptPlan | None:
    """The kept plan of `run_id`, or of the only run id starting with it; "latest" is the newest plan."""
    plans = kept_plans(state_dir)
    if run_id == "latest":
        return plans[-1] if plans else None
    exact = [plan for plan in plans if plan.run_id == run_id]
    if exact:
        return exact[0]
    prefixed = [plan for plan in plans if plan.run_id.startswith(run_id)]
    return prefixed[0] if len(prefixed) == 1 else None


def not_found(state_dir: Path, run_id: str) -> str:
    """Why `run_id` names no single kept plan, and which plans there are."""
    kept = [plan.run_id for plan in kept_plans(state_dir)]
    named = [run for run in kept if run.startswith(run_id)]
    problem = f"{run_id!r} names several kept plans" if named else f"no kept plan {run_id!r}"
    return f"{problem}; kept plans: {', '.join(named or kept) or 'none'}"


def earlier_plan(state_dir: Path, sample: int | None, before: str) -> KeptPlan | None:
    """The plan a new one is compared with by default: the newest earlier plan of the same kind (a sample of the same
    size, or a full plan), else the newest earlier one of any kind."""
    plans = [plan for plan in kept_plans(state_dir) if plan.run_id < before]
    alike = [plan for plan in plans if plan.sample == sample]
    return (alike or plans or [None])[-1]


def prune_plans(state_dir: Path, keep: int, current: str) -> list[str]:
    """Remove all but the newest `keep` complete plans (the current one always stays), and plans left incomplete."""
    folder = plans_dir(state_dir)
    if not folder.is_dir():
        return []
    complete = {plan.run_id for plan in kept_plans(state_dir)}
    ordered = sorted(complete)
    staying = set(ordered[-keep:]) | {current}
    removed = []
    for path in sorted(folder.iterdir()):
        if path.is_dir() and path.name not in staying and (path.name in complete or path.name < current):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


class PlanWriter:
    """Writes one plan's folder: payload lines per entity, rejections, and the index that finds each record's line."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.parent.chmod(0o700)
        folder.mkdir(mode=0o700, exist_ok=True)
        self._files: dict[str, IO[bytes]] = {}
        self._offsets: dict[str, int] = {}
        self._index = sqlite3.connect(self._private(folder / INDEX), isolation_level=None)
        self._index.execute("PRAGMA journal_mode=OFF")
        self._index.execute("PRAGMA synchronous=OFF")
        self._index.executescript(_INDEX_SCHEMA)
        self._index.execute("BEGIN")

    @staticmethod
    def _private(path: Path) -> Path:
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        return path

    def payload_file(self, entity: str) -> Path:
        return self.folder / f"{entity}.jsonl"

    def _append(self, name: str, lines: list[bytes]) -> list[int]:
        handle = self._files.get(name)
        if handle is None:
            handle = self._files[name] = self._private(self.folder / name).open("wb")
            self._offsets[name] = 0
        offsets = []
        at = self._offsets[name]
        for line in lines:
            offsets.append(at)
            at += len(line)
        handle.write(b"".join(lines))
        self._offsets[name] = at
        return offsets

    def start_entity(self, entity: str) -> Path:
        """Create the entity's payload file (also when every record is rejected: the file says so by being empty)."""
        self._append(f"{entity}.jsonl", [])
        return self.payload_file(entity)

    def payloads(self, entity: str, lines: list[bytes], rows: Iterable[tuple[str, str, int]]) -> None:
        """`lines` (JSON, newline-terminated) in order, with per line (source id, action, digest)."""
        offsets = self._append(f"{entity}.jsonl", lines)
        self._index.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)",
                                ((entity, source_id, action, digest, at) for (source_id, action, digest), at in zip(rows, offsets, strict=True)))

    def rejections(self, entity: str, rejected: list[dict[str, Any]], digests: list[int]) -> None:
        """Rejected records as {entity, source_id, location, field, reason}, each with the digest of its reason."""
        lines = [json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n" for item in rejected]
        offsets = self._append(REJECTED, lines)
        self._index.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)",
                                ((entity, item["source_id"], REJECTED_ACTION, digest, at)
                                 for item, digest, at in zip(rejected, digests, offsets, strict=True)))

    def missing_from(self, earlier: KeptPlan, entity: str, examples: int) -> tuple[int, list[tuple[str, str | None]]]:
        """Records of `entity` the earlier plan had and this one does not: how many, and the first few."""
        self._index.execute(_INDEX_BY_RECORD)
        self._index.execute("COMMIT")
        try:
            self._index.execute("ATTACH DATABASE ? AS earlier", (f"file:{earlier.folder / INDEX}?mode=ro",))
        except sqlite3.OperationalError:
            self._index.execute("ATTACH DATABASE ? AS earlier", (str(earlier.folder / INDEX),))
        try:
            gone = "FROM earlier.records o WHERE o.entity=? AND NOT EXISTS (SELECT 1 FROM main.records n WHERE n.entity=o.entity AND n.source_id=o.source_id)"
            count = self._index.execute(f"SELECT COUNT(*) {gone}", (entity,)).fetchone()[0]
            rows = self._index.execute(f"SELECT o.source_id {gone} ORDER BY o.source_id LIMIT ?", (entity, examples)).fetchall()
        finally:
            self._index.execute("DETACH DATABASE earlier")
            self._index.execute("BEGIN")
        return count, [(row[0], None) for row in rows]

    def write_json(self, name: str, document: dict[str, Any]) -> Path:
        path = self._private(self.folder / name)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        return path

    def close(self, summary: dict[str, Any] | None) -> None:
        """Finish the files; with a summary the plan is complete (kept_plans lists it), without one it stays incomplete."""
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        if summary is not None:
            self._index.execute(_INDEX_BY_RECORD)
        self._index.execute("COMMIT")
        self._index.close()
        if summary is not None:
            self.write_json(SUMMARY, summary)


class PlanIndex:
    """An earlier plan, read: a record's action and payload digest by entity and source id, and its line."""

    def __init__(self, plan: KeptPlan) -> None:
        self.plan = plan
        self._db = sqlite3.connect(f"file:{plan.folder / INDEX}?mode=ro", uri=True, check_same_thread=False)
        self._files: dict[str, IO[bytes]] = {}

    def lookup(self, entity: str, source_id: str) -> tuple[str, int, int] | None:
        row = self._db.execute("SELECT action, digest, line_at FROM records WHERE entity=? AND source_id=?", (entity, source_id)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def lookup_many(self, entity: str, source_ids: list[str]) -> dict[str, tuple[str, int, int]]:
        """`lookup` for many records in one query: those the plan has, by source id."""
        rows = self._db.execute(
            "SELECT source_id, action, digest, line_at FROM records WHERE entity=? AND source_id IN (SELECT value FROM json_each(?))",
            (entity, json.dumps(source_ids)))
        return {source_id: (action, digest, line_at) for source_id, action, digest, line_at in rows}

    def _line(self, name: str, offset: int) -> dict[str, Any]:
        handle = self._files.get(name)
        if handle is None:
            handle = self._files[name] = (self.plan.folder / name).open("rb")
        handle.seek(offset)
        return json.loads(handle.readline())

    def payload_at(self, entity: str, offset: int) -> dict[str, Any]:
        return self._line(f"{entity}.jsonl", offset)

    def rejection_at(self, offset: int) -> dict[str, Any]:
        return self._line(REJECTED, offset)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._db.close()


def read_rejections(folder: Path) -> Iterator[dict[str, Any]]:
    """Every record a kept plan rejected, as written: entity, source_id, location, field, reason."""
    path = folder / REJECTED
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


REJECTION_COLUMNS = ["entity", "source_id", "location", "field", "reason", "reason_kind"]


def export_rejections(rows: Iterable[dict[str, Any]], form: ExportFormat, out: TextIO) -> int:
    """A plan's rejected records with the reason they share with others (file:line and quoted values masked)."""
    return export_rows(({**row, "reason_kind": rejection_kind(row.get("reason") or "", row.get("field"))} for row in rows), REJECTION_COLUMNS, form, out)


def copy_payloads(files: dict[str, str], out: Path) -> None:
    """The plan's payload files, copied into a folder of the user's choosing (private like the originals)."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in files.values():
        target = out / Path(name).name
        shutil.copyfile(name, target)
        target.chmod(0o600)
