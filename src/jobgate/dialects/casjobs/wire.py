"""CasJobs wire words: status codes, CJJob/CJQueue/CJType, quick-job CSV, the GetJobs conditions syntax."""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, Final

from spyne import ComplexModel
from spyne.model.complex import Array
from spyne.model.primitive import DateTime, Integer32, Long, Unicode

from jobgate.domain.errors import InvalidRequest
from jobgate.domain.model import Job, Table
from jobgate.domain.states import JobState
from jobgate.services import Runtime

TNS: Final = "http://Services.Cas.jhu.edu"
WSID: Final = "wsid"  # the alias kind under which a user's WebServicesID is kept (the CasJobs dialect owns it)

STATUS: Final[Mapping[JobState, int]] = {
    JobState.SUBMITTED: 0,
    JobState.SUSPENDED: 0,  # held before it started: still "ready" to a CasJobs client
    JobState.EXECUTING: 1,
    JobState.CANCELING: 2,
    JobState.CANCELLED: 3,
    JobState.FAILED: 4,
    JobState.FINISHED: 5,
}
STATUS_NAMES: Final = ("ready", "started", "canceling", "cancelled", "failed", "finished")


class WireTime(datetime):
    """A UTC time, written as XmlSerializer writes an unspecified-kind DateTime: `2024-04-18T12:34:56.12`
    (milliseconds, trailing zeros dropped), `0001-01-01T00:00:00` for DateTime.MinValue."""

    @property
    def asmx(self) -> str:
        text = self.isoformat(timespec="seconds")
        millis = self.microsecond // 1000
        return f"{text}.{millis:03d}".rstrip("0") if millis else text


MIN_TIME: Final = WireTime(1, 1, 1)  # an unset time


def status_name(state: JobState) -> str:
    return STATUS_NAMES[STATUS[state]]


def _value(cls: Any) -> Any:
    if cls is DateTime:
        return DateTime(min_occurs=1, nillable=False, str_format="{0.asmx}")
    return cls(min_occurs=1, nillable=False)


_Text = Unicode(min_occurs=0, nillable=False)


