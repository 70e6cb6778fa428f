"""`python -m jobgate` runs the command-line interface."""

from jobgate.cli import main

main()
