# descent: `make demo` trains on the bundled digits data set; `make test` runs the test suite,
# `make test-fast` its unit tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint check-protos protos bench bench-gradcheck clean

# The venv is rebuilt when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/descent train --dataset digits --workers 2

# The whole suite (unit, integration, e2e): ~6 min on 2 cores.
test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

# The unit tests alone (no Ray, no server process): under a minute, for while editing.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -q tests/unit

lint: $(BIN)/.installed
	$(BIN)/ruff check .

check-protos: $(BIN)/.installed
	$(BIN)/python -m proto.codegen --check

protos: $(BIN)/.installed
	$(BIN)/python -m proto.codegen

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/e2e.py

bench-gradcheck: $(BIN)/.installed
	$(BIN)/python benchmarks/gradcheck.py

clean:
	rm -rf $(VENV) .pytest_cache
