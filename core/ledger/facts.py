"""Company links and taggings: wanted, applied, and whether deskmigrate created or found each."""

from __future__ import annotations

import time
from collections.abc import Iterable

from deskmigrate.core.ledger.rows import (
    Fact,
    _dump,
    tag_key,
)
from deskmigrate.core.ledger.store import LedgerStore


class FactsPart(LedgerStore):
    """Company links and taggings, each with who made it (created, found, legacy) and whether it landed."""
    # A tagging or link row says the fact holds in Intercom and who made it: created (deskmigrate; a delta or rollback
    # may remove it), found (there before deskmigrate first wrote to the record: never removed) or legacy (written by
    # schema 1 to a pre-existing record, ownership unknown: kept). State pending: sent or about to be, outcome unknown.

    def applied_links(self, contact_source_id: str) -> set[str]:
        """Companies (source ids) the contact is linked to as far as the ledger knows, whoever linked it."""
        return {r[0] for r in self._query("SELECT company_id FROM links WHERE contact_id=? AND state='done'", (contact_source_id,))}

    def owned_links(self, contact_source_id: str) -> set[str]:
        """The contact's company links deskmigrate created (pending ones too): the only ones a delta may remove."""
        rows = self._query("SELECT company_id FROM links WHERE contact_id=? AND origin='created'", (contact_source_id,))
        return {r[0] for r in rows}

    def mark_link_pending(self, run_id: str, contact_source_id: str, company_source_id: str) -> None:
        """Before attaching: a crash leaves this trace, and a rollback detaches it whether or not the call landed."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO links (contact_id, company_id, run_id, origin, state) VALUES (?, ?, ?, 'created', 'pending')",
                       (contact_source_id, company_source_id, run_id))

    def set_link(self, run_id: str, contact_source_id: str, company_source_id: str, *, present: bool, contact_intercom_id: str,
                 company_intercom_id: str) -> None:
        action = "link" if present else "unlink"
        with self.transaction() as db:
            if present:
                db.execute(
                    "INSERT INTO links (contact_id, company_id, run_id, origin, state) VALUES (?, ?, ?, 'created', 'done') "
                    "ON CONFLICT (contact_id, company_id) DO UPDATE SET state='done', run_id=excluded.run_id",
                    (contact_source_id, company_source_id, run_id))
            else:
                db.execute("DELETE FROM links WHERE contact_id=? AND company_id=?", (contact_source_id, company_source_id))
            detail = {"company_source_id": company_source_id, "company_intercom_id": company_intercom_id}
            db.execute(
                "INSERT INTO writes (run_id, phase, entity, source_id, intercom_id, action, detail, after, at) "
                "VALUES (?, 'contacts', 'contacts', ?, ?, ?, ?, ?, ?)",
                (run_id, contact_source_id, contact_intercom_id, action, _dump(detail), _dump(detail), time.time()),
            )

    def record_found(self, run_id: str, entity: str, source_id: str, *, tags: Iterable[str] = (), companies: Iterable[str] = ()) -> None:
        """What a pre-existing record carried before deskmigrate first wrote to it: its tags (keys) and company links (source
        ids). One transaction, before the first write; facts the ledger knows already keep their owner."""
        now = time.time()
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO taggings (entity, source_id, tag, run_id, origin, state) VALUES (?, ?, ?, ?, 'found', 'done')",
                           [(entity, source_id, tag, run_id) for tag in tags])
            if entity == "contacts":
                db.executemany("INSERT OR IGNORE INTO links (contact_id, company_id, run_id, origin, state) VALUES (?, ?, ?, 'found', 'done')",
                               [(source_id, company, run_id) for company in companies])
            db.execute("UPDATE id_map SET facts=? WHERE entity=? AND source_id=?", (now, entity, source_id))

    def known_facts(self, entity: str, source_id: str) -> tuple[set[str], set[str]]:
        """Tag keys and company source ids the ledger has any row for (any owner, any state)."""
        tags = {r[0] for r in self._query("SELECT tag FROM taggings WHERE entity=? AND source_id=?", (entity, source_id))}
        links = {r[0] for r in self._query("SELECT company_id FROM links WHERE contact_id=?", (source_id,))} if entity == "contacts" else set()
        return tags, links

    def set_desired_tags(self, entity: str, source_id: str, names: Iterable[str]) -> bool:
        """Replace the tags a record should carry; returns True when they changed."""
        wanted = {tag_key(n): n.strip() for n in names if n and n.strip()}
        with self.transaction() as db:
            current = {r[0] for r in db.execute("SELECT tag FROM desired_tags WHERE entity=? AND source_id=?", (entity, source_id))}
            if current == set(wanted):
                return False
            db.execute("DELETE FROM desired_tags WHERE entity=? AND source_id=?", (entity, source_id))
            db.executemany(
                "INSERT INTO desired_tags VALUES (?, ?, ?, ?)", [(entity, source_id, key, name) for key, name in wanted.items()]
            )
            return True

    def tag_names_wanted(self) -> dict[str, str]:
        """Every tag some record should carry: key → display name."""
        return {r[0]: r[1] for r in self._query("SELECT tag, MIN(name) FROM desired_tags GROUP BY tag ORDER BY tag")}

    def taggings_to_add(self, tag: str, entity: str) -> list[str]:
        """Records that should carry `tag` and are not known to (a pending tagging is sent again: tagging is idempotent)."""
        rows = self._query(
            "SELECT d.source_id FROM desired_tags d LEFT JOIN taggings t ON t.entity=d.entity AND t.source_id=d.source_id "
            "AND t.tag=d.tag WHERE d.tag=? AND d.entity=? AND (t.tag IS NULL OR t.state='pending') ORDER BY d.source_id",
            (tag, entity),
        )
        return [r[0] for r in rows]

    def taggings_to_remove(self, entity: str) -> list[tuple[str, str]]:
        """(tag, source_id) pairs deskmigrate applied earlier that no record wants any more; found ones always stay."""
        rows = self._query(
            "SELECT t.tag, t.source_id FROM taggings t LEFT JOIN desired_tags d ON t.entity=d.entity AND t.source_id=d.source_id "
            "AND t.tag=d.tag WHERE t.entity=? AND t.origin='created' AND d.tag IS NULL ORDER BY t.tag, t.source_id",
            (entity,),
        )
        return [(r[0], r[1]) for r in rows]

    def mark_taggings_pending(self, run_id: str, tag: str, entity: str, source_ids: list[str]) -> None:
        """Before a tag call: a crash leaves this trace, and a rollback removes the tagging whether or not the call landed."""
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO taggings (entity, source_id, tag, run_id, origin, state) VALUES (?, ?, ?, ?, 'created', 'pending')",
                           [(entity, source_id, tag, run_id) for source_id in source_ids])

    def record_taggings(self, run_id: str, tag: str, tag_id: str, entity: str, source_ids: list[str], *, present: bool) -> None:
        action = "tag" if present else "untag"
        now = time.time()
        with self.transaction() as db:
            for source_id in source_ids:
                if present:
                    db.execute(
                        "INSERT INTO taggings (entity, source_id, tag, run_id, origin, state) VALUES (?, ?, ?, ?, 'created', 'done') "
                        "ON CONFLICT (entity, source_id, tag) DO UPDATE SET state='done', run_id=excluded.run_id",
                        (entity, source_id, tag, run_id))
                else:
                    db.execute("DELETE FROM taggings WHERE entity=? AND source_id=? AND tag=?", (entity, source_id, tag))
                intercom_id = db.execute(
                    "SELECT intercom_id FROM id_map WHERE entity=? AND source_id=?", (entity, source_id)
                ).fetchone()
                detail = {"tag": tag, "tag_id": tag_id}
                db.execute(
                    "INSERT INTO writes (run_id, phase, entity, source_id, intercom_id, action, detail, after, at) "
                    "VALUES (?, 'tags', ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, entity, source_id, intercom_id[0] if intercom_id else None, action, _dump(detail), _dump(detail), now),
                )
            self._count(db, run_id, "tags", "done", len(source_ids))

    def any_taggings(self) -> bool:
        """Whether any tagging is recorded (before the first load none is: every wanted tag is one to add)."""
        return bool(self._query("SELECT 1 FROM taggings LIMIT 1"))

    def applied_taggings(self, entity: str, source_id: str) -> set[str]:
        """Tags the record carries as far as the ledger knows, whoever applied them."""
        return {r[0] for r in self._query("SELECT tag FROM taggings WHERE entity=? AND source_id=? AND state='done'", (entity, source_id))}

    def tagging(self, entity: str, source_id: str, tag: str) -> Fact | None:
        rows = self._query("SELECT entity, source_id, tag, origin, state, run_id FROM taggings WHERE entity=? AND source_id=? AND tag=?",
                           (entity, source_id, tag))
        return Fact(*rows[0]) if rows else None

    def link(self, contact_source_id: str, company_source_id: str) -> Fact | None:
        rows = self._query("SELECT 'contacts', contact_id, company_id, origin, state, run_id FROM links WHERE contact_id=? AND company_id=?",
                           (contact_source_id, company_source_id))
        return Fact(*rows[0]) if rows else None

    def taggings_with(self, tag: str) -> list[Fact]:
        """Every record the ledger knows carries `tag`, with its owner."""
        rows = self._query("SELECT entity, source_id, tag, origin, state, run_id FROM taggings WHERE tag=? ORDER BY entity, source_id", (tag,))
        return [Fact(*r) for r in rows]

    def pending_facts(self, run_ids: list[str]) -> list[Fact]:
        """Taggings and company links a run was applying when it stopped (state pending)."""
        marks = ",".join("?" for _ in run_ids)
        rows = self._query(
            f"SELECT entity, source_id, tag, origin, state, run_id FROM taggings WHERE state='pending' AND run_id IN ({marks}) "
            f"UNION ALL SELECT 'links', contact_id, company_id, origin, state, run_id FROM links WHERE state='pending' AND run_id IN ({marks})",
            [*run_ids, *run_ids],
        )
        return [Fact(*r) for r in rows]

    def drop_tagging(self, entity: str, source_id: str, tag: str) -> None:
        """Rollback: the tagging is gone from Intercom (no write is logged: a rollback's actions are in its undo log)."""
        with self.transaction() as db:
            db.execute("DELETE FROM taggings WHERE entity=? AND source_id=? AND tag=?", (entity, source_id, tag))

    def restore_tagging(self, run_id: str, entity: str, source_id: str, tag: str) -> None:
        """Rollback of a delta that removed a tagging deskmigrate had applied: it is back, still deskmigrate's."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO taggings (entity, source_id, tag, run_id, origin, state) VALUES (?, ?, ?, ?, 'created', 'done')",
                       (entity, source_id, tag, run_id))

    def drop_link(self, contact_source_id: str, company_source_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM links WHERE contact_id=? AND company_id=?", (contact_source_id, company_source_id))

    def restore_link(self, run_id: str, contact_source_id: str, company_source_id: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO links (contact_id, company_id, run_id, origin, state) VALUES (?, ?, ?, 'created', 'done')",
                       (contact_source_id, company_source_id, run_id))
