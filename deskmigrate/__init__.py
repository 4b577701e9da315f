"""deskmigrate: move a support organisation into Intercom, repeatably, resumably and reversibly."""
__version__ = "0.1.0"
