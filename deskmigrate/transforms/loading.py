"""Load a mapping: the built-in or given file, override files merged over it, every problem located and raised at once."""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from deskmigrate.core.errors import MappingError, Problem
from deskmigrate.core.yamlfile import LocatedYaml, YamlSyntaxError, load_yaml_file, parse_yaml
from deskmigrate.transforms.checks import did_you_mean, mapping_problems
from deskmigrate.transforms.spec import AttributeSpec, MappingSpec, Rule, TagsSpec, TargetSpec, ValueMap

logger = logging.getLogger(__name__)

PathKey = tuple[Any, ...]
MAPPINGS_PACKAGE = "deskmigrate"
MAPPINGS_FOLDER = "mappings"
BUILTIN_NAME = re.compile(r"[A-Za-z0-9_-]+")
# Lists inside a target that an override merges item by item, and the key that names an item.
MERGED_LISTS: dict[str, str] = {"rules": "to", "attributes": "name"}
SCHEMA_KEYS = frozenset(
    info.alias or name
    for model in (MappingSpec, TargetSpec, Rule, TagsSpec, AttributeSpec, ValueMap)
    for name, info in model.model_fields.items()
)


def builtin_mapping_names() -> list[str]:
    """The names of the mappings shipped in deskmigrate/mappings/ (csv, zendesk, ...)."""
    folder = resources.files(MAPPINGS_PACKAGE).joinpath(MAPPINGS_FOLDER)
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def load_mapping(source: str, mapping: str | Path | None = None, overrides: Sequence[Path] = ()) -> MappingSpec:
    """Read the mapping (`mapping` is a built-in name or a path; None → the source's default), merge the overrides.

    Raises MappingError listing every problem in every file, each with its file, YAML path and line.
    """
    files: list[LocatedYaml] = []
    problems: list[Problem] = []
    try:
        files.append(_read_base(source, mapping))
    except YamlSyntaxError as exc:
        problems.extend(exc.problems)
    except MappingError as exc:
        problems.extend(exc.problems)
    for path in overrides:
        try:
            files.append(load_yaml_file(Path(path)))
        except YamlSyntaxError as exc:
            problems.extend(exc.problems)
    if problems:
        raise MappingError(problems)
    spec = _merge_and_validate(files)
    logger.info("mapping loaded from %s", " + ".join(located.file or "<text>" for located in files))
    return spec


def parse_mapping_text(text: str, file: str | None = None) -> MappingSpec:
    """Validate one mapping given as YAML text; the same checks and errors as load_mapping."""
    try:
        located = parse_yaml(text, file)
    except YamlSyntaxError as exc:
        raise MappingError(exc.problems) from None
    return _merge_and_validate([located])


def _merge_and_validate(files: list[LocatedYaml]) -> MappingSpec:
    merged = MergedMapping(origins={(): Origin(files[0], ())})
    for located in files:
        merged.merge(located)
    problems = list(merged.problems)
    spec: MappingSpec | None = None
    try:
        spec = MappingSpec.model_validate(merged.data)
    except ValidationError as exc:
        problems.extend(merged.problem(tuple(error["loc"]), _schema_message(error)) for error in exc.errors())
    problems.extend(merged.problem(path, message) for path, message in mapping_problems(merged.data))
    if problems or spec is None:
        raise MappingError(_in_file_order(problems, files))
    return spec


def _read_base(source: str, mapping: str | Path | None) -> LocatedYaml:
    if isinstance(mapping, Path):
        return load_yaml_file(mapping)
    name = mapping if mapping is not None else source
    builtin = resources.files(MAPPINGS_PACKAGE).joinpath(MAPPINGS_FOLDER, f"{name}.yaml")
    if BUILTIN_NAME.fullmatch(name) and builtin.is_file():
        return parse_yaml(builtin.read_text(encoding="utf-8"), f"{MAPPINGS_PACKAGE}/{MAPPINGS_FOLDER}/{name}.yaml")
    if mapping is not None and (Path(name).suffix in (".yaml", ".yml") or "/" in name or Path(name).exists()):
        return load_yaml_file(Path(name))
    names = builtin_mapping_names()
    message = f"no built-in mapping named {name!r}{did_you_mean(name, names)} (built-in: {', '.join(names)})"
    raise MappingError([Problem(path="mapping", message=message)])


def _schema_message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        key = str(error["loc"][-1]) if error["loc"] else ""
        return f"unknown key{did_you_mean(key, SCHEMA_KEYS)}"
    if error["type"] == "missing":
        return "missing required key"
    return str(error["msg"])