class CJJob(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    _type_info = [
        ("JobID", _value(Long)),
        ("Rows", _value(Long)),
        ("WebServicesID", _value(Long)),
        ("TimeSubmit", _value(DateTime)),
        ("TimeStart", _value(DateTime)),
        ("TimeEnd", _value(DateTime)),
        ("Status", _value(Integer32)),
        ("Queue", _value(Integer32)),
        ("TaskName", _Text),
        ("OutputLoc", _Text),
        ("Error", _Text),
        ("Query", _Text),
        ("Context", _Text),
        ("Type", _Text),
    ]


class CJQueue(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    _type_info = [("Context", _Text), ("Timeout", _value(Integer32))]


class CJType(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS
    _type_info = [("Type", _Text), ("Description", _Text)]


ArrayOfCJJob = Array(CJJob, type_name="ArrayOfCJJob")
ArrayOfCJQueue = Array(CJQueue, type_name="ArrayOfCJQueue")
ArrayOfCJType = Array(CJType, type_name="ArrayOfCJType")

JOB_TYPES: Final = (
    ("QUERY", "A batch SQL query (SubmitJob)"),
    ("QUICK", "A quick SQL query (ExecuteQuickJob)"),
    ("EXTRACT", "A MyDB table exported to a CSV or VOTable file (SubmitExtractJob)"),
    ("UPLOAD", "CSV data loaded into a MyDB table (UploadData)"),
)
_TASK_TYPES: Final = {"extract": "EXTRACT", "upload": "UPLOAD"}  # task → Type; sql jobs are QUERY or QUICK

# -- SubmitExtractJob: file types, and where finished extracts are served ---------------------------------

OUTPUT_PATH: Final = "/CasJobs/output"  # GET <OUTPUT_PATH>/<job key>.<ext> serves an extract's file
EXTRACT_FORMATS: Final = {"csv": "csv", "votable": "votable"}  # CasJobs type (lower case) → extract format
UNSUPPORTED_EXTRACTS: Final = {"dataset": "DataSet", "fits": "FITS"}  # the other types CasJobs names
MEDIA_TYPES: Final = {".csv": "text/csv", ".xml": "application/x-votable+xml"}  # file suffix → Content-Type


def extract_format(kind: str | None) -> str:
    """The extract format of a CasJobs output type (CSV, DataSet, FITS, VOTable; any case)."""
    key = (kind or "").strip().lower()
    if key in UNSUPPORTED_EXTRACTS:
        raise InvalidRequest(f"Extract type {UNSUPPORTED_EXTRACTS[key]} is not supported; use CSV or VOTable.")
    if key not in EXTRACT_FORMATS:
        raise InvalidRequest(f"Unknown extract type '{(kind or '').strip()}'; use CSV or VOTable.")
    return EXTRACT_FORMATS[key]


def output_url(job: Job, base_url: str) -> str | None:
    """OutputLoc: an extract's file as an absolute URL clients fetch with a plain GET; a MyDB table (query,
    upload); nothing else (other tasks' outputs are server files, never shown to a CasJobs client)."""
    if not job.output_loc:
        return None
    if job.task == "extract":
        return f"{base_url}{OUTPUT_PATH}/{job.key}{PurePosixPath(job.output_loc).suffix}"
    return job.output_loc if job.output_loc.startswith("MyDB.") else None


def wire_time(at: datetime | None) -> WireTime:
    """UTC without an offset, to the millisecond, as the CasJobs service writes them."""
    if at is None:
        return MIN_TIME
    utc = at.astimezone(UTC)
    return WireTime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond)


def queue_timeout(job: Job, runtime: Runtime) -> int:
    """A CJJob's Queue: the time limit (s) of the queue it ran in, as GetQueues lists them (the limits the
    runners enforce: JOBGATE_QUICK_TIMEOUT_S, JOBGATE_LONG_TIMEOUT_S)."""
    return round(runtime.quick_timeout_s if job.synchronous else runtime.long_timeout_s)


def queue_timeouts(runtime: Runtime) -> tuple[int, int]:
    """GetQueues: the quick queue's and the long queue's time limits (s)."""
    return round(runtime.quick_timeout_s), round(runtime.long_timeout_s)


def cjjob(job: Job, wsid: int, runtime: Runtime, base_url: str = "") -> CJJob:
    return CJJob(
        JobID=job.id,
        Rows=job.rows or 0,
        WebServicesID=wsid,
        TimeSubmit=wire_time(job.submitted_at),
        TimeStart=wire_time(job.started_at),
        TimeEnd=wire_time(job.ended_at),
        Status=STATUS[job.state],
        Queue=queue_timeout(job, runtime),
        TaskName=job.name or None,  # null strings are omitted, never written empty
        OutputLoc=output_url(job, base_url),
        Error=job.error or None,
        Query=job.params.get("query") or None,
        Context=job.params.get("context") or None,
        Type=job_type(job),
    )


def job_type(job: Job) -> str:
    return _TASK_TYPES.get(job.task) or ("QUICK" if job.synchronous else "QUERY")


# -- ExecuteQuickJob's CSV ------------------------------------------------------------------------------

_CSV_TYPES: Final = {"int": "BigInt", "float": "Float", "string": "String", "datetime": "DateTime",
                     "bool": "Bit", "bytes": "Binary"}  # fmt: skip


def quick_csv(table: Table) -> str:
    """Header `[name]:Type,…`, one line per row, strings in double quotes, NULL as `null`, each line
    ending in a newline (clients split on '\\n' and expect the last element to be empty)."""
    lines = [",".join(f"[{c.name}]:{_CSV_TYPES.get(c.type, 'String')}" for c in table.columns)]
    lines += [",".join(_csv_value(v) for v in row) for row in table.rows]
    return "\n".join(lines) + "\n"


def _csv_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return '"' + str(value).replace('"', '""') + '"'


# -- GetJobs conditions: `key : cond | cond ; key : cond` -----------------------------------------------

Bound = tuple[Any, Any]  # inclusive (low, high); None means open


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    alternatives: tuple[Bound, ...]


def _parse_int(text: str) -> int:
    return int(text)


def _parse_time(text: str, upper: bool) -> datetime:
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?", text)
    if not match:
        raise ValueError(text)
    y, mo, d, hh, mm, ss, frac = match.groups()
    if hh is None:  # a bare date covers the whole day
        start = datetime(int(y), int(mo), int(d))
        return start + timedelta(days=1, microseconds=-1) if upper else start
    micro = int((frac or "0").ljust(6, "0"))
    return datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss or 0), micro)


