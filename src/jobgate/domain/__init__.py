"""The job domain: states, transitions, values and errors. Standard library only."""
