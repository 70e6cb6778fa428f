"""The ArcGIS dialect's part of /openapi.json (OpenAPI 3.1): its paths, parameters and answer shapes."""

from typing import Any, Final

from jobgate.dialects.arcgis import wire

_REF = "#/components"
JOB_ID: Final = {"type": "string", "pattern": "^j[0-9a-f]{32}$"}


def _param(name: str, where: str, schema: dict[str, Any], required: bool = False, text: str = "") -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": text}


def _path(name: str) -> dict[str, Any]:
    schema = JOB_ID if name == "job_id" else {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}
    return _param(name, "path", schema, required=True)


F = _param("f", "query", {"type": "string", "enum": ["html", "json", "pjson"]}, text="Answer format (default html).")
TOKEN = _param("token", "query", {"type": "string"}, text="Token from generateToken.")
WAIT = _param("wait", "query", {"type": "number", "minimum": 0, "maximum": 60},
              text="jobgate extension: answer once the job's state changes, or after this many seconds.")  # fmt: skip


def _answers(schema: str) -> dict[str, Any]:
    """ArcGIS answers refusals with HTTP 200 and an error body; f=html pages carry the status instead."""
    ok = {"oneOf": [{"$ref": f"{_REF}/schemas/{schema}"}, {"$ref": f"{_REF}/schemas/ArcGisError"}]}
    content = {
        "application/json": {"schema": ok},
        "text/plain": {"schema": ok},
        "text/html": {"schema": {"type": "string"}},
    }
    return {
        "200": {"description": "The answer, or a refusal in ArcGIS's error shape.", "content": content},
        "default": {"description": "An f=html refusal, or a body over the size cap (413)."},
    }


def _form(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"content": {"application/x-www-form-urlencoded": {"schema": schema}}}


_STR: Final = {"type": "string"}
_FORM_F: Final = {"f": {"type": "string", "enum": ["html", "json", "pjson"]}}


def _op(op_id: str, summary: str, schema: str, params: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"operationId": op_id, "summary": summary, "tags": ["ArcGIS"], "parameters": params,
            "responses": _answers(schema), **extra}  # fmt: skip


def _paths() -> dict[str, Any]:
    admin_job = f"{wire.ADMIN}/services/{{service}}{wire.GP_SUFFIX}/jobs/{{job_id}}"
    gp = f"{wire.REST}/{{service}}/GPServer/{{task}}"
    svc, task, job = _path("service"), _path("task"), _path("job_id")
    token_form = _form({"username": _STR, "password": _STR, "client": _STR, "expiration": {"type": "string"},
                        **_FORM_F}, ["username", "password"])  # fmt: skip
    admin_post = _form({"token": _STR, **_FORM_F}, ["token"])
    return {
        f"{wire.ROOT}/tokens/generateToken": {
            "post": _op("arcgisRestGenerateToken", "A token for the REST API", "Token", [F], requestBody=token_form)
        },
        f"{wire.ADMIN}/generateToken": {
            "post": _op(
                "arcgisAdminGenerateToken",
                "A token for the Administrator API",
                "AdminToken",
                [F],
                requestBody=token_form,
            )
        },
        f"{wire.ADMIN}/services/{{service}}{wire.GP_SUFFIX}/jobs/query": {
            "get": _op(
                "arcgisAdminQuery",
                "Jobs of a service submitted since startTime (group admin)",
                "JobPage",
                [
                    svc,
                    F,
                    TOKEN,
                    _param("startTime", "query", {"type": "integer"}, required=True),
                    *(
                        _param(name, "query", {"type": "string"})
                        for name in ("endTime", "jobStatus", "userName", "machineName", "start", "number")
                    ),
                ],
            )
        },
        admin_job: {
            "get": _op("arcgisAdminJob", "A job's information (group admin)", "AdminJob", [svc, job, F, TOKEN])
        },
        f"{admin_job}/cancel": {
            "post": _op(
                "arcgisAdminCancel",
                "Cancel a job (group admin; token in the body)",
                "Status",
                [svc, job, F],
                requestBody=admin_post,
            )
        },
        f"{admin_job}/delete": {
            "post": _op(
                "arcgisAdminDelete",
                "Cancel if running, then remove a job (group admin)",
                "Status",
                [svc, job, F],
                requestBody=admin_post,
            )
        },
        f"{gp}/submitJob": {
            "get": _op(
                "arcgisSubmitJob",
                "Submit a GP job: the task's inputs as parameters",
                "Submitted",
                [svc, task, F, TOKEN, _param("seconds", "query", {"type": "string"})],
            )
        },
        f"{gp}/jobs/{{job_id}}": {
            "get": _op("arcgisJobStatus", "A GP job's status and messages", "Job", [svc, task, job, F, TOKEN, WAIT])
        },
        f"{gp}/jobs/{{job_id}}/{{kind}}/{{name}}": {
            "get": _op(
                "arcgisJobParameter",
                "A succeeded job's output (results) or a job's input (inputs)",
                "Parameter",
                [
                    svc,
                    task,
                    job,
                    _param("kind", "path", {"enum": ["results", "inputs"]}, required=True),
                    _path("name"),
                    F,
                    TOKEN,
                ],
            )
        },
        f"{gp}/jobs/{{job_id}}/cancel": {
            "post": _op("arcgisJobCancel", "Cancel a GP job", "Job", [svc, task, job, F, TOKEN])
        },
    }


def _schemas() -> dict[str, Any]:
    status = {"type": "string", "pattern": "^esriJob[A-Za-z]+$"}
    strings = {"type": "array", "items": {"type": "string"}}
    message = {"type": "object", "properties": {"type": _STR, "description": _STR}}
    return {
        "Token": {"type": "object", "required": ["token", "expires"],
                  "properties": {"token": _STR, "expires": {"type": "integer"}, "ssl": {"type": "boolean"}}},
        "AdminToken": {"type": "object", "required": ["token", "expires"],
                       "properties": {"token": _STR, "expires": {"type": "string"}}},
        "Status": {"type": "object", "required": ["status"], "properties": {"status": {"const": "success"}}},
        "Submitted": {"type": "object", "required": ["jobId", "jobStatus"],
                      "properties": {"jobId": JOB_ID, "jobStatus": {"const": wire.SUBMITTED}}},
        "Job": {"type": "object", "required": ["jobId", "jobStatus"],
                "properties": {"jobId": JOB_ID, "jobStatus": status, "messages": {"type": "array", "items": message}}},
        "AdminJob": {"type": "object", "required": ["jobID", "status"],
                     "properties": {"jobID": JOB_ID, "status": status, "submittedTime": {"type": "integer"},
                                    "endTime": {"type": "integer"}, "username": _STR, "machinename": _STR,
                                    "url": _STR}},
        "Parameter": {"type": "object", "required": ["paramName", "dataType", "value"],
                      "properties": {"paramName": _STR, "dataType": _STR, "value": {}}},
        "JobPage": {"type": "object", "required": ["total", "num", "start", "nextStart", "jobs"],
                    "properties": {"total": {"type": "integer"}, "num": {"type": "integer"},
                                   "start": {"type": "integer"}, "nextStart": {"type": "integer"},
                                   "jobs": {"type": "array", "items": {"$ref": f"{_REF}/schemas/AdminJob"}}}},
        "ArcGisError": {"oneOf": [
            {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "integer"}, "message": _STR, "details": strings}}}},
            {"type": "object", "required": ["status", "messages", "code"],
             "properties": {"status": {"const": "error"}, "messages": strings, "code": {"type": "integer"}}},
        ]},
    }  # fmt: skip


def document() -> dict[str, Any]:
    return {"paths": _paths(), "components": {"schemas": _schemas()}}
