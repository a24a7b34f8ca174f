"""`python -m cli` runs the ledger command line."""

from cli.main import main

main()
