"""The commands of `deskmigrate`, by concern, registered on the one Typer app in deskmigrate.cli. A command module
imports only what its options need; what a command runs is imported when it runs, so that `--help` stays instant."""
