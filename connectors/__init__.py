"""Floor 2: source connectors, one per vendor; raw vendor data → canonical records."""
