"""jobgate's benchmark: `python -m bench.run [--quick] [--only SECTION]... [--duration S] [--reps N]`.

Starts jobgate and the reference servers itself, seeds their stores by bulk SQL, drives them with wrk,
and writes docs/PERFORMANCE.md with docs/perf-throughput.png (a --quick smoke run writes to bench/out/).
Results are kept in bench/results/<full|quick>.json, so `--only` re-runs one section and re-renders
the report with the other sections' previous numbers.
"""

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bench import machine, report, store
from bench.plan import Plan
from bench.runs import Context
from bench.sections import bulk, cache_expiry, cancel_latency, multicore, postgres, scaling, throughput

SECTIONS: Final[dict[str, Callable[[Context], dict[str, Any]]]] = {
    "throughput": throughput.run,
    "cancel": cancel_latency.run,
    "scaling": scaling.run,
    "bulk": bulk.run,
    "multicore": multicore.run,
    "cache-expiry": cache_expiry.run,
    "postgres": postgres.run,
}
RESULTS: Final = machine.REPO / "bench" / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s runs, 1 rep, small stores (~2-3 min)")
    parser.add_argument("--only", action="append", choices=sorted(SECTIONS), help="run only this section (repeatable)")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 10, quick 1)")
    parser.add_argument("--reps", type=int, help="interleaved repetitions (default 3, quick 1)")
    parser.add_argument("--report-dir", type=Path, help="where PERFORMANCE.md and the PNG go")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (stores, logs)")
    parser.add_argument("--report-only", action="store_true", help="re-render the report from stored results")
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    plan = Plan.quick_plan() if args.quick else Plan()
    plan = plan.with_duration(args.duration)
    if args.reps is not None:
        plan = replace(plan, reps=args.reps)
    return replace(plan, sections=tuple(args.only or SECTIONS))


def load_results(path: Path, fresh: bool) -> dict[str, Any]:
    if fresh or not path.is_file():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def save(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def run_sections(plan: Plan, ctx: Context, results: dict[str, Any], path: Path, command: str) -> list[str]:
    """Run each section; a failing section is reported and skipped, never silently dropped."""
    failed = []
    for name in plan.sections:
        print(f"\n== {name} ==", flush=True)
        started, commit = time.monotonic(), machine.jobgate_commit()
        try:
            section = SECTIONS[name](ctx)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            results[name] = {"failed": traceback.format_exc(limit=3)}
        else:
            section["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            section["plan"] = asdict(plan)
            section["jobgate_commit"] = commit  # the code the section's servers ran
            section["command"] = command
            results[name] = section
        print(f"   ({name}: {time.monotonic() - started:.0f} s)", flush=True)
        save(results, path)
    return failed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    machine.require_tools()
    plan = make_plan(args)
    mode = "quick" if plan.quick else "full"
    path = RESULTS / f"{mode}.json"
    report_dir = args.report_dir or (machine.REPO / ("bench/out" if plan.quick else "docs"))
    if args.report_only:
        written = report.write(load_results(path, fresh=False), report_dir)
        print(f"report: {', '.join(str(p) for p in written)}")
        return 0
    results = load_results(path, fresh=args.only is None)
    results["machine"] = machine.facts() | {"postgresql": store.postgres_version()}
    results["command"] = shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)])
    work = Path(tempfile.mkdtemp(prefix="jobgate-bench-"))
    (work / "logs").mkdir()
    print(f"jobgate bench ({mode}); scratch in {work}", flush=True)
    try:
        template = store.make_template(work / "template.db", work / "logs")
        failed = run_sections(plan, Context(plan, work, work / "logs", template), results, path, results["command"])
    except BaseException:
        print(f"stopped; scratch directory kept: {work}", file=sys.stderr)
        raise
    if failed or args.keep:
        print(f"scratch directory kept: {work}", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    written = report.write(results, report_dir)
    print(f"\nresults: {path}\nreport:  {', '.join(str(p) for p in written)}", flush=True)
    if failed:
        print(f"FAILED sections: {', '.join(failed)} (logs in {work / 'logs'})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
