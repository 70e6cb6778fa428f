"""What a client and the log see when the server fails, in every dialect, through its kit, in this process: an
unexpected error (the store fails under the seed's cancel) is the dialect's generic server refusal quoting the
request id, with no exception text, traceback or library name; the detail is in the log under that request id, and
no password is. (Log hygiene on a real server's log: test_real_server.py.)"""

import sqlite3
from pathlib import Path

import pytest

from support.kits import KITS, DialectKit
from support.kits.base import assert_no_leak, world_of

SEED_CASES = [
    pytest.param(kit, variant, id=f"{kit.name}-{variant}")
    for kit in KITS
    for variant in kit.variants
    if variant in kit.xml_variants or variant.endswith("json")
]


@pytest.mark.parametrize(("kit", "variant"), SEED_CASES)
def test_an_unexpected_error_is_a_server_refusal_quoting_the_request_id_and_the_detail_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kit: DialectKit, variant: str
) -> None:
    with world_of(kit, tmp_path) as world:
        target = kit.target(world, "seed")
        seed = kit.seed(world, variant, target)
        with sqlite3.connect(tmp_path / "jobgate.db") as db:  # the store fails under the operation
            db.execute("ALTER TABLE job_events RENAME TO job_events_gone")

        answer = world.send(seed)

        secrets = kit.secrets(world)
    request_id = answer.headers["x-request-id"]
    assert answer.status_code == 500, answer.text
    refusal = kit.refusal(answer)
    assert refusal.code.partition(".")[0] == kit.server_code(variant), refusal
    assert f"request id {request_id}" in refusal.text, refusal.text
    assert_no_leak(answer)
    assert "no such table" in caplog.text  # the detail is in the log, under the request id
    assert request_id in caplog.text
    for secret in secrets:
        assert secret not in caplog.text, "a secret reached the log"
