"""The ArcGIS Server dialect: the GP REST job API and the Administrator API's job operations at /arcgis/,
with ArcGIS tokens (arcgis.md), as Starlette routes over the service layer."""

from typing import Final

from jobgate.dialects.arcgis import wire
from jobgate.dialects.arcgis.auth import KIND, POLICY
from jobgate.dialects.arcgis.openapi import document
from jobgate.dialects.arcgis.routes import build
from jobgate.dialects.common import BannerLine, Dialect, DialectOptions, IndexLink, Mounted, Services


def mount(services: Services, options: DialectOptions) -> Mounted:
    routes, hot = build(services, options)
    links = [
        IndexLink("tokens/generateToken (POST)", f"{wire.ROOT}/tokens/generateToken"),
        IndexLink("GP REST: submitJob on the sleep task of service demo", f"{wire.REST}/demo/GPServer/sleep/submitJob"),
        IndexLink("OpenAPI description", "/openapi.json"),
    ]
    return Mounted(routes=routes, hot=hot, links=links)


DIALECT: Final = Dialect(
    name="arcgis",
    title="ArcGIS Server",
    description="ArcGIS Server GP REST jobs and Administrator API job operations (f=html|json|pjson), token auth.",
    mount=mount,
    banner=[
        BannerLine("arcgis", f"{wire.REST}/", "(GP REST; admin: /arcgis/admin/; tokens: /arcgis/tokens/generateToken)")
    ],
    openapi=document,
    tokens={KIND: POLICY},  # 60 min unless the client asks, at most 1440 (arcgis.md [REC])
)
