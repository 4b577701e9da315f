"""Floor 2: loaders that write payloads into a target."""
