"""Plain helpers shared by every test tier; import them as `from support.wait import wait_until`.

tests/conftest.py sits in a folder without __init__.py, so pytest puts `tests/` on sys.path and
`support` is importable from any test module or conftest below it.
"""
