"""The issue's targets ("Benchmarks and the hot path"), checked against a results dict."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: not measured in these results


def _rps(results: dict[str, Any], workload: str, c: int, config: str) -> float | None:
    try:
        return float(results["throughput"]["results"][workload][str(c)][config]["rps"])
    except (KeyError, TypeError):
        return None


def _logging_verdict(results: dict[str, Any], workload: str, floor: float, title: str) -> Verdict:
    """Out of the box against the same build with logging off: what the access log costs."""
    ours, quiet = _rps(results, workload, 16, "jobgate"), _rps(results, workload, 16, "jobgate-quiet")
    target = f"{title} c=16 out of the box ≥ {floor:g}× logging off"
    if ours is None or not quiet:
        return Verdict(target, "not measured", None)
    ratio = ours / quiet
    cost_us = 1e6 / ours - 1e6 / quiet
    return Verdict(
        target, f"{ratio:.2f}× ({ours:,.0f} vs {quiet:,.0f} req/s; {cost_us:+.0f} µs a request)", ratio >= floor
    )


def _p99(results: dict[str, Any], workload: str, c: int) -> float | None:
    try:
        return float(results["throughput"]["results"][workload][str(c)]["jobgate"]["p99_ms"])
    except (KeyError, TypeError):
        return None


def _ratio_verdict(
    results: dict[str, Any], workload: str, config: str, floor: float, title: str, against: str | None = None
) -> Verdict:
    ours, theirs = _rps(results, workload, 16, "jobgate"), _rps(results, against or workload, 16, config)
    target = f"{title} c=16 ≥ {floor:g}× {config}"
    if ours is None or not theirs:
        return Verdict(target, "not measured", None)
    ratio = ours / theirs
    return Verdict(target, f"{ratio:.2f}× ({ours:,.0f} vs {theirs:,.0f} req/s)", ratio >= floor)


def _p99_verdict(results: dict[str, Any], workload: str, c: int, ceiling_ms: float, title: str) -> Verdict:
    p99 = _p99(results, workload, c)
    target = f"{title} p99 ≤ {ceiling_ms:g} ms at c={c}"
    return Verdict(target, "not measured", None) if p99 is None else Verdict(target, f"{p99:.1f} ms", p99 <= ceiling_ms)


SOAP: Final = (("casjobs-soap-cancel", "SOAP CancelJob"), ("casjobs-soap-status", "SOAP GetJobStatus"))
BIRST: Final = (
    ("birst-soap-cancel", "Birst cancelJob", "casjobs-soap-cancel"),
    ("birst-soap-status", "Birst getJobStatus", "casjobs-soap-status"),
)
ARCGIS: Final = (  # ArcGIS job status: ≥ 0.8× E (issue 18), held against E's plain HTTP GET status
    ("arcgis-rest-status", "ArcGIS job status", "casjobs-get-status", 0.8),
    ("arcgis-rest-cancel", "ArcGIS cancel", "casjobs-soap-cancel", 0.6),
)


def _throughput(results: dict[str, Any]) -> Iterator[Verdict]:
    for workload, title in SOAP:
        yield _ratio_verdict(results, workload, "D", 1.0, title)
        yield _ratio_verdict(results, workload, "E", 0.6, title)
        yield _p99_verdict(results, workload, 16, 40.0, title)
        yield _p99_verdict(results, workload, 1, 5.0, title)
    yield _ratio_verdict(results, "casjobs-soap-status", "E", 0.9, "SOAP GetJobStatus")  # issue 21: the default
    yield _logging_verdict(results, "casjobs-soap-status", 0.95, "SOAP GetJobStatus")
    yield _ratio_verdict(results, "casjobs-get-status", "E", 0.8, "HTTP GET GetJobStatus")
    yield _ratio_verdict(results, "cisco-rest-cancel", "E", 0.8, "Cisco cancelrunning")
    yield _p99_verdict(results, "cisco-rest-cancel", 16, 40.0, "Cisco cancelrunning")
    yield _ratio_verdict(results, "transws-soap-cancel", "E", 0.6, "Trans-WS cancelJob", "casjobs-soap-cancel")
    yield _p99_verdict(results, "transws-soap-cancel", 16, 40.0, "Trans-WS cancelJob")
    for workload, title, against in BIRST:  # the references speak CasJobs: held against their CasJobs rows
        yield _ratio_verdict(results, workload, "E", 0.6, title, against)
        yield _p99_verdict(results, workload, 16, 40.0, title)
    for workload, title, against, floor in ARCGIS:
        yield _ratio_verdict(results, workload, "E", floor, title, against)
        yield _p99_verdict(results, workload, 16, 40.0, title)


def _multicore(results: dict[str, Any]) -> Iterator[Verdict]:
    ratios = results.get("multicore", {}).get("ratios")
    if not ratios:
        yield Verdict("two processes ≥ 1.6× one", "not measured", None)
        return
    for c, ratio in ratios.items():
        yield Verdict(f"two processes ≥ 1.6× one (GetJobStatus, c={c})", f"{ratio:.2f}×", ratio >= 1.6)


def _cancel(results: dict[str, Any]) -> Iterator[Verdict]:
    cases = results.get("cancel", {}).get("cases")
    if not cases:
        yield Verdict("cancel → Cancelled p99 ≤ 250 ms", "not measured", None)
        return
    for case in cases.values():
        p99 = case["p99_ms"]
        met = p99 <= 250 and not case["problems"]
        yield Verdict(f"cancel → Cancelled p99 ≤ 250 ms: {case['title']}", f"{p99:.0f} ms", met)


def _scaling(results: dict[str, Any]) -> Iterator[Verdict]:
    section = results.get("scaling", {})
    if "ratios" not in section:
        yield Verdict("latency ratio 1M/10k ≤ 1.2", "not measured", None)
        return
    small, large = section["sizes"][0], section["sizes"][-1]
    for workload, ratio in section["ratios"].items():
        name = "CancelJob" if "cancel" in workload else "GetJobStatus"
        target = f"p50 latency {large:,}/{small:,} jobs ≤ 1.2 ({name}, c={section['connections']})"
        yield Verdict(target, f"{ratio['p50']:.2f} (p99 {ratio['p99']:.2f})", ratio["p50"] <= 1.2)


def _bulk(results: dict[str, Any]) -> Iterator[Verdict]:
    section = results.get("bulk", {})
    if "median_s" not in section:
        yield Verdict("bulk cancel of 10k ≤ 2 s", "not measured", None)
        return
    n, seconds = section["jobs"], section["median_s"]
    met = seconds <= 2.0 * n / 10_000 and not section["problems"]
    yield Verdict(f"bulk cancel of {n:,} ≤ {2.0 * n / 10_000:g} s", f"{seconds:.2f} s", met)


CHECKS: Final[tuple[Callable[[dict[str, Any]], Iterator[Verdict]], ...]] = (
    _throughput,
    _multicore,
    _cancel,
    _scaling,
    _bulk,
)


def verdicts(results: dict[str, Any]) -> list[Verdict]:
    return [verdict for check in CHECKS for verdict in check(results)]
