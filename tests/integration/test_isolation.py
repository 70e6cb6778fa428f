"""No global state: two apps built in one process on two databases share nothing."""

import asyncio
from pathlib import Path

import httpx
from starlette.applications import Starlette

from jobgate.app import Components, create_app
from jobgate.domain.model import JobFilter
from support.factories import settings_for, sleep_job, user_actor


def scrape(app: Starlette) -> str:
    async def get() -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            return (await client.get("/metrics")).text

    return asyncio.run(get())


def test_two_apps_on_two_databases_do_not_see_each_others_jobs(db_url: str, tmp_path: Path) -> None:
    first = create_app(settings_for(db_url, tmp_path / "first"))
    second = create_app(settings_for(f"sqlite:///{tmp_path / 'second.db'}", tmp_path / "second"))
    a: Components = first.state.components
    b: Components = second.state.components
    try:
        assert a.jobs is not b.jobs
        assert a.metrics.registry is not b.metrics.registry
        owner_a, owner_b = user_actor(a, "alice"), user_actor(b, "alice")
        job = sleep_job(a, owner_a)
        a.jobs.cancel(owner_a, job.id)

        assert [j.id for j in a.jobs.list_jobs(owner_a, JobFilter())] == [job.id]
        assert b.jobs.list_jobs(owner_b, JobFilter()) == []
        assert b.jobs.find(owner_b, job.key) is None

        metrics_a, metrics_b = scrape(first), scrape(second)
        assert 'jobgate_jobs{state="Cancelled"} 1.0' in metrics_a
        assert 'jobgate_jobs{state="Cancelled"} 0.0' in metrics_b
        assert 'jobgate_transitions_total{action="cancel",protocol="cli"} 1.0' in metrics_a
        assert "jobgate_transitions_total{" not in metrics_b
    finally:
        a.engine.dispose()
        b.engine.dispose()
