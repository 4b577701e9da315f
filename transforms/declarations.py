"""The custom attributes a mapping creates in Intercom: those it declares, those its rules and unmapped source fields
auto-declare (strings, named so that no other model's attribute name is taken), and which of them some payload carried."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from deskmigrate.core.payload import AttributeDeclaration
from deskmigrate.transforms.compiled import ATTRIBUTE_NAME_MAX, CompiledTarget, sanitize_attribute_name
from deskmigrate.transforms.spec import ATTRIBUTE_MODELS, CUSTOM_ATTRIBUTES, ENTITY_TARGETS, PHONE_ORIGINAL

logger = logging.getLogger(__name__)


class AttributeBook:
    """Every attribute declaration of one Mapper, in the order declared; what an unmapped field was named; what was written."""

    def __init__(self, targets: dict[str, CompiledTarget]) -> None:
        self._targets = targets
        self.declarations: dict[tuple[str, str], AttributeDeclaration] = {}
        self.unmapped_names: dict[tuple[str, str], str] = {}
        self.written: set[tuple[str, str]] = set()  # (model, attribute) some payload carried
        for name, target in targets.items():
            self._declare_targets_attributes(name, target)
        self._declare_phone_original()

    def declare_unmapped(self, entity: str, field_names: Iterable[str]) -> list[AttributeDeclaration]:
        """Auto-declare, before mapping, the attributes the source's custom fields will land in; returns the new ones."""
        target = self._targets.get(ENTITY_TARGETS.get(entity, ""))
        if target is None or target.unmapped != "custom_attribute":
            return []
        added = []
        for field_name in field_names:
            if not target.reads_all_custom_fields and field_name not in target.read_custom_fields:
                declaration = self.auto_declare(target, self.unmapped_attribute_name(target, field_name), field_name)
                if declaration is not None:
                    added.append(declaration)
        return added

    def _declare_targets_attributes(self, name: str, target: CompiledTarget) -> None:
        model = ATTRIBUTE_MODELS.get(name)
        if model is None:
            return
        for attribute in target.declared.values():
            self.declarations[(model, attribute.name)] = AttributeDeclaration(
                model=model,
                name=attribute.name,
                data_type=attribute.type,
                description=attribute.description,
                options=list(attribute.options),
                create_if_missing=attribute.create_if_missing,
            )
        for rule in target.rules:
            if rule.to_path[0] == CUSTOM_ATTRIBUTES:
                self.auto_declare(target, rule.to_path[1], None)

    def _declare_phone_original(self) -> None:
        # The loader re-sends a contact Intercom refused for its phone without it, the text kept in this attribute.
        contact = self._targets.get("contact")
        if contact is None or not any(rule.to == "phone" for rule in contact.rules):
            return
        if PHONE_ORIGINAL not in contact.declared:  # a declared one is checked to be a string (checks.py)
            self.declarations[("contact", PHONE_ORIGINAL)] = AttributeDeclaration(
                model="contact", name=PHONE_ORIGINAL, data_type="string",
                description="Migrated by deskmigrate: the phone number as written in the source, when Intercom refused it",
            )

    def unmapped_attribute_name(self, target: CompiledTarget, field_name: str) -> str:
        """The attribute an unmapped field lands in; prefixed with the model when another model owns the name."""
        known = self.unmapped_names.get((target.name, field_name))
        if known is not None:
            return known
        model = ATTRIBUTE_MODELS[target.name]
        attribute = sanitize_attribute_name(field_name)
        # Intercom refuses a name another model already uses (reference/api-facts.md § 1.5).
        taken_elsewhere = {name.casefold() for owner, name in self.declarations if owner != model}
        reserved = {name.casefold() for owner, name in self.declarations if owner == model and name not in target.declared}
        reserved &= {PHONE_ORIGINAL}
        if attribute not in target.declared and attribute.casefold() in taken_elsewhere | reserved:
            attribute = f"{model}_{attribute}"[:ATTRIBUTE_NAME_MAX]
        self.unmapped_names[(target.name, field_name)] = attribute
        return attribute

    def auto_declare(self, target: CompiledTarget, attribute: str, field_name: str | None) -> AttributeDeclaration | None:
        model = ATTRIBUTE_MODELS[target.name]
        if attribute in target.declared or (model, attribute) in self.declarations:
            return None
        origin = f"source field {field_name!r}" if field_name else "the mapping"
        declaration = AttributeDeclaration(
            model=model, name=attribute, data_type="string", description=f"Migrated by deskmigrate from {origin}"
        )
        self.declarations[(model, attribute)] = declaration
        logger.debug("auto-declared %s attribute %s (string)", model, attribute)
        return declaration
