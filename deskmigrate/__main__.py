"""`python -m deskmigrate` runs the command line."""

from deskmigrate.cli import main

main()
