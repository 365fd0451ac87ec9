"""``python -m faceatlas``."""

from faceatlas.cli import main

main()
