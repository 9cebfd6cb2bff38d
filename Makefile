# Two commands set up a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench tune clean

install: $(STAMP)

# torch first, from the CPU wheel pinned here: a plain `torch` requirement would pull a CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/python -m pip install --quiet -e '.[dev]'  # setuptools' editable-mode notice
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rom train

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check rom_cli tests scripts

bench: $(STAMP)
	$(BIN)/python scripts/bench_squad.py --profile cpu_small --data-root ../shared/data

tune: $(STAMP)
	$(BIN)/python scripts/tune_squad.py --profile cpu_small --data-root ../shared/data

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
