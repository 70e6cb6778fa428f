"""The seam: what a dialect describes about itself, what it gets, and what it hands the app.

A dialect is a package under `jobgate.dialects` exposing `DIALECT: Dialect`; its name on the registry
line in `jobgate/dialects/__init__.py` is the only edit outside its folder. From the registry the app
builds its routes (hot ones dispatched ahead of the router), the index page, the start-up banner, the
`dialect` label of every request's metrics and log line, and `make wsdl` writes the dialect's documents.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from jobgate.services import Identity, JobService, TokenPolicy


@dataclass(frozen=True, slots=True)
class DialectOptions:
    """The settings a dialect may read; it gets nothing else from the configuration."""

    max_body_bytes: int = 2 * 1024 * 1024
    test_forms: Literal["local", "on", "off"] = "local"
    public_url: str | None = None
    wsdl_dir: Path | None = None
    inline_hot_path: bool = False  # run cheap calls with verified credentials on the event loop
    fast_lane: bool = True  # answer a SOAP service's fast operations without Spyne (soap/fastlane.py)
    data_dir: Path | None = None  # where tasks write their files (JOBGATE_DATA_DIR): served outputs live under it
    max_in_flight_per_user: int = 64  # a REST dialect's rate limit: requests of one user at a time
    # threads one request naming many jobs may use side by side (each job still its own transaction): worth
    # it where commits wait for the disk in parallel (PostgreSQL); SQLite serialises its writers anyway
    batch_workers: int = 1


@dataclass(frozen=True, slots=True)
class IndexLink:
    label: str
    href: str


@dataclass(frozen=True, slots=True)
class BannerLine:
    """One line of the start-up banner: `label  <base URL><path>  note`."""

    label: str
    path: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Mounted:
    """What a built dialect hands the app: its routes, those of them dispatched ahead of the router (the
    service endpoints a client calls all the time), and the links the index page shows."""

    routes: Sequence[BaseRoute]
    hot: Sequence[BaseRoute] = ()
    links: Sequence[IndexLink] = ()


@dataclass(frozen=True, slots=True)
class Services:
    """What a dialect gets of the service layer: the jobs clients ask about, and users and tokens."""

    jobs: JobService
    identity: Identity


Mount = Callable[[Services, DialectOptions], Mounted]


@dataclass(frozen=True, slots=True)
class Dialect:
    """A dialect, described once."""

    name: str  # the `dialect` label of its requests' metrics and log lines, e.g. "casjobs"
    title: str  # its heading on the index page
    description: str
    mount: Mount
    banner: Sequence[BannerLine] = ()
    documents: Callable[[], Mapping[str, bytes]] | None = None  # file name under wsdl/ → its bytes (make wsdl)
    # a REST dialect's part of /openapi.json: {"paths": {...}, "components": {...}} (OpenAPI 3.1)
    openapi: Callable[[], Mapping[str, Any]] | None = None
    # the kinds of token the dialect issues, each with its lifetime (JOBGATE_TOKEN_LIFETIMES_S overrides it)
    tokens: Mapping[str, TokenPolicy] = field(default_factory=dict)


class Labelled(BaseRoute):
    """A dialect's route that names its dialect in the request's state, for the metrics and the log line."""

    def __init__(self, route: BaseRoute, dialect: str) -> None:
        self.route, self.dialect = route, dialect
        self.path: str = getattr(route, "path", "")  # the route's own path, where it has one

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self.route.matches(scope)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        return self.route.url_path_for(name, **path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["dialect"] = self.dialect
        await self.route.handle(scope, receive, send)
