"""Floor 1: what every part shares — model, config, errors, HTTP policy, the ledger."""
