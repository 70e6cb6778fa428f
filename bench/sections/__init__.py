"""One module per part of the benchmark; each exposes `run(ctx) -> dict` (JSON-ready results)."""
