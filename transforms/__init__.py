"""The mapping engine: canonical records + a mapping YAML → Intercom payloads and a mapping report."""

from deskmigrate.transforms import library as _library  # noqa: F401  (registers the built-in transforms)
from deskmigrate.transforms.compiled import MapperState, sanitize_attribute_name
from deskmigrate.transforms.engine import Mapper
from deskmigrate.transforms.loading import builtin_mapping_names, load_mapping, parse_mapping_text
from deskmigrate.transforms.registry import REGISTRY, describe_transforms, transform_names
from deskmigrate.transforms.report import MappingReport, TargetReport
from deskmigrate.transforms.spec import MappingSpec

__all__ = [
    "REGISTRY",
    "Mapper",
    "MapperState",
    "MappingReport",
    "MappingSpec",
    "TargetReport",
    "builtin_mapping_names",
    "describe_transforms",
    "load_mapping",
    "parse_mapping_text",
    "sanitize_attribute_name",
    "transform_names",
]
