"""A/B: several jobgate configurations (settings, or another build's source tree) beside reference servers,
one workload at one concurrency, repetitions interleaved. Not part of PERFORMANCE.md: a tool for one
question, e.g. what the access log costs on this commit and on an older one, measured in one run.

    python -m bench.ab --jobgate default: --jobgate 'off:JOBGATE_ACCESS_LOG=false,JOBGATE_LOG_LEVEL=warning' \\
        --jobgate 'old:src=/tmp/old/src' --duration 4 --reps 5

A configuration is `NAME:` plus comma-separated `VAR=VALUE` settings (added to the database and data
directory every jobgate gets); `src=DIR` runs the `jobgate` package found in DIR (another build's `src/`,
e.g. `git archive <rev> | tar -x -C DIR`) instead of this checkout's.
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from bench import machine, store
from bench.load import Sample, Summary
from bench.machine import SERVER_CPU
from bench.plan import BENCH_USER, Plan, workload, workloads
from bench.runs import Context, measure, rotated, say
from bench.servers import Server, jobgate_env, running, start_all, start_jobgate, start_reference


def parse_config(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition(":")
    pairs = [item.split("=", 1) for item in rest.split(",") if item]
    if not name or any(len(pair) != 2 for pair in pairs):
        raise argparse.ArgumentTypeError(f"expected NAME:[VAR=VALUE,...], got {text!r}")
    return name, {key: value for key, value in pairs}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobgate", type=parse_config, action="append", required=True, help="NAME:[VAR=VALUE,...]")
    parser.add_argument("--reference", action="append", help="reference configs beside them (default: E)")
    parser.add_argument("--workload", default="casjobs-soap-status", choices=[w.key for w in workloads() if w.request])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=machine.REPO / "bench" / "out" / "ab.json")
    return parser.parse_args(argv)


def starters(ctx: Context, db: Path, args: argparse.Namespace) -> dict[str, Callable[[], Server]]:
    found: dict[str, Callable[[], Server]] = {}
    for name, settings in args.jobgate:
        extra = dict(settings)
        src = extra.pop("src", None)
        env = jobgate_env(store.sqlite_url(db), ctx.work / f"data-{name}", **extra)
        if src:
            env["PYTHONPATH"] = str(Path(src).resolve())
        found[name] = partial(start_jobgate, f"ab-{name}", env, ctx.logs, SERVER_CPU)
    for config in args.reference or ["E"]:
        found[config] = partial(start_reference, config, db, BENCH_USER, ctx.logs, SERVER_CPU)
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    machine.require_tools()
    plan = Plan(duration_s=args.duration, reps=args.reps)
    work = Path(tempfile.mkdtemp(prefix="jobgate-ab-"))
    (work / "logs").mkdir()
    print(f"scratch in {work}; load average {machine.load_average()}", flush=True)
    ctx = Context(plan, work, work / "logs", store.make_template(work / "template.db", work / "logs"))
    db = ctx.store_copy("ab")
    store.seed_executing(db, 1, plan.jobs)
    servers = start_all(starters(ctx, db, args))
    chosen = workload(args.workload)
    samples: dict[str, list[Sample]] = defaultdict(list)
    with running(*servers.values()):
        for rep in range(plan.reps):
            for name in rotated(tuple(servers), rep):
                sample = measure(ctx, servers[name], chosen, args.connections, db, plan.jobs)
                samples[name].append(sample)
                say(f"rep {rep + 1} {name:<12}", sample)
    shutil.rmtree(work, ignore_errors=True)  # stores and server logs (with their access lines)
    summaries = {name: Summary.of(found) for name, found in samples.items()}
    print(f"\n{chosen.title}, c={args.connections}, {plan.reps} × {plan.duration_s} s (medians)")
    references = args.reference or ["E"]
    for name, summary in summaries.items():
        ratios = "  ".join(f"×{ref} {_paired(samples[name], samples[ref]):.3f}" for ref in references)
        print(
            f"  {name:<12} {summary.rps:>8,.0f} req/s ({summary.spread:.0%})  {1e6 / summary.rps:7.1f} µs/req  "
            f"p50 {summary.p50_ms:.2f} p99 {summary.p99_ms:.1f} ms  {ratios}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        "machine": machine.facts(),
        "results": {name: asdict(summary) for name, summary in summaries.items()},
    }
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"results: {args.out}")
    return 0


def _paired(ours: list[Sample], theirs: list[Sample]) -> float:
    """The median over repetitions of ours/theirs within each repetition (runs of one rep are neighbours)."""
    return statistics.median(a.rps / b.rps for a, b in zip(ours, theirs, strict=True))


if __name__ == "__main__":
    sys.exit(main())
