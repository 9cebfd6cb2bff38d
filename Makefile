# Two commands set up a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# The PyTorch build: TORCH=cpu (the default) installs torch==2.13.0 as pinned below; any other value is a CUDA
# variant of the PyTorch index, e.g. `make install TORCH=cu126` installs torch==2.13.0+cu126 from
# https://download.pytorch.org/whl/cu126 (the variants it has for 2.13.0 are listed at
# https://download.pytorch.org/whl/torch/). The choice is kept in $(VENV)/.torch, so a later `make test` or
# `make demo` keeps it, and another TORCH reinstalls torch.
TORCH ?= $(shell cat $(VENV)/.torch 2>/dev/null || echo cpu)
ifeq ($(TORCH),cpu)
TORCH_PIP := torch==2.13.0
else
TORCH_PIP := torch==2.13.0+$(TORCH) --index-url https://download.pytorch.org/whl/$(TORCH)
endif
STAMP := $(VENV)/.installed-$(TORCH)

.PHONY: install demo test lint bench bench-long tune clean

install: $(STAMP)

# torch first, from the build pinned here: a plain `torch` requirement would pull PyPI's default build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIP)
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/python -m pip install --quiet -e '.[dev]'  # setuptools' editable-mode notice
	rm -f $(VENV)/.installed $(VENV)/.installed-*
	echo $(TORCH) > $(VENV)/.torch
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rom train

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check rom_cli tests scripts

bench: $(STAMP)
	$(BIN)/python scripts/bench_squad.py --profile cpu_small --data-root ../shared/data

# ~66 min on a 2-core CPU (AMD EPYC, bf16): long enough for the reader to learn, a learning curve, the reranked hybrid and
# the separate-reader peer (3 seeds); the other ROM seeds: add `--name squad-cpu_long-seed43 --systems rom_full trainer.seed=43`
bench-long: $(STAMP)
	$(BIN)/python scripts/bench_squad.py --profile cpu_long --data-root ../shared/data

tune: $(STAMP)
	$(BIN)/python scripts/tune_squad.py --profile cpu_small --data-root ../shared/data

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
