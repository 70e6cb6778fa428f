"""Job runners: claim Submitted jobs, run their tasks, stop them on cancel, resolve dead runners' jobs."""

from jobgate.runner.pool import RunnerPool

__all__ = ["RunnerPool"]
