# optbot — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench soak install dev clean sample-archive

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
	$(BIN)/pytest -m "not soak"

test: lint typecheck pytest

bench: $(DEV_STAMP)
	$(BIN)/pip install -q -e '.[bench]' || echo "bench extras unavailable; comparisons that need them are skipped"
	$(BIN)/python -m benchmarks

soak: $(DEV_STAMP)
	$(BIN)/pytest -m soak -p no:timeout

# The bundled sample's option archive (data/sample/store/archive/) and its 2022-11 intraday
# index/futures bars, rebuilt from the vendor files in data/sample/ by the importers (idempotent).
SAMPLE := data/sample
SAMPLE_STORE := $(SAMPLE)/store
sample-archive: $(STAMP)
	$(BIN)/optbot data import --data $(SAMPLE_STORE) \
		$(SAMPLE)/options/nov2022_1min/*/*.csv.gz \
		$(SAMPLE)/options/bhavcopy_udiff_2025-01/*/*.csv \
		$(SAMPLE)/intraday/futures_1min_2022-11/*.csv
	$(BIN)/optbot data import --data $(SAMPLE_STORE) --symbol NIFTY \
		$(SAMPLE)/options/nifty_options_eod_2024-05-21_exp_2024-05-23.csv \
		$(SAMPLE)/intraday/nifty50_1min_nsechart_2022-11-01_to_2022-11-15.csv
	rm -rf $(SAMPLE_STORE)/reports

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache
