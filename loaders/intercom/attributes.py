"""Contact and company data attributes: those the mapping declares (made by their phase's preflight part) and those a
load finds it needs mid-phase (phone_original, teammate_email). Every one created is logged, so rollback archives it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from deskmigrate.core.errors import AmbiguousWriteError, LoadError
from deskmigrate.core.ledger import WriteRow
from deskmigrate.core.payload import AttributeDeclaration
from deskmigrate.loaders.intercom.client import IntercomClient
from deskmigrate.loaders.intercom.loader import IntercomLoader, side_by_side
from deskmigrate.loaders.intercom.undo import SettingKind

PREFLIGHT = "preflight"
DATA_ATTRIBUTES = "data_attributes"


def _archive(client: IntercomClient, attribute_id: str) -> Any:
    # Intercom cannot delete a data attribute; archiving is the closest undo.
    return client.request("PUT", f"/data_attributes/{attribute_id}", json={"archived": True})


def _label(write: WriteRow) -> str:
    return write.source_id


DATA_ATTRIBUTE_UNDO = SettingKind(DATA_ATTRIBUTES, "archive_attribute", _archive, _label)


def prepare_data_attributes(model: str) -> Callable[[IntercomLoader, list[AttributeDeclaration]], Callable[[], dict[str, Any]]]:
    """A phase's preflight part for its model's attributes: read what the workspace has (a declared attribute that is
    missing and may not be created stops the run here, before anything is written), then create or bring back the rest."""

    def prepare(loader: IntercomLoader, declarations: list[AttributeDeclaration]) -> Callable[[], dict[str, Any]]:
        wanted = [a for a in declarations if a.model == model]
        if not wanted:
            return dict
        present = {a["name"]: a for a in loader.client.list_data_attributes(model, include_archived=True).get("data", [])}
        for declaration in wanted:
            if declaration.name not in present and not declaration.create_if_missing:
                raise LoadError(f"{model} attribute {declaration.name!r} does not exist in Intercom and create_if_missing is false")

        def create() -> dict[str, Any]:
            live = {name for name, found in present.items() if not found.get("archived")}
            missing = [d for d in wanted if d.name not in live]
            side_by_side([partial(_make, loader, model, d, present.get(d.name)) for d in missing], loader.settings.concurrency)
            return {"attributes_created": [f"{model}.{d.name}" for d in missing],
                    "attributes_existing": [f"{model}.{d.name}" for d in wanted if d.name in live]}

        return create

    return prepare


def _make(loader: IntercomLoader, model: str, declaration: AttributeDeclaration, archived: dict[str, Any] | None) -> None:
    """Create the attribute, or bring back an archived one (e.g. by an earlier rollback: a new one with that name would
    clash), logged as a create so that a rollback of this run archives it again."""
    if archived is not None:
        loader.client.unarchive_data_attribute(str(archived["id"]))
        attribute_id = str(archived["id"])
    else:
        body: dict[str, Any] = {
            "name": declaration.name, "model": model, "data_type": declaration.data_type,
            "description": declaration.description or "Created by deskmigrate",
        }
        if declaration.options:
            body["options"] = [{"value": o} for o in declaration.options]
        attribute_id = str(create_attribute(loader.client, model, body).get("id"))
    loader.ledger.log_write(loader.run_id, PREFLIGHT, DATA_ATTRIBUTES, f"{model}.{declaration.name}", attribute_id, "create")


def create_attribute(client: IntercomClient, model: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return client.create_data_attribute(body)
    except AmbiguousWriteError:
        # The create may have landed: look before sending it again.
        for attribute in client.list_data_attributes(model).get("data", []):
            if attribute.get("name") == body["name"]:
                return attribute
        return client.create_data_attribute(body)


def ensure_contact_attribute(loader: IntercomLoader, name: str, description: str) -> None:
    """A string contact attribute a load needs that the mapping may not declare: found, brought back, or created once."""
    with loader.ensured_attributes_lock:
        if name in loader.ensured_attributes:
            return
        present = {a["name"]: a for a in loader.client.list_data_attributes("contact", include_archived=True).get("data", [])}
        found = present.get(name)
        if found is None or found.get("archived"):
            _make(loader, "contact", AttributeDeclaration(model="contact", name=name, data_type="string", description=description), found)
        loader.ensured_attributes.add(name)
