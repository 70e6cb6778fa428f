"""What an operation gets besides its arguments: the service layer and the facts of the request."""

from dataclasses import dataclass, field

from starlette.types import Scope

from jobgate.dialects.common.http import client_address, request_base_url
from jobgate.dialects.common.seam import Services
from jobgate.domain.model import Channel
from jobgate.services import Identity, JobService


@dataclass(frozen=True, slots=True)
class CallInfo:
    jobs: JobService
    identity: Identity
    client: str  # the peer address, for per-address throttling
    request_id: str
    binding: str  # soap11, soap12, http-get, http-post, rest, ...
    channel: Channel
    scope: Scope = field(default_factory=dict, repr=False)
    public_url: str | None = None

    @classmethod
    def of(cls, scope: Scope, services: Services, binding: str, channel: Channel, public_url: str | None) -> "CallInfo":
        request_id = scope.get("state", {}).get("request_id", "-")
        return cls(
            services.jobs, services.identity, client_address(scope), request_id, binding, channel, scope, public_url
        )

    @property
    def base_url(self) -> str:
        """scheme://host[:port] the client used (or JOBGATE_PUBLIC_URL), for absolute URLs; worked out only
        when an answer carries one."""
        return request_base_url(self.scope, self.public_url)
