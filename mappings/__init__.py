"""The built-in mappings (one YAML file per source), read with importlib.resources."""
