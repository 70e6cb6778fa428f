# jobgate — `make run` serves on http://127.0.0.1:8080, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint wsdl bench mutate clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "jobgate needs Python 3.11 (Spyne 2.14 breaks on 3.12+)"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,postgres]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/jobgate serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench alembic
	$(BIN)/ruff check src tests bench alembic
	$(BIN)/mypy
	$(BIN)/lint-imports

wsdl: $(STAMP)
	$(BIN)/python -W ignore -m jobgate.dialects.documents wsdl

# Mutation testing of domain/, services/ and store/ ([tool.mutmut] in pyproject.toml): one worker, so that
# it stays out of the way of everything else on a small machine; docs/TESTING.md has the score.
mutate: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[mutate]'
	$(BIN)/mutmut run --max-children 1
	$(BIN)/mutmut export-cicd-stats && cat mutants/mutmut-cicd-stats.json && echo

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants
