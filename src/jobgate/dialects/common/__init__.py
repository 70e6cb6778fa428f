"""What every dialect shares: the seam they plug into, the XML gate, fault tables, the SOAP gateway."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from starlette.routing import BaseRoute

from jobgate.services import JobService


@dataclass(frozen=True, slots=True)
class DialectOptions:
    max_body_bytes: int = 2 * 1024 * 1024
    test_forms: Literal["local", "on", "off"] = "local"
    public_url: str | None = None
    wsdl_dir: Path | None = None
    inline_hot_path: bool = False  # run cheap calls with verified credentials on the event loop
    fast_lane: bool = True  # answer a service's fast operations without Spyne (fastlane.py)
    data_dir: Path | None = None  # where tasks write their files (JOBGATE_DATA_DIR): served outputs live under it


@dataclass(frozen=True, slots=True)
class IndexLink:
    label: str
    href: str


@dataclass(frozen=True, slots=True)
class Mounted:
    """What a dialect hands the app: its routes and the links the index page shows for it."""

    name: str
    routes: Sequence[BaseRoute]
    links: list[IndexLink] = field(default_factory=list)
    description: str = ""


Mount = Callable[[JobService, DialectOptions], Mounted]
