"""Staging and cursors: source records as read, with the cursor of the page they came on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from deskmigrate.core.ledger.rows import (
    SharedEmailContact,
    StagedDuplicate,
    text_hash,
)
from deskmigrate.core.ledger.store import LedgerStore
from deskmigrate.core.model import Record, record_from_json, record_from_json_text


class StagingPart(LedgerStore):
    """Source records as read (upserted by entity and source id) and each stream's cursor, saved in one transaction."""

    def get_cursor(self, source: str, entity: str) -> str | None:
        rows = self._query("SELECT cursor FROM cursors WHERE source=? AND entity=?", (source, entity))
        return rows[0][0] if rows else None

    # -- staging -------------------------------------------------------------------------------

    def stage(self, run_id: str, records: list[Record], cursor: tuple[str, str, str] | None = None) -> list[StagedDuplicate]:
        """Stage a page of records (upsert by entity + source id) and, in the same transaction, its cursor.

        Returns the records whose source id was already staged by this same run: duplicates, last wins, each with
        where the occurrence it replaced was read.
        """
        duplicates: list[StagedDuplicate] = []
        rows = []
        for record in records:
            text = record.model_dump_json()
            rows.append((record.entity, record.source_id, text, text_hash(text), record))  # type: ignore[attr-defined]
        with self.transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM staged").fetchone()[0]
            # where this run staged the page's ids already (an id twice in one read: the last occurrence wins)
            earlier: dict[tuple[str, str], str | None] = {}
            for entity in {row[0] for row in rows}:
                ids = json.dumps([row[1] for row in rows if row[0] == entity])
                found = db.execute(
                    "SELECT source_id, json_extract(record, '$.location') FROM staged WHERE entity=? AND run_id=? "
                    "AND source_id IN (SELECT value FROM json_each(?))", (entity, run_id, ids))
                earlier.update(((entity, source_id), location) for source_id, location in found)
            values = []
            for entity, source_id, text, digest, record in rows:
                seq += 1
                if (entity, source_id) in earlier:
                    duplicates.append(StagedDuplicate(record, earlier[(entity, source_id)]))
                earlier[(entity, source_id)] = getattr(record, "location", None)
                values.append((entity, source_id, text, digest, run_id, seq))
            db.executemany(
                "INSERT INTO staged (entity, source_id, record, hash, run_id, seq) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (entity, source_id) DO UPDATE SET record=excluded.record, hash=excluded.hash, "
                "run_id=excluded.run_id, seq=CASE WHEN staged.run_id=excluded.run_id THEN staged.seq ELSE excluded.seq END",
                values,
            )
            if cursor is not None:
                source, entity, value = cursor
                db.execute(
                    "INSERT INTO cursors VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, entity) DO UPDATE SET "
                    "cursor=excluded.cursor, run_id=excluded.run_id, updated_at=excluded.updated_at",
                    (source, entity, value, run_id, time.time()),
                )
        return duplicates

    def contacts_sharing_email(self) -> list[list[SharedEmailContact]]:
        """Staged contacts whose emails are equal ignoring case, grouped, each group in staging order.

        Intercom keeps user emails unique, so each group can become one Intercom contact only.
        """
        rows = self._query(
            "SELECT lower(trim(json_extract(record, '$.email'))) AS email_key, source_id, json_extract(record, '$.email'), "
            "json_extract(record, '$.updated_at'), json_extract(record, '$.created_at'), json_extract(record, '$.location'), seq "
            "FROM staged WHERE entity='contacts' AND email_key IN ("
            "  SELECT lower(trim(json_extract(record, '$.email'))) AS k FROM staged WHERE entity='contacts' AND k IS NOT NULL AND k != '' "
            "  GROUP BY k HAVING COUNT(*) > 1) ORDER BY email_key, seq"
        )
        groups: dict[str, list[SharedEmailContact]] = {}
        for key, source_id, email, updated_at, created_at, location, seq in rows:
            groups.setdefault(key, []).append(SharedEmailContact(source_id, email, updated_at, created_at, location, seq))
        return list(groups.values())

    def staged_record(self, entity: str, source_id: str) -> Record | None:
        rows = self._query("SELECT record FROM staged WHERE entity=? AND source_id=?", (entity, source_id))
        return record_from_json(entity, json.loads(rows[0][0])) if rows else None

    def count_staged(self, entity: str) -> int:
        return self._query("SELECT COUNT(*) FROM staged WHERE entity=?", (entity,))[0][0]

    def iter_staged(self, entity: str, batch_size: int = 1000, *, after_seq: int = -1, to_seq: int | None = None) -> Iterator[Record]:
        """Stream staged records in source order without holding them all (keyset pagination on seq); with `after_seq`
        and `to_seq`, only those staged in between (after_seq < seq <= to_seq)."""
        last_seq = after_seq
        bound = "" if to_seq is None else " AND seq<=?"
        while True:
            rows = self._query(
                f"SELECT seq, record FROM staged WHERE entity=? AND seq>?{bound} ORDER BY seq LIMIT ?",
                (entity, last_seq, *(() if to_seq is None else (to_seq,)), batch_size),
            )
            if not rows:
                return
            for seq, text in rows:
                last_seq = seq
                yield record_from_json_text(entity, text)

    def sampled_staged(self, entity: str, size: int) -> list[Record]:
        """A deterministic sample of `size` staged records (by a hash of entity and source id), in source order."""
        rows = self._query(
            "SELECT record FROM (SELECT seq, record FROM staged WHERE entity=? ORDER BY sample_key(entity, source_id) LIMIT ?) ORDER BY seq",
            (entity, size),
        )
        return [record_from_json_text(entity, row[0]) for row in rows]

    def staged_chunks(self, entity: str, size: int) -> list[tuple[int, int]]:
        """The entity's staged records cut into runs of `size` in source order, as (after_seq, to_seq) bounds for iter_staged."""
        rows = self._query(
            "SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS n FROM staged WHERE entity=?) "
            "WHERE n % ? = 0 ORDER BY seq", (entity, size))
        ends = [row[0] for row in rows]
        last = self._query("SELECT MAX(seq) FROM staged WHERE entity=?", (entity,))[0][0]
        if last is not None and (not ends or ends[-1] != last):
            ends.append(last)
        starts = [-1, *ends[:-1]]
        return list(zip(starts, ends, strict=True))
