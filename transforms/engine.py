"""The Mapper: canonical records + a MappingSpec → Intercom payloads (or rejections), filling a MappingReport.

Just over 400 lines: the Mapper is one object whose state (the date orders its columns showed, the report) every step
of a record's mapping reads and updates; its compiled pieces live in compiled.py, the attributes it declares in declarations.py."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from deskmigrate.core.errors import MappingError, Problem
from deskmigrate.core.model import Conversation, Part, Record
from deskmigrate.core.payload import AttributeDeclaration, IntercomDataType, Payload, PayloadRejection
from deskmigrate.core.yamlfile import dotted
from deskmigrate.transforms import coercion
from deskmigrate.transforms.checks import mapping_problems
from deskmigrate.transforms.compiled import (
    ATTRIBUTE_NAME_MAX,
    COERCIONS,
    CUSTOM_FIELDS,
    CompiledRule,
    CompiledTarget,
    MapperState,
    Outcome,
    as_written,
    collect_tags,
    compile_target,
    finish_body,
    is_empty,
    record_hints,
    run_chain,
    value_kind,
    write_path,
)
from deskmigrate.transforms.declarations import AttributeBook
from deskmigrate.transforms.registry import RecordHints, TransformContext, ValueMemo, ValueRejected, loss_detail
from deskmigrate.transforms.report import MappingReport
from deskmigrate.transforms.spec import (
    AS_WRITTEN_FIELDS,
    ATTRIBUTE_MODELS,
    CUSTOM_ATTRIBUTES,
    DATE_ORDERS,
    ENTITY_TARGETS,
    AttributeSpec,
    MappingSpec,
)

logger = logging.getLogger(__name__)


class Mapper:
    """Maps canonical records to Intercom payloads following one MappingSpec; `report` accumulates what it did."""

    def __init__(
        self,
        spec: MappingSpec,
        report: MappingReport | None = None,
        *,
        phone_region: str | None = None,
        dayfirst: bool = False,
        date_orders: dict[str, str] | None = None,
        memo: ValueMemo | None = None,
    ) -> None:
        """`phone_region`, `dayfirst`: the config's `defaults`. `date_orders`: the day/month order columns showed in an
        earlier pass (`learned_date_orders()`), so every value of such a column is read in that order from the start.
        `memo`: where costly transforms keep what they concluded about values, from one plan to the next."""
        problems = [
            Problem(path=dotted(path), message=message)
            for path, message in mapping_problems(spec.model_dump(by_alias=True, exclude_unset=True))
        ]
        if problems:
            raise MappingError(problems)
        self.spec = spec
        self.phone_region = phone_region
        self.dayfirst = dayfirst
        self.memo = memo
        self._date_orders: dict[str, Any] = {key: order for key, order in (date_orders or {}).items() if order in DATE_ORDERS}
        self.report = report if report is not None else MappingReport()
        self._targets = {name: compile_target(name, target) for name, target in spec.targets().items()}
        self.attributes = AttributeBook(self._targets)
        # handed to the steps of rules whose transforms take no context: they never read or write it
        self._no_context = TransformContext(value_maps=spec.value_maps)

    def learned_date_orders(self) -> dict[str, str]:
        """The day/month order each date column showed ("contact.signed_up_at" → "dayfirst"), for a later Mapper."""
        return dict(self._date_orders)

    def state(self) -> MapperState:
        """What this mapper learned so far beyond its report: date orders, attribute declarations and names, attributes written."""
        book = self.attributes
        return MapperState(dict(self._date_orders), dict(book.declarations), dict(book.unmapped_names), set(book.written))

    def resume(self, state: MapperState, report: MappingReport) -> None:
        """Go on from `state` (another mapper's, e.g. where a plan stood before a chunk), filling `report` from here on."""
        self._date_orders, self.attributes.declarations = dict(state.date_orders), dict(state.declarations)
        self.attributes.unmapped_names, self.attributes.written = dict(state.unmapped_names), set(state.written)
        self.report = report

    def absorb(self, state: MapperState, report: MappingReport) -> list[str]:
        """Take in what a mapper that went on from this one's state learned over the next records (a chunk mapped
        elsewhere), as if this mapper had mapped them; returns the date columns whose order that chunk learned first."""
        learned = [key for key in state.date_orders if key not in self._date_orders]
        for key in learned:
            self._date_orders[key] = state.date_orders[key]
        for key, declaration in state.declarations.items():
            self.attributes.declarations.setdefault(key, declaration)
        for key, name in state.unmapped_names.items():
            self.attributes.unmapped_names.setdefault(key, name)
        self.attributes.written |= state.written
        self.report.merge(report)
        for key in self._date_orders:
            target_name, _, to = key.partition(".")
            if target_name in self.report.targets:
                # a column whose order is known reads every value in it: none of its dates stays ambiguous
                self.report.targets[target_name].ambiguous_dates.pop(to, None)
        return learned

    def handles(self, entity: str) -> bool:
        """Whether the mapping has a section for this canonical entity (companies, contacts, ...)."""
        return ENTITY_TARGETS.get(entity) in self._targets

    def map(self, record: Record) -> Payload | PayloadRejection:
        """One record → its payload, or a rejection naming the field and the reason (the run goes on)."""
        entity: str = getattr(record, "entity", "")
        target = self._targets.get(ENTITY_TARGETS.get(entity, ""))
        if target is None:
            raise MappingError([Problem(path=ENTITY_TARGETS.get(entity, entity), message=f"the mapping has no section for {entity}")])
        outcome = Outcome()
        body: dict[str, Any] = {}
        location = getattr(record, "location", None)
        hints = record_hints(record)
        for rule in target.rules:
            self._apply_rule(target, rule, record, body, outcome, location, hints)
        self._carry_unmapped(target, record, body, outcome)
        self._coerce_custom_attributes(target, body, outcome, location, hints)
        if outcome.failures:
            return self._reject(target.name, entity, record.source_id, outcome.failures, location)
        parts: list[dict[str, Any]] = []
        refs: dict[str, Any] = {}
        if isinstance(record, Conversation):
            part_failures: list[tuple[str, ValueRejected]] = []
            parts, refs = self._map_parts(record, part_failures, outcome)
            if part_failures:
                return self._reject(target.name, entity, record.source_id, part_failures, location)
        self._commit(target.name, outcome, record.source_id, body)
        # Built from values of the declared types: constructed as they are, without validating them again.
        return Payload.model_construct(
            entity=entity,
            source_id=record.source_id,
            body=finish_body(body),
            company_source_ids=[str(company) for company in getattr(record, "company_ids", [])],
            tags=collect_tags(target, record),
            parts=parts,
            refs=refs,
            notes=[*outcome.notes, *outcome.part_notes],
        )

    def map_part(self, part: Part, outcome: Outcome, location: str | None = None) -> dict[str, Any]:
        """One source comment → its Intercom part: the `part` rules' body plus who wrote it and its attachments."""
        target = self._targets.get("part")
        body: dict[str, Any] = {}
        for rule in target.rules if target else []:
            self._apply_rule(target, rule, part, body, outcome, location, RecordHints())  # type: ignore[arg-type]
        return {
            "source_id": part.source_id,
            "author_kind": part.author_kind,
            "author_id": part.author_id,
            "public": part.public,
            "created_at": coercion.as_unix_seconds(part.created_at) if part.created_at else None,
            "body": finish_body(body),
            "body_text": part.body_text,
            "attachments": [attachment.model_dump(mode="json") for attachment in part.attachments],
        }

    def _map_parts(
        self, record: Conversation, failures: list[tuple[str, ValueRejected]], ticket: Outcome
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every part in order, and the links the loader resolves; what each part lost is counted per ticket,
        and what a part's value cost is noted on the ticket (field `parts.<part id>.<to>`)."""
        parts = []
        lost: Counter[str] = Counter()
        lost_items: dict[str, set[str]] = {}
        for part in record.parts:
            outcome = Outcome()
            parts.append(self.map_part(part, outcome, record.location))
            failures.extend((f"parts.{part.source_id}.{name}", reason) for name, reason in outcome.failures)
            if not outcome.failures:
                self._commit("part", outcome, record.source_id)
                ticket.part_notes.extend(note.model_copy(update={"field": f"parts.{part.source_id}.{note.field}"}) for note in outcome.notes)
            lost.update(kind for _, kind in outcome.losses)
            for _, kind, items in outcome.lost_items:
                lost_items.setdefault(kind, set()).update(items)
        refs = {
            "source": record.source,
            "requester_id": record.requester_id,
            "assignee_id": record.assignee_id,
            "options": self.spec.conversation_options.model_dump(mode="json"),
        }
        if lost:
            refs["content_lost"] = dict(sorted(lost.items()))  # parts per value-free kind: groupable across tickets
        if lost_items:
            refs["content_lost_detail"] = [loss_detail(kind, items) for kind, items in sorted(lost_items.items())]
        return parts, refs

    def attribute_declarations(self) -> list[AttributeDeclaration]:
        """Declared attributes plus those auto-declared by `unmapped: custom_attribute` so far."""
        return list(self.attributes.declarations.values())

    def written_attribute_declarations(self) -> list[AttributeDeclaration]:
        """The declarations of attributes some mapped record carried: a declared column the source does not have
        (the built-in mapping's example columns) creates nothing in a workspace that cannot delete attributes."""
        return [declaration for key, declaration in self.attributes.declarations.items() if key in self.attributes.written]

    def declare_unmapped(self, entity: str, field_names: Iterable[str]) -> list[AttributeDeclaration]:
        """Auto-declare, before mapping, the attributes the source's custom fields will land in; returns the new ones."""
        return self.attributes.declare_unmapped(entity, field_names)

    def _carry_unmapped(self, target: CompiledTarget, record: Record, body: dict[str, Any], outcome: Outcome) -> None:
        if target.reads_all_custom_fields:
            return
        for field_name, value in (getattr(record, CUSTOM_FIELDS, None) or {}).items():
            if field_name in target.read_custom_fields or is_empty(value):
                continue
            if target.unmapped == "error":
                reason = ValueRejected("source field not handled by the mapping", f"{field_name!r} (policy unmapped: error)")
                outcome.failures.append((f"{CUSTOM_FIELDS}.{field_name}", reason))
                continue
            if target.unmapped == "drop":
                outcome.unmapped_dropped.append(field_name)
                continue
            attributes = body.setdefault(CUSTOM_ATTRIBUTES, {})
            attribute = self.attributes.unmapped_attribute_name(target, field_name)
            if attribute in attributes:
                outcome.unmapped_dropped.append(field_name)
                continue
            attributes[attribute] = value
            self.attributes.auto_declare(target, attribute, field_name)
            outcome.unmapped_kept.append(field_name)

    def _coerce_custom_attributes(
        self, target: CompiledTarget, body: dict[str, Any], outcome: Outcome, location: str | None, hints: RecordHints
    ) -> None:
        """A value that does not fit its attribute's type costs that attribute only: dropped, or kept as text in <name>_raw."""
        attributes = body.get(CUSTOM_ATTRIBUTES)
        if not isinstance(attributes, dict):
            return
        for name, value in list(attributes.items()):
            declared = target.declared.get(name)
            data_type: IntercomDataType = declared.type if declared else "string"
            try:
                if data_type in ("date", "datetime"):
                    attributes[name] = self._read_date_attribute(target, name, value, declared, outcome, hints)
                else:
                    attributes[name] = COERCIONS[data_type](value)
            except ValueRejected as exc:
                reason = exc.reason if data_type in ("date", "datetime") else f"not a valid {data_type}"
                self._misfit(target, attributes, name, value, reason, outcome, location)
                continue
            if declared and declared.options and attributes[name] not in declared.options:
                self._misfit(target, attributes, name, value, "not one of the attribute's options", outcome, location)

    def _read_date_attribute(
        self, target: CompiledTarget, name: str, value: Any, declared: AttributeSpec | None, outcome: Outcome, hints: RecordHints
    ) -> int:
        to = f"{CUSTOM_ATTRIBUTES}.{name}"
        ctx = self._context(target, to, hints)
        try:
            time = ctx.read_time(
                value, dayfirst=declared.dayfirst if declared else None, date_format=declared.date_format if declared else None
            )
        finally:
            self._learn_dates(target.name, to, ctx, outcome)
        return int(time.moment.timestamp())

    def _misfit(self, target: CompiledTarget, attributes: dict[str, Any], name: str, value: Any, reason: str,
                outcome: Outcome, location: str | None) -> None:
        del attributes[name]
        declared = target.declared.get(name)
        to = f"{CUSTOM_ATTRIBUTES}.{name}"
        policy = target.attribute_policies.get(name) or (declared.on_error if declared is not None else "drop_field")
        if policy == "reject":
            outcome.failures.append((to, ValueRejected(reason, f"{value_kind(value)} in {to}")))
        elif policy == "keep_raw" and self._keep_raw_attribute(target, attributes, name, value):
            outcome.note(to, reason, "kept_raw", value, location)
        else:
            outcome.note(to, reason, "dropped", value, location)

    def _keep_raw_attribute(self, target: CompiledTarget, attributes: dict[str, Any], name: str, value: Any) -> bool:
        """The value as text in the string attribute <name>_raw (declared for preflight); False when it cannot be."""
        raw_name = f"{name}_raw"[:ATTRIBUTE_NAME_MAX]
        raw_declared = target.declared.get(raw_name)
        if raw_declared is not None and raw_declared.type != "string":
            return False
        try:
            attributes[raw_name] = value.strip() if isinstance(value, str) else coercion.as_text(value)
        except ValueRejected:
            return False
        self.attributes.auto_declare(target, raw_name, None)
        return True

    def _rule_context(self, rule: CompiledRule, hints: RecordHints) -> TransformContext:
        """The context a rule's steps run with; transforms that take none share one that nothing writes to."""
        if not rule.needs_context:
            return self._no_context
        return TransformContext(value_maps=self.spec.value_maps, phone_region=self.phone_region, hints=hints,
                                column_order=self._date_orders.get(rule.date_key), default_dayfirst=self.dayfirst, memo=self.memo)

    def _context(self, target: CompiledTarget, to: str, hints: RecordHints) -> TransformContext:
        return TransformContext(
            value_maps=self.spec.value_maps,
            phone_region=self.phone_region,
            hints=hints,
            column_order=self._date_orders.get(f"{target.name}.{to}"),
            default_dayfirst=self.dayfirst,
        )

    def _learn_dates(self, target_name: str, to: str, ctx: TransformContext, outcome: Outcome) -> None:
        """A value that shows its day/month order decides its column's; values read without that are ambiguous."""
        key = f"{target_name}.{to}"
        for reading in ctx.readings:
            if reading.decided_by == "value" and key not in self._date_orders:
                self._date_orders[key] = reading.order
                logger.info("%s: dates are %s (a value shows it); the column's other numeric dates are read so", key, reading.order)
                # what was counted ambiguous before is read in the column's order by a Mapper given learned_date_orders()
                self.report.target(target_name).ambiguous_dates.pop(to, None)
            elif reading.time.ambiguous and reading.decided_by in ("rule", "default"):
                outcome.ambiguous_dates.append((to, reading.order))

    def _apply_rule(
        self, target: CompiledTarget, rule: CompiledRule, record: Record | Part, body: dict[str, Any], outcome: Outcome,
        location: str | None, hints: RecordHints,
    ) -> None:
        if rule.reads_many:
            value: Any = [item for read in rule.readers if not is_empty(item := read(record))]
        else:
            value = rule.readers[0](record) if rule.readers else None
        # A rule that neither transforms nor writes a time copies the value: no context to set up, nothing to learn.
        if (rule.steps or rule.writes_time) and not is_empty(value):
            ctx = self._rule_context(rule, hints)
            original = value
            try:
                value = run_chain(rule.steps, value, ctx)
                if rule.writes_time and isinstance(value, str) and not is_empty(value):
                    # Intercom takes times as unix seconds; a source time still in text is read here, as unix_time would.
                    value = int(ctx.read_time(value).moment.timestamp())
            except ValueRejected as exc:
                self._learn_dates(target.name, rule.to, ctx, outcome)
                self._bad_value(target, rule, exc, original, body, outcome, location)
                return
            if ctx.readings:
                self._learn_dates(target.name, rule.to, ctx, outcome)
            if ctx.misses:
                outcome.misses.extend(ctx.misses)
            if ctx.losses:
                outcome.losses.extend((rule.to, kind) for kind in ctx.losses)
                outcome.lost_items.extend((rule.to, kind, frozenset(items)) for kind, items in ctx.lost_items.items())
        if is_empty(value) and rule.default is not None:
            value = rule.default
            outcome.defaults.append(rule.to)
        if is_empty(value):
            if rule.required:
                where = ", ".join(rule.sources) or "no source"
                outcome.failures.append((rule.to, ValueRejected("required value missing", f"nothing in {where} and no default")))
            return
        write_path(body, rule.to_path, value)

    def _bad_value(self, target: CompiledTarget, rule: CompiledRule, exc: ValueRejected, original: Any, body: dict[str, Any],
                   outcome: Outcome, location: str | None) -> None:
        """A value the rule's transforms cannot convert costs what its on_error says: the field (default), or the record."""
        if rule.on_error == "reject":
            outcome.failures.append((rule.to, exc))
            return
        if rule.on_error == "keep_raw":
            if rule.to_path[0] == CUSTOM_ATTRIBUTES:
                if self._keep_raw_attribute(target, body.setdefault(CUSTOM_ATTRIBUTES, {}), rule.to_path[1], original):
                    outcome.note(rule.to, exc.reason, "kept_raw", original, location)
                    return
            elif (text := as_written(original)) is not None:
                action = "kept_as_written" if rule.to in AS_WRITTEN_FIELDS else "kept_raw"
                outcome.note(rule.to, exc.reason, action, original, location)
                write_path(body, rule.to_path, text)
                return
        outcome.note(rule.to, exc.reason, "dropped", original, location)

    def _reject(self, target: str, entity: str, source_id: str, failures: list[tuple[str, ValueRejected]],
                location: str | None = None) -> PayloadRejection:
        self.report.record_rejection(target, source_id, [f"{name}: {exc.reason}" for name, exc in failures])
        first_field, first = failures[0]
        reason = str(first) if len(failures) == 1 else "; ".join(f"{name}: {exc}" for name, exc in failures)
        if location:
            reason = f"{location}: {reason}"
        logger.debug("rejected %s %s: %s: %s", entity, source_id, first_field, reason)
        return PayloadRejection(entity=entity, source_id=source_id, field=first_field, reason=reason)

    def _commit(self, target_name: str, outcome: Outcome, source_id: str = "", body: dict[str, Any] | None = None) -> None:
        report = self.report.target(target_name)
        model = ATTRIBUTE_MODELS.get(target_name)
        attributes = (body or {}).get(CUSTOM_ATTRIBUTES)
        if model is not None and isinstance(attributes, dict):
            self.attributes.written.update((model, name) for name in attributes)
        report.mapped += 1
        if outcome.defaults:
            report.defaults_applied.update(outcome.defaults)
        if outcome.unmapped_dropped:
            report.unmapped_fields.update(outcome.unmapped_dropped)
        if outcome.unmapped_kept:
            report.unmapped_to_custom_attributes.update(outcome.unmapped_kept)
        for map_name, value in outcome.misses:
            report.value_map_misses.setdefault(map_name, Counter())[coercion.as_text(value) if value is not None else "null"] += 1
        for to, kind in outcome.losses:
            report.content_dropped.setdefault(to, Counter())[kind] += 1
        for to, kind, items in outcome.lost_items:
            report.content_dropped_items.setdefault(to, {}).setdefault(kind, Counter()).update(items)
        for note in outcome.notes:
            report.record_field_note(note, f"{source_id} ({note.location})" if note.location else source_id, self.report.max_examples)
        for to, order in outcome.ambiguous_dates:
            if f"{target_name}.{to}" not in self._date_orders:  # a later value of this record's column may have shown it
                report.ambiguous_dates.setdefault(to, Counter())[order] += 1


