"""The service layer, split by caller: what clients ask (jobs.py), what runners do (runners.py), users and
tokens (identity.py, auth.py, tokens.py); the state machine is applied in one place (transitions.py)."""

from jobgate.services.auth import Authenticator, AuthPolicy, CredentialCache, Throttle
from jobgate.services.identity import Identity
from jobgate.services.jobs import JobService
from jobgate.services.runners import RunnerService
from jobgate.services.runtime import Runtime
from jobgate.services.tokens import TokenPolicy, TokenService
from jobgate.services.transitions import JobRef, Transitions

__all__ = [
    "AuthPolicy",
    "Authenticator",
    "CredentialCache",
    "Identity",
    "JobRef",
    "JobService",
    "RunnerService",
    "Runtime",
    "Throttle",
    "TokenPolicy",
    "TokenService",
    "Transitions",
]
