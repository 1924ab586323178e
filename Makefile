# Two commands do all the set-up on a fresh clone:
#   make run    virtualenv + install + index of corpus/ + the chat app on http://127.0.0.1:7860
#   make test   virtualenv + install + the whole test suite (slow tests included)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup browser index run test test-fast bench lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,milvus]'
	touch $(STAMP)

setup: $(STAMP)

index: setup
	$(BIN)/python index_build.py

run: index
	$(BIN)/python app.py

# Browser tests drive Debian's chromium (Playwright's own download doesn't work offline);
# CJK fonts so that screenshots show Chinese. Needs root (CI runs as root).
browser:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || \
		(apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)

test: setup browser
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# Benchmarks on this machine (about 30 minutes; not part of the tests): results in
# bench/results/, tables in docs/benchmarks.md. Run it with nothing else busy.
bench: setup
	$(BIN)/python -m bench.retrieval
	$(BIN)/python -m bench.answer
	$(BIN)/python -m bench.trust
	$(BIN)/python -m bench.cmrc
	$(BIN)/python -m bench.milvus
	$(BIN)/python -m bench.embedders
	$(BIN)/python -m bench.build_speed
	$(BIN)/python -m bench.workers
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.faiss_types
	$(BIN)/python -m bench.soak
	$(BIN)/python -m bench.report

PY_SOURCES := qa tests bench app.py index_build.py

lint: setup
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)

format: setup
	$(BIN)/ruff format $(PY_SOURCES)
	$(BIN)/ruff check --fix $(PY_SOURCES)

clean:
	rm -rf .index .pytest_cache test-artifacts
