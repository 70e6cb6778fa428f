"""jobgate's benchmark harness (not part of the test suite): `python -m bench.run`, see docs/PERFORMANCE.md."""
