"""deskmigrate."""
