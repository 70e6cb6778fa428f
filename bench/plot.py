"""docs/perf-throughput.png: req/s and p99 against concurrency, jobgate beside the reference configs."""

from pathlib import Path
from typing import Any, Final

from bench.plan import workloads

STYLE: Final = {  # config → (colour, marker); jobgate drawn thick
    "jobgate": ("#d62728", "o"),
    "jobgate-quiet": ("#ff9896", "o"),
    "A": ("#7f7f7f", "s"),
    "D": ("#1f77b4", "^"),
    "D2": ("#17becf", "v"),
    "E": ("#2ca02c", "D"),
}


def throughput(section: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [w for w in workloads() if w.key in section["results"]]
    fig, axes = plt.subplots(len(shown), 2, figsize=(11, 3.4 * len(shown)), squeeze=False)
    for row, w in zip(axes, shown, strict=True):
        by_c = section["results"][w.key]
        concs = sorted(by_c, key=int)
        for config in section["configs"]:
            colour, marker = STYLE.get(config, ("black", "x"))
            width = 2.6 if config == "jobgate" else 1.2
            xs = [int(c) for c in concs if config in by_c[c]]
            for ax, field in zip(row, ("rps", "p99_ms"), strict=True):
                ys = [by_c[c][config][field] for c in concs if config in by_c[c]]
                ax.plot(xs, ys, marker=marker, color=colour, linewidth=width, label=config)
        for ax, label in zip(row, ("req/s (median)", "p99 latency, ms (median)"), strict=True):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks([int(c) for c in concs], [str(c) for c in concs])
            ax.set_xlabel("concurrent connections")
            ax.set_ylabel(label)
            ax.set_title(w.title, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
