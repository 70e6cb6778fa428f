"""The Cisco Prime Infrastructure dialect: the jobService REST operations, JobSummary and rateLimits under
/webacs/api/v1|v2|v3/, XML by default and JSON with `.json`, HTTP Basic with the NBI groups."""

from typing import Final

from jobgate.dialects.cisco.openapi import openapi
from jobgate.dialects.cisco.routes import routes
from jobgate.dialects.cisco.wire import PREFIX
from jobgate.dialects.common import BannerLine, Dialect, DialectOptions, IndexLink, Mounted, Services


def mount(services: Services, options: DialectOptions) -> Mounted:
    every, hot = routes(services, options)
    links = [
        IndexLink("v3 — JobSummary (XML)", f"{PREFIX}/v3/data/JobSummary"),
        IndexLink("v3 — JobSummary (JSON)", f"{PREFIX}/v3/data/JobSummary.json"),
        IndexLink("v3 — runhistory (JSON)", f"{PREFIX}/v3/op/jobService/runhistory.json"),
        IndexLink("v3 — rateLimits (JSON)", f"{PREFIX}/v3/op/rateService/rateLimits.json"),
        IndexLink("OpenAPI document", "/openapi.json"),
    ]
    return Mounted(routes=every, hot=hot, links=links)


DIALECT: Final = Dialect(
    name="cisco",
    title="Cisco Prime Infrastructure",
    description="jobService cancelrunning, cancel, suspend, resume, runhistory, data/JobSummary and "
    "rateService/rateLimits: REST, "
    "XML or JSON (.json), v1–v3, HTTP Basic (groups nbi-write, nbi-read).",
    mount=mount,
    banner=[BannerLine("cisco", f"{PREFIX}/v3/op/jobService/cancelrunning", "(PUT; also v1, v2; .json for JSON)")],
    openapi=openapi,
)
