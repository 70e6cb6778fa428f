"""docs/PERFORMANCE.md from a results dict (bench/results/<mode>.json), plus the throughput plot."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from bench import plot, scaling
from bench.plan import workloads
from bench.sections.throughput import CONFIGS, JOBGATE, REFERENCES
from bench.targets import verdicts

CONFIG_NOTES: Final = {
    "jobgate": "the full stack as `jobgate serve` runs out of the box: only the port, the database and the data "
    "directory set (access log on at level info, 2 runners, inline hot path, fast lane)",
    "jobgate-quiet": "the same server with logging off: `JOBGATE_ACCESS_LOG=false JOBGATE_LOG_LEVEL=warning`",
    "A": "raw ASGI, read the body, constant reply (framework ceiling)",
    "D": "bare Spyne 2.14 Soap11 (HttpRpc for GET) + the same job statement, via a2wsgi (10 threads)",
    "D2": "D's Spyne app called inline on the event loop by a 30-line shim (no bridge)",
    "E": "hardened lxml parse + extract wsId/pw/jobId + the job statement inline (no Spyne)",
}
FOREIGN_CPU_LIMIT: Final = 0.25
IO_STALL_LIMIT: Final = 0.05
MARK: Final = {True: "**met**", False: "**not met**", None: "not measured"}


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _cell(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return "–"
    errors = f" · **{summary['errors']} errors**" if summary["errors"] else ""
    return f"{_num(summary['rps'])} ({summary['spread']:.0%}) · {summary['p50_ms']:.2f}/{summary['p99_ms']:.1f}{errors}"


def _ratio(
    results: dict[str, Any], workload: str, c: str, config: str, ours: str = "jobgate", against: str | None = None
) -> str:
    """`ours`'s req/s on `workload` over `config`'s on the same workload, or on `against` (the CasJobs workload
    a dialect the references do not speak is held against)."""
    mine, theirs = results.get(workload, {}).get(c, {}), results.get(against or workload, {}).get(c, {})
    if ours not in mine or config not in theirs or not theirs[config]["rps"]:
        return "–"
    return f"{mine[ours]['rps'] / theirs[config]['rps']:.2f}"


def _machine(results: dict[str, Any]) -> Iterator[str]:
    m = results.get("machine", {})
    libs = ", ".join(f"{k} {v}" for k, v in m.get("libs", {}).items())
    yield "| fact | value |\n|---|---|"
    yield f"| CPU | {m.get('cpu')} × {m.get('cores')} (kernel {m.get('kernel')}) |"
    yield f"| Python / SQLite / PostgreSQL | {m.get('python')} / {m.get('sqlite')} / {m.get('postgresql')} |"
    yield f"| libraries | {libs} |"
    yield f"| load generator | {m.get('wrk')}, `-t1`, `--latency`, `--timeout 5s` |"
    yield f"| pinning | {m.get('pinning')} |"
    commits = {n: sec.get("jobgate_commit") for n, sec in results.items() if isinstance(sec, dict) and n != "machine"}
    per_section = ", ".join(f"{name} {commit}" for name, commit in commits.items() if commit)
    yield f"| jobgate commit measured | {per_section or m.get('jobgate_commit')} |"
    yield f"| load average at start (1/5/15 min) | {m.get('load_average_start')} |"


def _targets(results: dict[str, Any]) -> Iterator[str]:
    yield "| target | measured | verdict |\n|---|---|---|"
    for v in verdicts(results):
        yield f"| {v.target} | {v.measured} | {MARK[v.met]} |"


def _overview(section: dict[str, Any]) -> Iterator[str]:
    res = section["results"]
    yield "| workload | jobgate req/s · p50/p99 ms | ×A | ×D | ×D2 | ×E |\n|---|---|---|---|---|---|"
    for w in workloads():
        if w.request is None:
            yield f"| {w.title} | not yet implemented | | | | |"
            continue
        against = f" (× the references' {w.compared_to})" if w.compared_to else ""
        for ours in JOBGATE:
            title = w.title + against if ours == "jobgate" else "  ↳ same, logging off"
            ratios = " | ".join(_ratio(res, w.key, "16", cfg, ours, w.compared_to) for cfg in REFERENCES)
            yield f"| {title} | {_cell(res.get(w.key, {}).get('16', {}).get(ours))} | {ratios} |"


def _workload_table(section: dict[str, Any], key: str, title: str, against: str | None = None) -> Iterator[str]:
    by_c = section["results"].get(key, {})
    concs = sorted(by_c, key=int)
    yield f"### {title}\n"
    yield "| cfg | " + " | ".join(f"c={c}" for c in concs) + " |"
    yield "|---|" + "---|" * len(concs)
    for cfg in CONFIGS:
        yield f"| {cfg} | " + " | ".join(_cell(by_c[c].get(cfg)) for c in concs) + " |"
    for cfg in REFERENCES:
        ratios = (_ratio(section["results"], key, c, cfg, against=against) for c in concs)
        yield f"| *jobgate/{cfg}*{f' ({against})' if against else ''} | " + " | ".join(ratios) + " |"
    quiet = [_ratio(section["results"], key, c, "jobgate-quiet") for c in concs]
    yield "| *jobgate/jobgate-quiet* (logging's share) | " + " | ".join(quiet) + " |"
    others = [max((by_c[c][cfg].get("foreign_cpu", 0.0) for cfg in by_c[c]), default=0.0) for c in concs]
    yield "| *others' CPU (max)* | " + " | ".join(f"{x:.2f}" for x in others) + " |"
    yield from _rows_check(by_c, concs)
    yield ""


def _rows_check(by_c: dict[str, Any], concs: list[str]) -> Iterator[str]:
    """CancelJob: did every request really move a job? (rows moved / requests, summed over reps)"""
    cells = []
    for cfg in CONFIGS:
        samples = [s for c in concs for s in by_c[c].get(cfg, {}).get("samples", [])]
        if samples and samples[0].get("rows_changed") is not None:
            moved, asked = sum(s["rows_changed"] for s in samples), sum(s["requests"] for s in samples)
            wrapped = " (ids wrapped)" if any(s["wrapped"] for s in samples) else ""
            cells.append(f"{cfg} {moved:,}/{asked:,}{wrapped}")
    if cells:
        yield f"\nJobs moved Executing → Canceling / requests answered (all runs): {'; '.join(cells)}."


def _throughput(results: dict[str, Any]) -> Iterator[str]:
    section = results.get("throughput")
    if not section or "results" not in section:
        yield "Not measured in this run." if not section else f"**Failed:**\n```\n{section.get('failed')}\n```"
        return
    plan = section["plan"]
    yield (
        f"{plan['reps']} interleaved repetitions (configuration order rotated per rep) of {plan['duration_s']} s wrk "
        f"runs; {section['jobs']:,} Executing jobs in the store (every CancelJob moves a different one; the store is "
        "reset before each CancelJob run). Cells: median req/s (spread = (max−min)/median) · median p50/p99 ms. "
        "Each run is preceded by a short warm-up of GetJobStatus calls (fills jobgate's credential cache) and "
        "followed by a pause until the requests still in flight are done. *others' CPU*: CPUs' worth of time "
        "other processes on the machine used during the runs (bench/cpu.py; 0 on a quiet machine).\n"
    )
    yield "| cfg | what |\n|---|---|"
    yield from (f"| {cfg} | {CONFIG_NOTES[cfg]} |" for cfg in CONFIGS)
    yield (
        "\n#### At c=16, all dialects\n\njobgate as it runs out of the box; the row beneath each workload is the same "
        "server with logging off, so what the access log costs stays in view.\n"
    )
    yield from _overview(section)
    yield ""
    for w in workloads():
        if w.request is not None and w.key in section["results"]:
            yield from _workload_table(section, w.key, w.title, w.compared_to)
    yield "![throughput and p99 against concurrency](perf-throughput.png)\n"


def _cancel(results: dict[str, Any]) -> Iterator[str]:
    section = results.get("cancel", {})
    if "cases" not in section:
        yield "Not measured in this run."
        return
    yield (
        f"{section['plan']['cancel_jobs']} jobs per case, one at a time, {section['runners']} runner threads. "
        "Latency = the `cancel_done` history event's time − the wall-clock time the CancelJob request left the "
        "client; server side = `cancel_done` − `cancel` event.\n"
    )
    yield "| case | p50 ms | p99 ms | max ms | server side p50/p99 ms | CancelJob call p50 ms | problems |"
    yield "|---|---|---|---|---|---|---|"
    for case in section["cases"].values():
        problems = "; ".join(case["problems"][:3]) or "none"
        yield (
            f"| {case['title']} | {case['p50_ms']} | {case['p99_ms']} | {case['max_ms']} | "
            f"{case['server_p50_ms']}/{case['server_p99_ms']} | {case['request_p50_ms']} | {problems} |"
        )


def _scaling(results: dict[str, Any]) -> Iterator[str]:
    section = results.get("scaling", {})
    if "results" not in section:
        yield "Not measured in this run."
        return
    keys = list(section["ratios"])
    titles = {w.key: w.title for w in workloads()}
    yield f"c={section['connections']}, {section['plan']['reps']} interleaved repetitions per store size.\n"
    yield "| jobs in store | seeded in s | " + " | ".join(titles.get(k, k) for k in keys) + " | WAL MB · I/O stall |"
    yield "|---|---|" + "---|" * (len(keys) + 1)
    for size in section["sizes"]:
        cells = " | ".join(_cell(section["results"][str(size)][k]) for k in keys)
        yield f"| {size:,} | {section['seed_s'][str(size)]} | {cells} | {_io(section['results'][str(size)])} |"
    ratios = " | ".join(
        f"p50 {r['p50']:.2f} · p99 {r['p99']:.2f} · req/s {r['rps']:.2f}" for r in section["ratios"].values()
    )
    yield f"| *largest/smallest* | | {ratios} | |"
    yield (
        "\n*WAL MB*: size of the SQLite WAL file after the runs (its high-water mark); *I/O stall*: the largest "
        "share of one run during which every runnable task on the machine waited on I/O (Linux PSI)."
    )


def _io(by_workload: dict[str, Any]) -> str:
    samples = [s for summary in by_workload.values() for s in summary.get("samples", [])]
    if not any("wal_mb" in s for s in samples):
        return "–"
    wal = max((s.get("wal_mb") or 0.0 for s in samples), default=0.0)
    stall = max((s.get("io_stall", 0.0) for s in samples), default=0.0)
    return f"{wal:,.0f} · {stall:.0%}"


def _bulk(results: dict[str, Any]) -> Iterator[str]:
    section = results.get("bulk", {})
    if "median_s" not in section:
        yield "Not measured in this run."
        return
    yield (
        f"`JobService.cancel_many(admin, JobFilter(states={{Executing}}))` in process on SQLite: "
        f"{section['jobs']:,} jobs → Canceling in **{section['median_s']:.2f} s** (median of {section['seconds']} s). "
        f"Problems: {'; '.join(section['problems']) or 'none'}."
    )


def _multicore(results: dict[str, Any]) -> Iterator[str]:
    section = results.get("multicore", {})
    if "results" not in section:
        yield "Not measured in this run."
        return
    yield "CasJobs SOAP GetJobStatus; servers and wrk unpinned (they share the machine's CPUs).\n"
    yield "| c | 1 process | 2 processes (`--workers 2`) | ratio |\n|---|---|---|---|"
    for c, by in section["results"].items():
        yield f"| {c} | {_cell(by['1 process'])} | {_cell(by['2 processes'])} | {section['ratios'][c]:.2f}× |"


def _cache_expiry(results: dict[str, Any]) -> Iterator[str]:
    section = results.get("cache-expiry", {})
    if "results" not in section:
        yield "Not measured in this run."
        return
    yield (
        f"SOAP GetJobStatus at c={section['connections']}, one client (one wsId+pw) as everywhere here, with the "
        f"default credential-cache TTL and with a TTL of {section['short_ttl_s']:g} s (expires a few times per run).\n"
    )
    yield "| cache TTL | req/s · p50/p99 ms | max ms |\n|---|---|---|"
    for name, summary in section["results"].items():
        yield f"| {name} | {_cell(summary)} | {section['max_ms'][name]:,.0f} |"


def _oddities(results: dict[str, Any]) -> Iterator[str]:
    """Everything a reader must not miss: failed sections, errors, a busy machine, stalls."""
    for name, section in results.items():
        if isinstance(section, dict) and "failed" in section:
            yield f"- **Section {name} failed**; see the traceback in bench/results."
    found = list(_all_samples(results))
    for where, s in found:
        if s["non2xx"] or s["socket_errors"] or s.get("warmup_non2xx"):
            errors = f"{s['non2xx']} non-2xx, {s['socket_errors']} socket errors"
            yield f"- **{' '.join(where)}: {errors}** — those numbers are void."
    yield from _busy_machine([s for _, s in found], results.get("machine", {}).get("cores"))
    expiry = results.get("cache-expiry", {}).get("max_ms", {})
    if expiry.get("short", 0.0) > 1000:
        yield (
            f"- **Credential-cache expiry stalls the server**: with a short TTL the slowest request took "
            f"{expiry['short']:,.0f} ms (default TTL: {expiry.get('default', 0.0):,.0f} ms); "
            "see *Credential-cache expiry under load*."
        )
    yield from _io_stalls(found)
    loads = [s["load1"] for _, s in found]
    if loads:
        yield f"- 1-minute load average before the load runs: {min(loads):.2f} to {max(loads):.2f}."


def _busy_machine(samples: list[dict[str, Any]], cores: int | None) -> Iterator[str]:
    busy = sorted(s.get("foreign_cpu", 0.0) for s in samples if s.get("foreign_cpu", 0.0) > FOREIGN_CPU_LIMIT)
    if busy:
        yield (
            f"- **Shared machine**: during {len(busy)} of {len(samples)} load runs other processes used more than "
            f"{FOREIGN_CPU_LIMIT} CPU (up to {busy[-1]:.2f} of {cores}); those numbers are low and noisy, the "
            "ratios less so (every configuration ran under the same conditions)."
        )


def _io_stalls(found: list[tuple[tuple[str, ...], dict[str, Any]]]) -> Iterator[str]:
    """One line per section: the runs during which the machine stalled on I/O."""
    groups: dict[str, list[tuple[str, float]]] = {}
    for where, s in found:
        if s.get("io_stall", 0.0) >= IO_STALL_LIMIT:
            groups.setdefault(where[0], []).append((" ".join(where[1:]), s["io_stall"]))
    for group, runs in groups.items():
        which = ", ".join(dict.fromkeys(label for label, _ in runs))
        yield (
            f"- **I/O stall** in {len(runs)} {group} run(s) ({which}): up to {max(x for _, x in runs):.0%} of a "
            "run during which every runnable task on the machine waited on I/O."
        )


def _all_samples(results: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every wrk sample with where it came from (section, workload or size, concurrency, configuration)."""

    def walk(path: tuple[str, ...], node: Any) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
        if isinstance(node, dict) and "samples" in node:
            yield from ((path, sample) for sample in node["samples"])
        elif isinstance(node, dict):
            for key, child in node.items():
                yield from walk((*path, str(key)), child)

    for name in ("throughput", "scaling", "multicore", "cache-expiry"):
        yield from walk((name,), results.get(name, {}).get("results", {}))


