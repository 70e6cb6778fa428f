"""Stand-alone reference servers (configurations A, D, D2, E of shared/perf-ceiling.md); not part of jobgate."""