def _in_file_order(problems: list[Problem], files: list[LocatedYaml]) -> list[Problem]:
    order = {located.file: index for index, located in enumerate(files)}
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda problem: (order.get(problem.file, len(order)), problem.line or 0))


@dataclass(frozen=True)
class Origin:
    """Where a merged value came from: the file and the path inside that file."""

    located: LocatedYaml
    path: PathKey


@dataclass
class MergedMapping:
    """The default mapping with overrides merged over it, remembering the file and line behind every value."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[PathKey, Origin] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def locate(self, path: PathKey) -> Origin:
        for cut in range(len(path), -1, -1):
            origin = self.origins.get(path[:cut])
            if origin is not None:
                return Origin(origin.located, origin.path + path[cut:])
        raise LookupError(path)  # () is always present

    def problem(self, path: PathKey, message: str) -> Problem:
        origin = self.locate(tuple(path))
        return origin.located.problem(origin.path, message)

    def merge(self, located: LocatedYaml) -> None:
        """Merge one file: mappings deep-merged key by key; a target's `rules` merged by `to` and its `attributes` by
        `name` (same key replaces, `drop: true` removes); anything else replaced."""
        if not isinstance(located.data, dict):
            self.problems.append(located.problem((), "a mapping file is a YAML mapping (version:, value_maps:, contact:, ...)"))
            return
        self._merge_into(self.data, (), located.data, located, ())

    def _merge_into(self, base: dict[str, Any], path: PathKey, patch: dict[str, Any], located: LocatedYaml, patch_path: PathKey) -> None:
        for key, value in patch.items():
            here, there = path + (key,), patch_path + (key,)
            current = base.get(key)
            if key in MERGED_LISTS and len(path) == 1 and isinstance(value, list) and isinstance(current, (list, type(None))):
                base[key] = self._merge_list(current or [], here, value, located, there, MERGED_LISTS[key])
            elif isinstance(value, dict) and isinstance(current, (dict, type(None))):
                if current is None:
                    current = base[key] = {}
                    self._replace_origins(here, Origin(located, there))
                self._merge_into(current, here, value, located, there)
            else:
                base[key] = copy.deepcopy(value)
                self._replace_origins(here, Origin(located, there))

    def _merge_list(self, items: list[Any], path: PathKey, patch: list[Any], located: LocatedYaml, patch_path: PathKey,
                    key: str) -> list[Any]:
        """A list of rules (keyed by `to`) or attribute declarations (keyed by `name`): an item of the patch replaces the
        base's item with the same key, `{<key>: x, drop: true}` removes it, a new key is appended."""
        entries = [(item, self.locate(path + (index,))) for index, item in enumerate(items)]
        written_here: dict[str, int] = {}
        what = "rules" if key == "to" else "attribute declarations"
        for index, item in enumerate(patch):
            origin = Origin(located, patch_path + (index,))
            name = item.get(key) if isinstance(item, dict) else None
            if isinstance(name, str) and name in written_here:
                first_line = located.line_of(patch_path + (written_here[name],))
                self.problems.append(
                    located.problem(origin.path + (key,), f"{name!r} is named by two {what} in this file (also line {first_line})")
                )
                continue
            if isinstance(name, str):
                written_here[name] = index
            position = next((i for i, (r, _) in enumerate(entries) if isinstance(r, dict) and r.get(key) == name), None) if name else None
            if isinstance(item, dict) and "drop" in item:
                self._drop_item(item, key, position, entries, origin)
            elif position is None:
                entries.append((copy.deepcopy(item), origin))
            else:
                entries[position] = (copy.deepcopy(item), origin)
        self._replace_origins(path, Origin(located, patch_path))
        for index, (_, origin) in enumerate(entries):
            self.origins[path + (index,)] = origin
        return [rule for rule, _ in entries]

    def _drop_item(self, item: dict[str, Any], key: str, position: int | None, entries: list[tuple[Any, Origin]], origin: Origin) -> None:
        if item.get("drop") is not True or set(item) != {key, "drop"}:
            self.problems.append(origin.located.problem(origin.path, f"an entry that removes another is exactly {{{key}: <{key}>, drop: true}}"))
        elif position is None:
            self.problems.append(
                origin.located.problem(origin.path + (key,), f"no earlier entry has {key} {item[key]!r}, so there is nothing to drop")
            )
        else:
            del entries[position]

    def _replace_origins(self, path: PathKey, origin: Origin) -> None:
        for known in [known for known in self.origins if known[: len(path)] == path and len(known) >= len(path)]:
            del self.origins[known]
        self.origins[path] = origin