def _commands(results: dict[str, Any]) -> str:
    """Each command that produced the sections shown, with the sections it produced."""
    by_command: dict[str, list[str]] = {}
    for name, section in results.items():
        if isinstance(section, dict) and "command" in section:
            by_command.setdefault(section["command"], []).append(name)
    if not by_command:
        return f"    {results.get('command', '?')}"
    return "\n".join(f"    {cmd}    # {', '.join(names)}" for cmd, names in by_command.items())


def render(results: dict[str, Any]) -> str:
    parts: list[tuple[str, Iterator[str]]] = [
        ("Targets", _targets(results)),
        ("Request throughput: jobgate beside the reference configurations", _throughput(results)),
        ("Cancel latency: CancelJob → Cancelled, runners on", _cancel(results)),
        ("Scaling with the store", _scaling(results)),
        ("Bulk cancel", _bulk(results)),
        ("Multi-core", _multicore(results)),
        ("Credential-cache expiry under load", _cache_expiry(results)),
        (
            "PostgreSQL: one and two processes beside E_pg, claims beside procrastinate",
            scaling.performance_lines(results),
        ),
        ("Machine", _machine(results)),
        ("Method notes", iter([METHOD])),
    ]
    odd = list(_oddities(results)) or ["- None found: no errors, no non-2xx, no failed section."]
    lines = [HEADER.format(commands=_commands(results)), "## Anomalies\n", *odd, ""]
    for title, body in parts:
        lines += [f"## {title}\n", *body, ""]
    return "\n".join(lines).rstrip() + "\n"


