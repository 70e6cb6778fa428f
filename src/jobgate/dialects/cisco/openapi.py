"""Cisco's part of /openapi.json (OpenAPI 3.1): the job operations, runhistory, JobSummary and rateLimits under
/webacs/api/{version}/, each without and with the `.json` suffix, HTTP Basic on all of them."""

from typing import Any, Final

from jobgate.dialects.cisco.wire import (
    JOB_PAYLOAD,
    PAYLOADS,
    PREFIX,
    RUN_FILTERS,
    RUN_PAYLOAD,
    STATUS_STATES,
    Operation,
    Payload,
)

REF: Final = "#/components/schemas/"
VERSION_PARAM: Final = {
    "name": "version", "in": "path", "required": True,
    "schema": {"type": "string", "enum": ["v1", "v2", "v3"]},
}  # fmt: skip
_ERRORS: Final = {
    "400": "Malformed or invalid payload or query (errorDocument)",
    "401": "No or wrong credentials (errorDocument, WWW-Authenticate: Basic)",
    "403": "The user is not in the NBI group the call needs (errorDocument)",
    "404": "No such resource or job (errorDocument)",
    "406": "Neither XML nor JSON is acceptable (errorDocument)",
    "413": "Request body too large (errorDocument)",
    "415": "The body is neither XML nor JSON (errorDocument)",
    "503": "Too many requests of this user in flight (errorDocument, Retry-After)",
}


def _id_list(payload: Payload) -> dict[str, Any]:
    long_ = {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^-?[0-9]{1,19}$"}]}
    ids = {"oneOf": [long_, {"type": "array", "items": long_, "minItems": 1}]}
    inner = {"type": "object", "required": [payload.item], "properties": {payload.item: ids}}
    middle = {"type": "object", "required": [payload.ids], "properties": {payload.ids: inner}}
    return {"type": "object", "required": [payload.root], "properties": {payload.root: middle}}


def _responses(ok: str, schema: str) -> dict[str, Any]:
    content = {"application/xml": {"schema": {"$ref": REF + schema}},
               "application/json": {"schema": {"$ref": REF + schema}}}  # fmt: skip
    error = {"application/xml": {"schema": {"$ref": REF + "ErrorDocument"}},
             "application/json": {"schema": {"$ref": REF + "ErrorDocument"}}}  # fmt: skip
    answers: dict[str, Any] = {"200": {"description": ok, "content": content}}
    answers |= {code: {"description": text, "content": error} for code, text in _ERRORS.items()}
    return answers


def _operation(op: Operation) -> dict[str, Any]:
    payload = PAYLOADS[op]
    schema = {"$ref": REF + payload.root}
    body = {
        "required": True,
        "content": {"application/json": {"schema": schema}, "application/xml": {"schema": schema}},
    }
    described = {
        "summary": f"{op.value}: each {payload.item} lands in success or failure (200 once the payload parsed)",
        "tags": ["Cisco Prime Infrastructure"], "parameters": [VERSION_PARAM], "requestBody": body,
        "responses": _responses("mgmtResponse with operationResult", "MgmtResponse"),
        "security": [{"ciscoBasic": []}],
    }  # fmt: skip
    return {"put": {**described, "operationId": f"cisco{op.value.title()}{{suffix}}"},
            "post": {**described, "operationId": f"cisco{op.value.title()}Post{{suffix}}"}}  # fmt: skip


def _read(name: str, summary: str, params: list[dict[str, Any]], schema: str) -> dict[str, Any]:
    return {"get": {
        "summary": summary, "operationId": name + "{suffix}", "tags": ["Cisco Prime Infrastructure"],
        "parameters": [VERSION_PARAM, *params], "responses": _responses(summary, schema),
        "security": [{"ciscoBasic": []}],
    }}  # fmt: skip


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _paths() -> dict[str, Any]:
    base = PREFIX + "/{version}"
    templates: dict[str, dict[str, Any]] = {f"{base}/op/jobService/{op.segment}": _operation(op) for op in Operation}
    paging = [_query(".firstResult", {"type": "integer", "minimum": 0}),
              _query(".maxResults", {"type": "integer", "minimum": 1, "maximum": 1000})]  # fmt: skip
    status = {name: {"type": "string", "enum": sorted(STATUS_STATES[name])} for name in RUN_FILTERS}
    instant = {"type": "string", "description": "milliseconds since the epoch, or 2020-07-28T20:29:54.009Z"}
    runs = [_query("jobId", {"type": "integer", "minimum": 0}), _query("jobName", {"type": "string"}),
            _query("jobType", {"type": "string"}), *(_query(name, schema) for name, schema in status.items()),
            _query("startTime", instant), _query("endTime", instant), *paging]  # fmt: skip
    templates[f"{base}/op/jobService/runhistory"] = _read(
        "ciscoRunHistory", "The runs of the caller's jobs: by id, name, type, state, submission time", runs,
        "MgmtResponse",
    )  # fmt: skip
    templates[f"{base}/op/rateService/rateLimits"] = _read("ciscoRateLimits", "The rate limits", [], "MgmtResponse")
    listing = [_query(".full", {"type": "boolean"}), *paging, _query(".sort", {"type": "string"})]
    templates[f"{base}/data/JobSummary"] = _read("ciscoJobSummaries", "The caller's jobs", listing, "QueryResponse")
    one = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
    templates[f"{base}/data/JobSummary/{{id}}"] = _read("ciscoJobSummary", "One job", [one], "QueryResponse")
    paths: dict[str, Any] = {}
    for path, item in templates.items():
        for suffix, name in (("", ""), (".json", "Json")):
            paths[path + suffix] = {
                method: {**spec, "operationId": spec["operationId"].replace("{suffix}", name)}
                for method, spec in item.items()
            }
    return paths


def _components() -> dict[str, Any]:
    free = {"type": "object", "additionalProperties": True}
    return {
        "schemas": {
            RUN_PAYLOAD.root: _id_list(RUN_PAYLOAD),
            JOB_PAYLOAD.root: _id_list(JOB_PAYLOAD),
            "MgmtResponse": {**free, "description": "mgmtResponse (seed 003), XML or per-version JSON"},
            "QueryResponse": {**free, "description": "queryResponse of JobSummary entities or entity ids"},
            "ErrorDocument": {
                **free,
                "description": "errorDocument: httpResponseCode, httpMethod, message, id, uriPath, queryParams",
            },
        },
        "securitySchemes": {"ciscoBasic": {"type": "http", "scheme": "basic"}},
    }


def openapi() -> dict[str, Any]:
    return {"paths": _paths(), "components": _components()}
