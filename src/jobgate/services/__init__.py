"""The service layer: every use case of the job core, and the one place ownership is decided."""

from jobgate.services.auth import Authenticator, AuthPolicy, CredentialCache, Throttle
from jobgate.services.jobs import JobService, Runtime

__all__ = ["AuthPolicy", "Authenticator", "CredentialCache", "JobService", "Runtime", "Throttle"]