HEADER: Final = """# Performance

Generated by `bench/run.py` — do not edit by hand; re-run instead:

{commands}

(`make bench` runs the full benchmark, ~30 min; `python -m bench.run --only <section>` re-runs one
section and keeps the others; `--quick` is a 2–3 minute smoke run that writes to bench/out/.)
How the reference configurations are defined: shared/perf-ceiling.md; they are rebuilt here as small
stand-alone servers under bench/refs/ and measured in the same run as jobgate, so ratios hold even
when the machine's absolute speed moves.
"""


METHOD: Final = """- **Same work?** Not quite, on purpose: the reference servers do what shared/perf-ceiling.md defines.
  Their credential check is a dict look-up of (wsId, pw) — what a hit in jobgate's verified-credential
  cache costs, without the HMAC; their CancelJob is the single compare-and-set `UPDATE jobs SET
  state='Canceling', state_changed_at=?, version=version+1 WHERE id=? AND owner=? AND state IN
  ('Submitted','Executing')` with SQLAlchemy Core on the same SQLite file (WAL, synchronous=NORMAL), and
  GetJobStatus one `SELECT state … WHERE id=? AND owner=?`. jobgate also reads the job, checks the state
  table and the owner, and appends the `cancel` history event in the same transaction.
- **Load**: wrk walks jobId over a permutation of 1..N (bench/lua/jobs.lua), so every CancelJob of a run
  moves a different job; the "jobs moved / requests" line under each CancelJob table checks it (a few
  more moves than answers are the requests still in flight when wrk stopped).
- **Stores**: SQLite in a scratch directory, schema and users through `jobgate user add` (default argon2
  parameters), jobs and their `submit`/`start` history events by bulk SQL (bench/store.py), reset
  before each CancelJob run, after which the WAL is checkpointed and truncated: every run starts from the
  same file, and no server checkpoints the reset's or another server's writes while it is measured (all
  servers of a section share one store). After each CancelJob run the store is reset again, so no job stays
  Canceling past the default grace + margin (15 s), when jobgate's watchdog would fail it.
- **jobgate's settings**: as `jobgate serve` runs out of the box. Only `--port`, `JOBGATE_DATABASE_URL` and
  `JOBGATE_DATA_DIR` are set, so the access log is on (one line per request, to the server's log file),
  2 runner threads poll for work, the inline hot path (`auto`: on for SQLite) and the fast lane are on.
  Exceptions, each a configuration of its own: *jobgate-quiet* (logging off); the cancel-latency section's
  `serve` beside a `jobgate worker` (`JOBGATE_RUNNERS=0`); the cache-expiry section's short TTL.
- **What logging costs**: the *jobgate-quiet* rows and the *jobgate/jobgate-quiet* ratios. On a busy machine
  req/s moves more than that difference; `python -m bench.logcost` measures the CPU time per request in
  process (the log writer's thread included) with the access log on and off, and `python -m bench.ab`
  compares builds or settings in one interleaved run.
- **Percentiles**: wrk 4.1 corrects for coordinated omission: after a run it adds, for every response
  slower than twice the mean interval between one connection's requests, the samples a client sending at
  that steady rate would have seen (`stats_correct` in wrk's src/stats.c). So one 70 ms stall in a c=1 run
  at 1,500 req/s adds ~100 samples between 0.7 and 70 ms, and p99 tracks the longest stalls, not the
  typical request; the mean × requests can exceed the run's length for that reason.
- **Errors**: wrk counts every HTTP status ≥ 400 (SOAP faults are 500) and socket errors; any of them
  is listed under *Anomalies* and marked in the cell. A benchmark of errors is worthless.
"""


def write(results: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    doc = directory / "PERFORMANCE.md"
    doc.write_text(render(results))
    written = [doc]
    if "results" in results.get("throughput", {}):
        written.append(plot.throughput(results["throughput"], directory / "perf-throughput.png"))
    written += scaling.write(results, directory)
    return written
