"""``python -m genmon`` runs the ``genmon`` command."""

from genmon.cli import main

main()
