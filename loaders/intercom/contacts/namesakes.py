"""Staged contacts sharing one email (ignoring case): Intercom keeps a user's email unique, so each group lands as one
contact (`load.on_duplicate_email`: merge, the newest record's fields written; or reject_later, the first staged kept)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deskmigrate.core.config import LoadConfig
from deskmigrate.core.ledger import Ledger, SharedEmailContact

CONFLICT_EXAMPLES = 50


def newest(members: list[SharedEmailContact]) -> SharedEmailContact:
    """The record whose fields win among namesakes: the latest updated_at (else created_at); staged last when any has neither."""
    moments = [_moment(m.updated_at) or _moment(m.created_at) for m in members]
    if all(moment is not None for moment in moments):
        ranked = sorted(zip(moments, members, strict=True), key=lambda pair: (pair[0], pair[1].seq))
        return ranked[-1][1]
    return max(members, key=lambda member: member.seq)


def _moment(text: str | None) -> datetime | None:
    """A staged time (ISO 8601 as the model writes it); raw source text that was never read as a date counts as none."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def where(member: SharedEmailContact) -> str:
    return f" ({member.location})" if member.location else ""


def email_conflicts(ledger: Ledger, settings: LoadConfig, previews: dict[str, dict[str, Any]], rejected: set[str]) -> dict[str, Any]:
    """The plan's report of staged contacts that share an email, with where each came from and what the load does with
    it; records the mapping `rejected` (an invalid email) never reach the load and are left out of the groups."""
    policy = settings.on_duplicate_email
    groups = [kept for group in ledger.contacts_sharing_email()
              if len(kept := [member for member in group if member.source_id not in rejected]) > 1]
    described = []
    for members in groups[:CONFLICT_EXAMPLES]:
        kept = members[0] if policy == "reject_later" else newest(members)
        action = "left out, reported (on_duplicate_email: reject_later)" if policy == "reject_later" else f"merged into {kept.source_id}"
        described.append({"records": [{"source_id": m.source_id, "location": m.location, "outcome": "written" if m is kept else action}
                                      for m in members]})
    return {"email_conflicts": described, "email_conflict_count": len(groups)}
