"""The Birst dialect: CommandWebService.asmx (SOAP 1.1 and 1.2) through the SOAP gateway, with ASMX's
conventions but no HTTP GET/POST bindings in its WSDL (birst.md)."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from jobgate.dialects.birst import auth
from jobgate.dialects.birst.errors import ERRORS
from jobgate.dialects.birst.operations import FAST_OPS
from jobgate.dialects.birst.service import CommandWebService
from jobgate.dialects.birst.wire import PATH, SERVICE, TNS
from jobgate.dialects.common import BannerLine, Dialect, DialectOptions, IndexLink, Mounted, Services
from jobgate.dialects.common.calls import CallInfo
from jobgate.dialects.soap.gateway import Asmx, SoapGateway, SoapRoute, SoapService
from jobgate.dialects.soap.spyne_apps import SpyneApps, build_apps
from jobgate.dialects.soap.wsdl import build_wsdl
from jobgate.domain.model import Channel, Credentials

WSDL_FILE: Final = "birst.wsdl"


def apps() -> SpyneApps:
    return build_apps([CommandWebService], TNS, SERVICE, ERRORS)


def credentials(op: str, values: Mapping[str, str], call: CallInfo, envelope: Any) -> Credentials | None:
    """The login token a call carries (names lower-cased by the gateway)."""
    return auth.token_credentials(values.get("token"), call.client)


def mount(services: Services, options: DialectOptions) -> Mounted:
    path = (options.wsdl_dir or Path("wsdl")) / WSDL_FILE
    service = SoapService(
        name=SERVICE, path=PATH, tns=TNS, apps=apps(), channel=Channel.BIRST,
        wsdl=path.read_bytes() if path.is_file() else None, asmx=Asmx(http_bindings=False),
        description="Birst command web service: log in, publish data, and watch or cancel its jobs.",
        credentials=credentials, fast_ops=FAST_OPS,
    )  # fmt: skip
    hot = [SoapRoute(PATH, SoapGateway(service, services, options))]
    links = [
        IndexLink("CommandWebService.asmx — operation list", PATH),
        IndexLink("CommandWebService.asmx — WSDL", f"{PATH}?WSDL"),
        IndexLink("CommandWebService.asmx — cancelJob test page", f"{PATH}?op=cancelJob"),
    ]
    return Mounted(routes=hot, hot=hot, links=links)


def documents() -> dict[str, bytes]:
    """The WSDL kept in wsdl/ (make wsdl); the gateway serves this file."""
    return {WSDL_FILE: build_wsdl(apps(), SERVICE, TNS, http_bindings=False)}


DIALECT: Final = Dialect(
    name="birst",
    title="Birst",
    description="Birst CommandWebService.asmx: SOAP 1.1 and SOAP 1.2, login tokens.",
    mount=mount,
    banner=[BannerLine("birst", PATH, "(WSDL: ?WSDL, test forms: ?op=cancelJob)")],
    documents=documents,
    tokens={auth.TOKEN_KIND: auth.TOKEN_POLICY},
)
