"""The PostgreSQL section of docs/PERFORMANCE.md, and docs/SCALING.md with docs/scaling.png: capacity on paper,
built from the measured figures of bench/sections/postgres.py (and the cancel section's PostgreSQL cases)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

STATUS, CANCEL = "casjobs-soap-status", "casjobs-soap-cancel"
TITLES: Final = {STATUS: "GetJobStatus", CANCEL: "CancelJob"}
HOSTS: Final = (1, 2, 4, 8, 16)
POOL: Final = 10 + 20 + 2  # default pool + overflow + LISTEN + NOTIFY, per process
JOB_TRIPS: Final = 9  # round trips per trivial job, claim to finish (libpq trace, PostgreSQL)


def _cell(s: dict[str, Any]) -> str:
    return f"{s['rps']:,.0f} · {s['p50_ms']:.1f}/{s['p99_ms']:.1f}"


def performance_lines(results: dict[str, Any]) -> Iterator[str]:
    """The section in PERFORMANCE.md."""
    section = results.get("postgres", {})
    if "requests" not in section:
        yield "Not measured in this run."
        return
    req, ratios = section["requests"], section["ratios"]
    yield (
        f"PostgreSQL {results.get('machine', {}).get('postgresql', '?')} on the same machine (it shares the cores). "
        f"CasJobs SOAP 1.1 at c={section['connections']}, {section['jobs']:,} Executing jobs; req/s (median) · "
        "p50/p99 ms; ratio to E_pg in the same run. jobgate-1, jobgate-1-inline and E_pg are pinned to the server "
        "CPU; jobgate-2 (`serve --workers 2`) is not. jobgate-1-inline is jobgate-1 with "
        "`JOBGATE_INLINE_HOT_PATH=on`: the hot calls run on the event loop as E_pg's do (the default on "
        "PostgreSQL runs each in a worker thread, so a slow database never stalls the loop).\n"
    )
    yield "| server | " + " | ".join(TITLES[k] for k in (STATUS, CANCEL)) + " |\n|---|---|---|"
    for name, by in req.items():
        cells = [f"{_cell(by[k])} ({ratios[k].get(name, 0):.2f}× E_pg)" for k in (STATUS, CANCEL)]
        yield f"| {name} | " + " | ".join(cells) + " |"
    trips = section.get("round_trips", {})
    if STATUS in trips:
        yield "\nPer request, from libpq's protocol trace of the served app (`;` is the pool's pre-ping):\n"
        yield "| operation | round trips | statements | statements seen |\n|---|---|---|---|"
        for key in (STATUS, CANCEL):
            t = trips[key]
            seen = ", ".join(f"`{text.strip()[:40]}`" for text in t["texts"] if text.strip())
            yield f"| {TITLES[key]} | {t['round_trips']} | {t['statements']} | {seen} |"
    profile = section.get("profile", {})
    if "by_part" in profile:
        parts = ", ".join(f"{name} {share:.0%}" for name, share in profile["by_part"].items())
        yield f"\npy-spy on jobgate-1 under the GetJobStatus load ({profile['samples']:,} samples): {parts}."
    claims = section.get("claims", {})
    if "jobs_per_s" in claims:
        yield (
            f"\nClaim throughput: {claims['jobs']:,} trivial jobs drained by {claims['workers']} worker processes "
            "(jobs/s, median; `-N` = jobs at a time per process: jobgate runner threads, procrastinate "
            "`--concurrency`):\n"
        )
        yield "| jobs at a time per process | jobgate | procrastinate | ratio |\n|---|---|---|---|"
        for per in sorted({int(case.rsplit("-", 1)[1]) for case in claims["jobs_per_s"]}):
            jg, pq = claims["jobs_per_s"].get(f"jobgate-{per}", 0), claims["jobs_per_s"].get(f"procrastinate-{per}", 0)
            yield f"| {per} | {jg:,.0f} | {pq:,.0f} | {jg / pq if pq else 0:.2f}× |"


def _model(section: dict[str, Any]) -> dict[str, Any]:
    req, trips = section["requests"], section.get("round_trips", {})
    per_process = {key: req["jobgate-1"][key]["rps"] for key in (STATUS, CANCEL)}
    two = {key: req["jobgate-2"][key]["rps"] for key in (STATUS, CANCEL)}
    statements = {key: max(trips.get(key, {}).get("round_trips", 4.0), 1.0) for key in (STATUS, CANCEL)}
    # the database's rate seen here: the busiest run's round trips per second (a floor: PostgreSQL shared 2 cores
    # with the servers and wrk)
    db_seen = max(two[key] * statements[key] for key in (STATUS, CANCEL))
    claims = section.get("claims", {}).get("jobs_per_s", {})
    best = max((rate for case, rate in claims.items() if case.startswith("jobgate")), default=0.0)
    return {"per_process": per_process, "two": two, "statements": statements, "db_seen": db_seen,
            "claims_2_workers": best}  # fmt: skip


def write(results: dict[str, Any], directory: Path) -> list[Path]:
    section = results.get("postgres", {})
    if "requests" not in section:
        return []
    model = _model(section)
    png = directory / "scaling.png"
    _plot(model, png)
    doc = directory / "SCALING.md"
    doc.write_text(_scaling_doc(results, section, model))
    return [doc, png]


def _plot(model: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for key, colour in ((STATUS, "#1f77b4"), (CANCEL, "#d62728")):
        per, ceiling = model["per_process"][key], model["db_seen"] / max(model["statements"][key], 1.0)
        left.plot(
            HOSTS, [n * per for n in HOSTS], "--", color=colour, linewidth=1, label=f"{TITLES[key]}: N × 1 process"
        )
        left.plot(HOSTS, [min(n * per, ceiling) for n in HOSTS], "-o", color=colour,
                  label=f"{TITLES[key]}: capped by the database rate seen")  # fmt: skip
        left.plot([2], [model["two"][key]], "x", color=colour, markersize=10, label=f"{TITLES[key]}: measured, 2")
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.set_xticks(HOSTS, [str(n) for n in HOSTS])
    left.set_xlabel("API processes (one core each)")
    left.set_ylabel("requests/s")
    left.set_title("API hosts")
    left.legend(fontsize=7)
    left.grid(True, which="both", alpha=0.3)
    per_worker = model["claims_2_workers"] / 2
    right.plot(HOSTS, [m * per_worker for m in HOSTS], "-o", color="#2ca02c", label="claims: M × measured per worker")
    right.axhline(
        model["db_seen"] / JOB_TRIPS,
        color="grey",
        linestyle=":",
        label=f"database rate seen ÷ {JOB_TRIPS} round trips a job",
    )
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xticks(HOSTS, [str(n) for n in HOSTS])
    right.set_xlabel("worker processes")
    right.set_ylabel("trivial jobs/s")
    right.set_title("Worker hosts")
    right.legend(fontsize=7)
    right.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _inline_note(section: dict[str, Any]) -> list[str]:
    req = section["requests"]
    if "jobgate-1-inline" not in req:
        return [""]
    inline, pooled, ref = req["jobgate-1-inline"], req["jobgate-1"], req["E_pg"]
    return [
        "",
        f"- **The thread hop is most of the gap to E_pg**: the same process with `JOBGATE_INLINE_HOT_PATH=on` "
        f"answers GetJobStatus at {inline[STATUS]['rps']:,.0f}/s ({inline[STATUS]['rps'] / ref[STATUS]['rps']:.2f}× "
        f"E_pg; default {pooled[STATUS]['rps']:,.0f}/s) but CancelJob at only {inline[CANCEL]['rps']:,.0f}/s "
        f"(default {pooled[CANCEL]['rps']:,.0f}/s): inline, each commit's WAL flush holds the event loop, while "
        "threads let PostgreSQL group the commits. It is not the PostgreSQL default for that reason, and because "
        "with the database a network hop away, or a CancelJob waiting for a row a runner holds, every request of "
        "the process would wait. Worth it only with PostgreSQL near (sub-millisecond round trips) and a load of "
        "mostly status reads; the lever that would keep both is running the reads inline and the writes in "
        "threads (not built).",
        "",
    ]


def _scaling_doc(results: dict[str, Any], section: dict[str, Any], model: dict[str, Any]) -> str:
    per, two, trips = model["per_process"], model["two"], model["statements"]
    claims = section.get("claims", {})
    machine = results.get("machine", {})
    rates = ", ".join(f"{case} {rate:,.0f}" for case, rate in claims.get("jobs_per_s", {}).items())
    cancel_pg = {key: case for key, case in results.get("cancel", {}).get("cases", {}).items() if "postgresql" in key}
    lines = [
        "# Scaling jobgate on one PostgreSQL",
        "",
        "Generated by `python -m bench.run --only postgres` (bench/scaling.py) from the figures it measured; "
        "re-run it instead of editing. Measured on "
        f"{machine.get('cpu', 'this machine')} with {machine.get('cores', '?')} cores, PostgreSQL "
        f"{machine.get('postgresql', '?')} on the same box (it shares the cores with jobgate and the load "
        "generator: every database figure here is a floor). Load average at the end: "
        f"{section.get('load1_end', 0):.2f}.",
        "",
        "![capacity](scaling.png)",
        "",
        "## What one process does",
        "",
        f"- One `jobgate serve` process (one core): GetJobStatus **{per[STATUS]:,.0f}/s**, CancelJob "
        f"**{per[CANCEL]:,.0f}/s** at c={section['connections']}; two (`--workers 2`): {two[STATUS]:,.0f}/s and "
        f"{two[CANCEL]:,.0f}/s.",
        f"- Each GetJobStatus costs the database {trips[STATUS]} round trips, each CancelJob {trips[CANCEL]} "
        "(GetJobStatus: the pool's pre-ping and one SELECT, in autocommit; CancelJob: pre-ping, BEGIN, SELECT, "
        "the compare-and-set UPDATE, the history INSERT, COMMIT; see *Measured* below).",
        f"- Two worker processes drain trivial jobs at **{model['claims_2_workers']:,.0f} jobs/s** (best "
        f"measured setting; all: {rates}).",
    ]
    if cancel_pg:
        lines.append(
            "- Cancel → Cancelled: "
            + "; ".join(
                f"{case['title']}: p50 {case['p50_ms']} ms, p99 {case['p99_ms']} ms" for case in cancel_pg.values()
            )
            + " (LISTEN/NOTIFY between processes)."
        )
    lines += [
        "",
        *_inline_note(section),
        "## N API hosts, M worker hosts",
        "",
        "API processes share nothing but the database, so N of them (one per core) deliver about N × the "
        "one-process figure until the database is the bottleneck. Requests/s the database sustains ≈ "
        "(round trips/s it sustains) ÷ (round trips per request); the largest rate seen here, "
        f"**{model['db_seen']:,.0f} round trips/s**, is a floor (2 shared cores).",
        "",
        "| API processes | GetJobStatus/s (≤) | CancelJob/s (≤) | connections at default pool (≤) |",
        "|---|---|---|---|",
    ]
    for n in HOSTS:
        cap = {key: min(n * per[key], model["db_seen"] / trips[key]) for key in (STATUS, CANCEL)}
        lines.append(f"| {n} | {cap[STATUS]:,.0f} | {cap[CANCEL]:,.0f} | {n * POOL} |")
    per_worker = model["claims_2_workers"] / 2
    lines += [
        "",
        f"Worker processes: each drains about {per_worker:,.0f} trivial jobs/s here; real jobs take as long as their "
        f"task, so M workers × R runners run M × R jobs at once and the database sees about {JOB_TRIPS} round trips "
        "per job (libpq trace: the claim and the finish each pre-ping, BEGIN, one statement that moves the job "
        "and writes its history row, COMMIT; plus one read) and two WAL flushes, plus a heartbeat per runner per "
        "second and a state poll per process every 50 ms while it holds jobs.",
        "",
        "## Where the bottleneck moves",
        "",
        "1. **CPU per API process** first: a process is one core (Python); add processes (`--workers`, hosts).",
        "2. **Database round trips/statements per second** next: every request is 2–6 round trips and every "
        "write a WAL flush (commits group under concurrency). Watch PostgreSQL's CPU and `pg_stat_database` "
        "`xact_commit` rate; faster disks (WAL fsync) lift CancelJob, more cores lift both.",
        "3. **Connections**: each process may hold pool + overflow + 2 (LISTEN, NOTIFY) connections; with the "
        f"defaults {POOL}. Keep Σ ≤ `max_connections` ({section.get('max_connections', '?')} here) minus reserved; "
        "beyond ~100 connections put PgBouncer (transaction mode) in front, with `JOBGATE_DIRECT_DATABASE_URL` "
        "for the 2 session connections per process (README, Scale-out).",
        "",
        "## Measured (the PostgreSQL section of the bench)",
        "",
        *performance_lines(results),
        "",
        "## What to watch in `/metrics` as it approaches",
        "",
        "- `jobgate_request_seconds{dialect,status}`: p99 rising at flat request rate = a process is CPU-bound "
        "(add processes) or waits on the database (check the database first).",
        '- `jobgate_jobs{state="Submitted"}` growing while `…{state="Executing"}` stays at the runner count = '
        "workers saturated (add workers); Executing below the runner count with Submitted growing = claims are "
        "slow (database).",
        "- `rate(jobgate_transitions_total[1m])`: the job write rate the database carries (× ~2 statements).",
        '- `jobgate_transitions_total{action="fail"}` and `{action="requeue"}` rising = runners dying or '
        "losing their heartbeat (database unreachable, connection limit hit).",
        '- `jobgate_db_connections{state="in_use"}` near `size` + `overflow`: requests and runners wait for a '
        "connection (raise the pool, within the connection budget above).",
        "- `jobgate_peer_listening` 0 for more than a second or two: cross-process cancels fall back to polling "
        '(`JOBGATE_CANCEL_POLL_S`); `jobgate_peer_messages{direction="heard"}` flat while other processes send: '
        "notifications are not arriving.",
        "- Beside jobgate: PostgreSQL `numbackends` vs `max_connections`, `xact_commit` rate, and CPU.",
        "",
    ]
    return "\n".join(lines)
