"""Esri's own JavaScript client, `@esri/arcgis-rest-request` (npm, tests/e2e/arcgis_js/, installed by .ci/run),
drives jobgate's GP REST jobs unmodified: generateToken, submitJob, waitForCompletion, getResult, cancelJob,
and its
handling of a bad token."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest

from support.server import JobgateServer

HERE: Final = Path(__file__).parent / "arcgis_js"


@pytest.fixture(scope="module")
def seen(module_jobgate_server: Any) -> dict[str, Any]:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node is not None, "node is needed for the ArcGIS JS client test (.ci/run installs it)"
    if not (HERE / "node_modules" / "@esri" / "arcgis-rest-request").is_dir():
        assert npm is not None, f"run `npm ci --prefix {HERE}` first (.ci/run does)"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True, timeout=600)
    server: JobgateServer = module_jobgate_server(JOBGATE_RUNNERS=2)
    server.cli.run("user", "add", "alice", "--password", "alice-Js-3")
    done = subprocess.run([node, "gp_job.mjs", server.url, "alice", "alice-Js-3"], cwd=HERE, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_the_client_gets_a_token_with_a_numeric_expiry(seen: dict[str, Any]) -> None:
    assert seen["tokenExpiresIsNumber"] is True


def test_the_client_submits_and_waits_for_completion(seen: dict[str, Any]) -> None:
    assert seen["quickId"].startswith("j")
    assert seen["quickStatus"] == "Succeeded"
    assert seen["quickMessages"] == ["Submitted.", "Executing...", "Succeeded."]
    assert seen["quickResult"] == ["result", "GPString", "slept 0.2 s"]  # getResult: …/jobs/<id>/results/result


def test_the_client_cancels_a_running_job(seen: dict[str, Any]) -> None:
    assert seen["slowRunning"] == "Executing"
    assert seen["cancelReply"] in ("esriJobCancelling", "esriJobCancelled")
    assert seen["slowEnd"] in ("Cancelled", "Cancelling", "ArcGISJobError")


def test_the_client_reports_a_bad_token_as_an_auth_error(seen: dict[str, Any]) -> None:
    assert seen["badToken"] == {"name": "ArcGISAuthError", "code": 498}
