"""jobgate: one job store, five vendors' job-control dialects."""

__version__ = "0.1.0"
