"""The OASIS Trans-WS dialect at /transws: a plain SOAP service (SOAP 1.1 and 1.2 on one URL, `?wsdl`, no
ASMX conventions), authenticated by a WS-Security UsernameToken or HTTP Basic."""

from pathlib import Path
from typing import Final

from jobgate.dialects.common import BannerLine, Dialect, DialectOptions, IndexLink, Mounted, Services
from jobgate.dialects.soap.faults import PLAIN_WORDING
from jobgate.dialects.soap.gateway import SoapGateway, SoapRoute, SoapService
from jobgate.dialects.soap.spyne_apps import SpyneApps, build_apps
from jobgate.dialects.soap.wsdl import build_wsdl
from jobgate.dialects.transws.errors import ERRORS
from jobgate.dialects.transws.operations import FAST_DOCUMENTS, offered_credentials
from jobgate.dialects.transws.service import TransWsService
from jobgate.dialects.transws.wire import TNS, WSSE
from jobgate.domain.model import Channel

PATH: Final = "/transws"
NAME: Final = "TransWS"
WSDL_FILE: Final = "transws.wsdl"
# the calls on one job, answered on the event loop when their credentials are already verified (SQLite): the
# control operations on the fast lane (operations.FAST_DOCUMENTS), this one through Spyne
INLINE: Final = frozenset({"retrieveJobInformationRequest"})


def apps() -> SpyneApps:
    return build_apps([TransWsService], TNS, NAME, ERRORS, PLAIN_WORDING)


def mount(services: Services, options: DialectOptions) -> Mounted:
    path = (options.wsdl_dir or Path("wsdl")) / WSDL_FILE
    service = SoapService(
        name=NAME, path=PATH, tns=TNS, apps=apps(), channel=Channel.TRANSWS,
        wsdl=path.read_bytes() if path.is_file() else None, asmx=None, check_soap_action=False,
        understood_headers=frozenset({f"{{{WSSE}}}Security"}), inline_ops=INLINE, fast_documents=FAST_DOCUMENTS,
        credentials=offered_credentials,
        description="OASIS Translation Web Services: submit, watch, suspend, resume and cancel jobs.",
    )  # fmt: skip
    route = SoapRoute(PATH, SoapGateway(service, services, options))
    return Mounted(routes=[route], hot=[route], links=[IndexLink("Trans-WS — WSDL", f"{PATH}?wsdl")])


def documents() -> dict[str, bytes]:
    """wsdl/transws.wsdl (make wsdl). Trans-WS routes on the body and ignores SOAPAction; the published
    soapAction of each operation is its name (transws.md, "SOAPAction")."""
    return {WSDL_FILE: build_wsdl(apps(), NAME, TNS, http_bindings=False, soap_action=lambda op: op)}


DIALECT: Final = Dialect(
    name="transws",
    title="OASIS Trans-WS",
    description="Trans-WS at /transws: SOAP 1.1 and SOAP 1.2 on one URL; WS-Security UsernameToken or HTTP Basic.",
    mount=mount,
    banner=[BannerLine("transws", PATH, "(WSDL: ?wsdl)")],
    documents=documents,
)