def _parse_text(text: str) -> str:
    return text.lower()


_KEYS: Final[Mapping[str, Callable[..., Any]]] = {
    "jobid": _parse_int, "status": _parse_int, "queue": _parse_int, "wsid": _parse_int,
    "timesubmit": _parse_time, "timestart": _parse_time, "timeend": _parse_time,
    "taskname": _parse_text, "error": _parse_text, "query": _parse_text, "context": _parse_text, "type": _parse_text,
}  # fmt: skip


MAX_CONDITIONS_CHARS: Final = 4096  # GetJobs conditions: a person's filter is a line, never a megabyte
MAX_ALTERNATIVES: Final = 256  # alternatives over all keys: each one costs a comparison per job listed


def parse_conditions(text: str | None) -> list[Condition]:
    if text is not None and len(text) > MAX_CONDITIONS_CHARS:
        raise InvalidRequest(f"The conditions are longer than {MAX_CONDITIONS_CHARS} characters.")
    if text is not None and text.count("|") + text.count(";") + 1 > MAX_ALTERNATIVES:
        raise InvalidRequest(f"The conditions hold more than {MAX_ALTERNATIVES} alternatives.")
    conditions = []
    for group in (text or "").split(";"):
        if not group.strip():
            continue
        key, sep, rest = group.partition(":")
        key = key.strip().lower()
        if not sep or key not in _KEYS:
            raise InvalidRequest(f"Unknown condition key '{key or group.strip()}'.")
        conditions.append(Condition(key, tuple(_bound(key, alt.strip()) for alt in rest.split("|"))))
    return conditions


def _bound(key: str, text: str) -> Bound:
    parse = _KEYS[key]
    try:
        if "," not in text:
            if parse is _parse_time:
                return parse(text, False), parse(text, True)
            value = parse(text)
            return value, value
        low, high = (part.strip() for part in text.split(",", 1))
        args = (lambda t, up: (t, up)) if parse is _parse_time else (lambda t, up: (t,))
        return (parse(*args(low, False)) if low else None, parse(*args(high, True)) if high else None)
    except ValueError:
        raise InvalidRequest(f"Bad value '{text}' for condition key '{key}'.") from None


def job_fields(job: Job, wsid: int, runtime: Runtime) -> dict[str, Any]:
    """A job's values under the condition keys, normalised like the parsed bounds."""
    return {
        "jobid": job.id, "status": STATUS[job.state], "queue": queue_timeout(job, runtime),
        "wsid": wsid, "timesubmit": wire_time(job.submitted_at),
        "timestart": wire_time(job.started_at) if job.started_at else None,
        "timeend": wire_time(job.ended_at) if job.ended_at else None,
        "taskname": (job.name or "").lower(), "error": (job.error or "").lower(),
        "query": str(job.params.get("query", "")).lower(), "context": str(job.params.get("context", "")).lower(),
        "type": job_type(job).lower(),
    }  # fmt: skip


def matches(fields: Mapping[str, Any], conditions: Iterable[Condition]) -> bool:
    """Intersection across keys, union within one key."""
    return all(any(_within(fields[c.key], bound) for bound in c.alternatives) for c in conditions)


def _within(value: Any, bound: Bound) -> bool:
    low, high = bound
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)
