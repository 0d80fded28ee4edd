"""``python -m litesr_edge`` runs the command line."""

from litesr_edge.cli import main

main()
