"""Floor 2: the mapping engine — canonical records + mapping YAML → Intercom payloads."""
