"""The contract every source connector fulfils; connectors meet the rest of the tool only through it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, Union

import requests
from pydantic import BaseModel, ConfigDict, ValidationError

from deskmigrate.core.errors import SourceError
from deskmigrate.core.files import SourceFiles
from deskmigrate.core.helpcenter_urls import HelpCenterUrls
from deskmigrate.core.model import Agent, CanonicalRecord, Contact, Conversation, SourceNotice, SourceRejection
from deskmigrate.core.sampling import TicketProfile, profile_of

log = logging.getLogger(__name__)


class SourceCheckpoint(BaseModel):
    """Yielded after the records of one source page: once they are staged, `cursor` is saved with them.

    A killed extraction resumes from the last saved cursor; a later run reads from it as a delta.
    """

    model_config = ConfigDict(extra="forbid")
    entity: str
    cursor: str


StreamItem = Union[CanonicalRecord, SourceRejection, SourceNotice, SourceCheckpoint]


ENTITY_NOUNS = {
    "companies": "company", "contacts": "contact", "agents": "agent",
    "collections": "collection", "articles": "article", "conversations": "conversation",
}


def convert_or_reject(entity: str, raw: Mapping[str, Any], location: str, build: Callable[..., CanonicalRecord], *args: Any,
                      **kwargs: Any) -> CanonicalRecord | SourceRejection:
    """Convert one vendor object with `build(raw, *args, **kwargs)`; a malformed one becomes a located SourceRejection, and the read goes on."""
    try:
        return build(raw, *args, **kwargs)
    except ValidationError as exc:
        first = exc.errors()[0]
        return SourceRejection(
            entity=entity,
            source_id=str(raw.get("id")),
            location=location,
            field=".".join(str(p) for p in first["loc"]) or None,
            reason=first["msg"],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return SourceRejection(entity=entity, source_id=str(raw.get("id")), location=location, reason=f"unreadable {ENTITY_NOUNS.get(entity, entity)}: {exc!r}")


@dataclass(frozen=True)
class SourceTotal:
    """What the source says it holds now, for `cutover-check`: `count` records of the staged `entities` (one vendor list may
    feed several: Zendesk users are contacts and agents), from `endpoint`. `counts_deleted`: whether records deleted in the
    source are in the count (a count endpoint leaves them out; the read stages them as skipped). `approximate`: the vendor
    says the count may lag (Zendesk above 100,000, refreshed daily), `as_of` when it was taken."""

    entities: tuple[str, ...]
    count: int
    endpoint: str
    counts_deleted: bool = False
    approximate: bool = False
    as_of: str | None = None


class CursorStore(Protocol):
    """Where a connector finds the cursor it last checkpointed for an entity (the ledger implements it)."""

    def get_cursor(self, source: str, entity: str) -> str | None: ...


@dataclass
class SourceContext:
    """What the application hands a connector: where relative paths start, an HTTP session, saved cursors."""

    base_dir: Path
    session: requests.Session | None = None
    cursors: CursorStore | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldDefinition:
    """A custom field the source defines: the entity whose records carry it, the key their `custom_fields` use for it,
    the Intercom data type its values fit, and the choices of an option field."""

    entity: str  # companies | contacts | conversations
    name: str
    data_type: str  # string | integer | float | boolean | date | datetime
    source_type: str
    options: tuple[str, ...] = ()


class Connector(Protocol):
    """One class per source, in its own folder of connectors/ and named by one line of the registry.

    `entities` and `read` are the connector's own: `read` streams canonical records, rejections, notices and
    checkpoints. Every other hook the application calls has a default here; a connector class subclasses this
    protocol to inherit them and overrides those it can do better.
    """

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    # The source's public Help Center URL forms, so links between its articles can be pointed at Intercom.
    help_center_urls: ClassVar[HelpCenterUrls] = HelpCenterUrls()
    context: SourceContext

    def entities(self) -> list[str]: ...

    def read(self, entity: str, since: datetime | None = None) -> Iterator[StreamItem]: ...

    def check(self) -> bool:
        """Check, before any run, that the source can be read (files open, columns match); raise one SourceError
        listing every problem. False: this source has nothing to check short of reading it."""
        return False

    def describe_plan(self) -> dict[str, Any] | None:
        """How the next extract will read the source (endpoints, strategy, estimated calls); None when there is nothing to tell."""
        return None

    def source_totals(self) -> list[SourceTotal]:
        """The source's own counts of what it holds now (count endpoints, list totals); empty when it reports none (a file
        source is counted by reading its files)."""
        return []

    def files_read(self, entity: str) -> list[Path] | None:
        """The local files a read of `entity` depends on (a file source): when none of them changed since its last
        complete read, the application does not read it again. None: not a file source, always read."""
        return None

    def source_files(self) -> SourceFiles | None:
        """The source's own files (Help Center images, attachments) with its credentials kept to its hosts; None: no such access."""
        return None

    def field_definitions(self) -> list[FieldDefinition]:
        """The custom fields the source's catalog defines (a few calls); empty when it has no catalog (files)."""
        return []
    def ticket_profiles(self) -> Iterator[TicketProfile]:
        """Every live ticket as a rehearsal chooses among them (core.sampling). This default reads the people and the
        tickets whole, which suits a file source (its histories are local); an API source overrides it with its list
        endpoints, so that choosing never reads every history."""
        people: dict[str, Contact | Agent] = {}
        for entity in ("contacts", "agents"):
            if entity in self.entities():
                people.update((item.source_id, item) for item in self.read(entity) if isinstance(item, (Contact, Agent)))
        for item in self.read("conversations"):
            if isinstance(item, Conversation):
                person = people.get(item.requester_id or "")
                profile = profile_of(item, person if isinstance(person, Contact) else None, requester_known=person is not None)
                if isinstance(person, Agent):
                    profile.opened_by = "teammate"
                yield profile

    def read_selected(self, entity: str, source_ids: set[str]) -> Iterator[StreamItem]:
        """The records of `entity` with these ids (and, for a source whose people come in one read, the agents among
        them), for a rehearsal. This default reads the entity and keeps those; an API source fetches them by id."""
        for item in self.read(entity):
            if not isinstance(item, SourceCheckpoint) and item.source_id in source_ids:
                yield item


def entity_reader(connector: Connector, entity: str, vendor: str) -> Callable[..., Iterator[StreamItem]]:
    """The connector's `_read_<entity>` method when `entity` is one it reads now; else a SourceError naming those it reads."""
    readable = connector.entities()
    if entity not in readable:
        raise SourceError(f"the {vendor} connector cannot read {entity!r}; it reads {', '.join(readable)}")
    reader: Callable[..., Iterator[StreamItem]] = getattr(connector, f"_read_{entity}")
    return reader


# A metadata endpoint the account's plan or the token's role does not serve answers one of these.
OPTIONAL_ENDPOINT_STATUSES = frozenset({403, 404})


def is_optional_miss(status: int | None) -> bool:
    """True for a 403 or 404: the endpoint is not served to this account or token (a plan feature, an admin-only list)."""
    return status in OPTIONAL_ENDPOINT_STATUSES


class OptionalEndpointNotices:
    """Notices about optional metadata endpoints that answered 403/404, each handed once to the read of the entity it affects.

    A connector reads metadata (field definitions, forms, groups, settings) outside its record streams; when one is not
    served, it records what the migration does instead, and the read of an affected entity yields that notice first.
    """

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self._pending: dict[str, list[SourceNotice]] = {}
        self._recorded: set[tuple[str, str]] = set()
        self._messages: set[str] = set()

    def missed(self, what: str, location: str, status: int | None, consequence: str, affects: tuple[str, ...]) -> None:
        """`what` was not readable (`status`) at `location`; `consequence` says how the migration goes on, for `affects`."""
        message = f"{what} not readable (HTTP {status}): {consequence}"
        if message not in self._messages:
            log.warning("%s %s", self.vendor, message)
        self._messages.add(message)
        for entity in affects:
            if (entity, message) not in self._recorded:
                self._recorded.add((entity, message))
                self._pending.setdefault(entity, []).append(SourceNotice(entity=entity, location=location, message=message))

    def ahead_of(self, entity: str, items: Iterator[StreamItem]) -> Iterator[StreamItem]:
        """`items` with each notice for `entity` handed out before the next item after it was recorded, the rest at the end:
        metadata read on the way (field definitions, forms, settings) is said before the records it affects."""
        for item in items:
            yield from self.take(entity)
            yield item
        yield from self.take(entity)

    def take(self, entity: str) -> list[SourceNotice]:
        """The notices for `entity` not handed out yet (each notice is handed out once per connector)."""
        return self._pending.pop(entity, [])

    def messages(self) -> list[str]:
        """Every distinct message recorded so far (for `describe_plan`)."""
        return sorted(self._messages)
