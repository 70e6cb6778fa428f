"""A Cisco request naming many jobs, on SQLite (one worker) and PostgreSQL (several workers side by side):
the verdicts come back in the order asked, each job judged on its own, a repeated id judged once."""

import json
from pathlib import Path

from jobgate.app import create_app
from jobgate.domain.model import Actor, Channel, JobSpec
from jobgate.domain.states import JobState
from support.factories import settings_for
from support.kits.base import request


def test_many_ids_are_judged_in_order_each_on_its_own(db_url: str, tmp_path: Path) -> None:
    app = create_app(settings_for(db_url, tmp_path / "data"))
    try:
        jobs = app.state.components.jobs
        owner = app.state.components.identity.add_user("many", "many-Pa55", ["nbi-write"])
        actor = Actor.of(owner, Channel.CLI)
        queued = [jobs.submit(actor, JobSpec("batch", {})).id for _ in range(120)]
        for job_id in queued[::3]:
            jobs.suspend(actor, job_id)
        ids = [*queued, -1, queued[1]]
        body = json.dumps({"jobRunOperationPayload": {"runIds": {"runId": ids}}}).encode()
        answer = request(app, "PUT", "/webacs/api/v1/op/jobService/cancelrunning.json", content=body,
                         headers={"Authorization": "Basic bWFueTptYW55LVBhNTU="})  # fmt: skip
        assert answer.status_code == 200, answer.text
        result = answer.json()["mgmtResponse"]["operationResult"]
        suspended = set(queued[::3])
        assert [s["id"] for s in result["success"]["success"]] == [i for i in queued if i not in suspended]
        failures = [(f["id"], f["message"]) for f in result["failure"]["failure"]]
        assert failures == [
            *[(i, "Run is not running") for i in queued[::3]], (-1, "Run not found")
        ]  # fmt: skip
        root = Actor("root", Channel.CLI, frozenset({"admin"}))
        states = {job_id: jobs.get(root, job_id).state for job_id in queued}
        assert states == {i: JobState.SUSPENDED if i in suspended else JobState.CANCELLED for i in queued}
    finally:
        app.state.components.engine.dispose()
