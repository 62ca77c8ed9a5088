# optbot — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# pytest-xdist workers: `auto` is one per core. Modules stay on one worker (--dist loadscope) so a
# module-scoped fixture (one simulator or one demo day shared by its tests) runs once.
PYTEST_WORKERS ?= auto

.PHONY: demo test lint typecheck pytest bench soak install dev clean sample-archive sample-store

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

# The standing campaign: kill -9 with orders in flight, each fault class against `optbot sim serve` +
# `optbot run --mode live`, an unattended simulated week, fuzzed frames and malformed replies; ends with
# one figures table and exits non-zero when a target is missed. The default size takes about 25 minutes
# on 2 cores; OPTBOT_SOAK_ORDER_SEEDS (3), OPTBOT_SOAK_KILLS (60), OPTBOT_SOAK_WEEK_DAYS (5) and
# OPTBOT_SOAK_SPEED (replay speed, 250) size it. Tests, not files, are spread over the workers: the
# order campaign's seeds and the fault classes would otherwise queue up on one worker each.
soak: $(DEV_STAMP)
	$(BIN)/pytest -m soak -p no:timeout --durations=25 -n $(PYTEST_WORKERS) --dist load

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

# The bundled data root's index and INDIA VIX history (daily, 15-minute, 1-minute), imported from the
# sample CSVs (history older than the retention windows is kept: these are imports).
sample-store: $(STAMP)
	$(BIN)/optbot data import --data $(SAMPLE_STORE) --symbol NIFTY \
		$(SAMPLE)/daily/nifty50_daily_merged_2016-09-15_to_2025-09-10.csv \
		$(SAMPLE)/intraday/nifty50_15min_2015-01-09_to_2024-12-31.csv \
		$(SAMPLE)/intraday/nifty50_1min_yf_2025-09-04_to_2025-09-10.csv
	$(BIN)/optbot data import --data $(SAMPLE_STORE) --symbol BANKNIFTY \
		$(SAMPLE)/daily/banknifty_daily_merged_2016-09-15_to_2025-09-10.csv
	$(BIN)/optbot data import --data $(SAMPLE_STORE) --symbol "INDIA VIX" \
		$(SAMPLE)/daily/indiavix_daily_merged_2015-01-01_to_2025-09-10.csv \
		$(SAMPLE)/intraday/indiavix_15min_2015-01-09_to_2024-12-31.csv
	rm -rf $(SAMPLE_STORE)/reports

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache
