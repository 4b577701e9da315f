"""Conversation attributes: the mapping's against the workspace's. The history phase's preflight part creates the missing
ones where the pinned Intercom-Version can (2.16+); on 2.15 it stops when strict, else their values are kept as tags."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from deskmigrate.core.errors import AmbiguousWriteError, ConfigError, Problem
from deskmigrate.core.payload import AttributeDeclaration
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.history.common import prepared
from deskmigrate.loaders.intercom.loader import IntercomLoader

log = logging.getLogger(__name__)

PREFLIGHT = "preflight"
CONVERSATION_ATTRIBUTES = "conversation_attributes"
# Where a workspace admin makes conversation attributes before 2.16 (https://www.intercom.com/help/en/articles/4323898).
CONVERSATION_DATA_SETTINGS = "Settings → Data → Conversation data"


# The mapping's data types → conversation attribute types (2.16 create_conversation_attribute_request.data_type).
CONVERSATION_ATTRIBUTE_TYPES = {"string": "string", "integer": "integer", "float": "decimal", "boolean": "boolean",
                                "date": "datetime", "datetime": "datetime"}


@dataclass
class ConversationAttributeCheck:
    """Which conversation attributes the mapping writes that Intercom has, lacks, and whether the pinned version can create them."""

    version: str
    existing: list[str]
    missing: list[str]
    can_create: bool
    created: list[str] = field(default_factory=list)

    @property
    def kept_as_tags(self) -> list[str]:
        """Missing attributes whose values a run keeps as `name:value` tags (2.15: nothing can create them)."""
        return [] if self.can_create else self.missing

    def advice(self) -> str | None:
        """What the user has to do, in one sentence; None when nothing."""
        if not self.missing:
            return None
        names = ", ".join(self.missing)
        if self.can_create:
            return f"conversation attributes missing in Intercom, created by `run` (Intercom-Version {self.version}): {names}"
        return (f"conversation attributes missing in Intercom: {names}. Intercom-Version {self.version} cannot create them by API: "
                f"create them in {CONVERSATION_DATA_SETTINGS} (or pin version 2.16). Until then `run` keeps their values "
                "as tags name:value (load.strict_attributes: true stops instead)")

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "existing": self.existing, "missing": self.missing, "can_create": self.can_create,
                "created": self.created, "kept_as_tags": self.kept_as_tags, "advice": self.advice()}


def check_conversation_attributes(client: IntercomClient, declarations: Iterable[AttributeDeclaration]) -> ConversationAttributeCheck:
    """Read the workspace's conversation attributes (one call) and compare them with the mapping's declarations."""
    wanted = sorted({d.name for d in declarations if d.model == "conversation"})
    present = {str(a.get("name")) for a in client.list_conversation_attributes() if not a.get("archived")}
    return ConversationAttributeCheck(
        version=client.version, existing=[name for name in wanted if name in present],
        missing=[name for name in wanted if name not in present], can_create=client.creates_conversation_attributes,
    )


def prepare_conversation_attributes(loader: IntercomLoader, declarations: list[AttributeDeclaration]) -> Callable[[], dict[str, Any]]:
    """Preflight: read the workspace's conversation attributes (on 2.15 a missing one stops the run here when strict,
    before anything is written); the step it returns creates the missing ones (2.16+), else their values go to tags."""
    declared = [d for d in declarations if d.model == "conversation"]
    if not declared:
        return dict
    check = check_conversation_attributes(loader.client, declared)
    if check.missing and not check.can_create and loader.settings.strict_attributes:
        raise ConfigError(
            [Problem(path="load.strict_attributes", message=f"conversation attribute {name!r} does not exist in Intercom; create it in "
                     f"{CONVERSATION_DATA_SETTINGS} (Intercom-Version {check.version} cannot create it by API)") for name in check.missing],
            title="conversation attributes missing in Intercom (strict_attributes is on; nothing was loaded)",
        )

    def create() -> dict[str, Any]:
        if check.missing and check.can_create:
            by_name = {d.name: d for d in declared}
            for name in check.missing:
                created = _create_conversation_attribute(loader.client, by_name[name])
                loader.ledger.log_write(loader.run_id, PREFLIGHT, CONVERSATION_ATTRIBUTES, name, str(created.get("id")), "create")
                check.created.append(name)
        prepared(loader).conversation_attributes = set(check.existing) | set(check.created)
        if check.kept_as_tags:
            log.warning("%s", check.advice())
        return {CONVERSATION_ATTRIBUTES: check.as_dict()}

    return create


def _create_conversation_attribute(client: IntercomClient, declaration: AttributeDeclaration) -> dict[str, Any]:
    """`POST /conversations/attributes` (2.16): declared options make a list attribute. A lost answer is looked up by name."""
    body: dict[str, Any] = {"name": declaration.name, "description": declaration.description or "Created by deskmigrate",
                            "data_type": "list" if declaration.options else CONVERSATION_ATTRIBUTE_TYPES[declaration.data_type]}
    if declaration.options:
        body["options"] = [{"label": option} for option in declaration.options]
    try:
        return client.create_conversation_attribute(body)
    except AmbiguousWriteError:
        found = next((a for a in client.list_conversation_attributes() if a.get("name") == declaration.name), None)
        return found if found is not None else client.create_conversation_attribute(body)


def attribute_tag(name: str, value: Any) -> str:
    """A conversation attribute value Intercom has no attribute for, kept as a tag: `name:value` on one line."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"{name}:{' '.join(text.split())}"
