# optbot — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# pytest-xdist workers: `auto` is one per core. Modules stay on one worker (--dist loadscope) so a
# module-scoped fixture (one simulator or one demo day shared by its tests) runs once.
PYTEST_WORKERS ?= auto

.PHONY: demo test lint typecheck pytest bench soak install dev clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(DEV_STAMP)

install: $(STAMP)
dev: $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/optbot demo

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/pytest -m "not soak" -n $(PYTEST_WORKERS) --dist loadscope --durations=15

test: lint typecheck pytest

bench: $(DEV_STAMP)
	$(BIN)/pip install -q -e '.[bench]' || echo "bench extras unavailable; comparisons that need them are skipped"
	$(BIN)/python -m benchmarks

soak: $(DEV_STAMP)
	$(BIN)/pytest -m soak -p no:timeout -s

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache
