"""The CasJobs dialect: jobs.asmx (SOAP 1.1/1.2, HTTP GET/POST) and casusers.asmx through the SOAP gateway,
with ASMX's conventions, and the files finished extracts leave behind."""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from jobgate.dialects.casjobs.errors import ERRORS
from jobgate.dialects.casjobs.operations import FAST_OPS
from jobgate.dialects.casjobs.service import CasUsersService, JobsService
from jobgate.dialects.casjobs.wire import MEDIA_TYPES, OUTPUT_PATH, TNS, WSID
from jobgate.dialects.common import BannerLine, Dialect, DialectOptions, IndexLink, Mounted, Services
from jobgate.dialects.common.calls import CallInfo
from jobgate.dialects.soap.gateway import SoapGateway, SoapRoute, SoapService
from jobgate.dialects.soap.spyne_apps import SpyneApps, build_apps
from jobgate.dialects.soap.wsdl import build_wsdl
from jobgate.domain.model import Channel, CredentialKind, Credentials
from jobgate.services import JobService

JOBS_PATH = "/CasJobs/services/jobs.asmx"
USERS_PATHS = ("/CasJobs/services/casusers.asmx", "/CasJobs/casusers.asmx")
_OUTPUT_NAME: Final = re.compile(r"([0-9a-f]{32})(\.[a-z]{1,8})")  # <job key>.<ext>


def jobs_apps() -> SpyneApps:
    return build_apps([JobsService], TNS, "Jobs", ERRORS)


def users_apps() -> SpyneApps:
    return build_apps([CasUsersService], TNS, "CasUsers", ERRORS)


def _wsdl(options: DialectOptions, name: str) -> bytes | None:
    path = (options.wsdl_dir or Path("wsdl")) / name
    return path.read_bytes() if path.is_file() else None


def credentials(op: str, values: Mapping[str, str], call: CallInfo, envelope: Any) -> Credentials | None:
    """The wsid and password a jobs.asmx call carries (names lower-cased by the gateway)."""
    wsid = values.get("wsid") or values.get("owner_wsid")
    password = values.get("pw") if "pw" in values else values.get("owner_pw")
    if not wsid or password is None:
        return None
    return Credentials(wsid.strip(), password, CredentialKind.ALIAS, WSID, call.client)


def mount(services: Services, options: DialectOptions) -> Mounted:
    service = SoapService(
        name="Jobs", path=JOBS_PATH, tns=TNS, apps=jobs_apps(), channel=Channel.CASJOBS,
        wsdl=_wsdl(options, "casjobs.wsdl"), description="CasJobs batch and quick SQL jobs.",
        credentials=credentials, fast_ops=FAST_OPS,
    )  # fmt: skip
    hot: list[BaseRoute] = [SoapRoute(JOBS_PATH, SoapGateway(service, services, options))]
    users_wsdl, users = _wsdl(options, "casusers.wsdl"), users_apps()
    for path in USERS_PATHS:
        users_service = SoapService(
            name="CasUsers", path=path, tns=TNS, apps=users, channel=Channel.CASJOBS, wsdl=users_wsdl,
            description="CasJobs user look-up: a user name and password to a WebServicesID.",
        )  # fmt: skip
        hot.append(SoapRoute(path, SoapGateway(users_service, services, options)))
    links = [
        IndexLink("jobs.asmx — operation list", JOBS_PATH),
        IndexLink("jobs.asmx — WSDL", f"{JOBS_PATH}?WSDL"),
        IndexLink("jobs.asmx — CancelJob test page", f"{JOBS_PATH}?op=CancelJob"),
        IndexLink("casusers.asmx — GetWebServiceId", f"{USERS_PATHS[0]}?op=GetWebServiceId"),
    ]
    return Mounted(routes=[*hot, output_route(services.jobs, options)], hot=hot, links=links)


def documents() -> dict[str, bytes]:
    """The WSDL kept in wsdl/ (make wsdl); the gateway serves these files."""
    return {
        "casjobs.wsdl": build_wsdl(jobs_apps(), "Jobs", TNS, http_bindings=True),
        "casusers.wsdl": build_wsdl(users_apps(), "CasUsers", TNS, http_bindings=True),
    }


DIALECT: Final = Dialect(
    name="casjobs",
    title="CasJobs",
    description="CasJobs jobs.asmx: SOAP 1.1, SOAP 1.2, HTTP GET and HTTP POST.",
    mount=mount,
    banner=[BannerLine("casjobs", JOBS_PATH, "(WSDL: ?WSDL, test forms: ?op=CancelJob)")],
    documents=documents,
)


def output_route(jobs: JobService, options: DialectOptions) -> Route:
    """GET /CasJobs/output/<job key>.<ext>: a finished extract's file, to whoever holds its URL (as in CasJobs:
    the 32-hex key is unguessable); 404 for anything else."""

    def serve(request: Request) -> Response:
        path = output_file(jobs, options.data_dir, request.path_params["name"])
        if path is None:
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], filename=path.name)

    return Route(f"{OUTPUT_PATH}/{{name}}", serve, methods=["GET"])


def output_file(jobs: JobService, data_dir: Path | None, name: str) -> Path | None:
    """The file of the finished extract job `name` names, if it lies in the output directory; else None."""
    match = _OUTPUT_NAME.fullmatch(name)
    if data_dir is None or match is None or match.group(2) not in MEDIA_TYPES:
        return None
    stored = jobs.finished_output(match.group(1), "extract")
    if stored is None:
        return None
    out_dir = (data_dir / "output").resolve()
    path = (data_dir / stored).resolve()  # symlinks resolved too: a link out of the directory is refused
    if path.parent != out_dir or path.name != name or not path.is_file():
        return None
    return path
