# Two commands do everything: `make figures` and `make test`.
# The venv is (re)built only when requirements.txt or pyproject.toml change (stamp file).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.bsnn-stamp
PROFILE ?= quick

.PHONY: all env figures test lint format notebooks bench peer clean-cache help
all: help

help:
	@echo "make figures   run the notebook series headless (profile $(PROFILE)) -> figures/, results/, runs/"
	@echo "make test      lint (ruff) and run the test suite"
	@echo "make format    format the code (ruff) and re-sync the notebooks with their .py twins"
	@echo "make bench     speed suite (benchmarks/)"
	@echo "make peer      install SpikingJelly 2.0.0 (no deps) and run the peer check (benchmarks/)"
	@echo "make env       create/refresh the pinned .venv only"

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

figures: $(STAMP)
	$(PY) -m bsnn_lib workbook --profile $(PROFILE)

test: lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(MAKE) notebooks

# the .py twin (jupytext percent format) is the file to edit; this writes its .ipynb pair
notebooks: $(STAMP)
	cd notebooks && for f in 0*.py; do ../$(PY) -m jupytext --sync "$$f" -q; done

bench: $(STAMP)
	$(PY) benchmarks/speed.py

SJ_PIN := spikingjelly==2.0.0
peer: $(STAMP)
	$(PY) -m pip install -q --no-deps $(SJ_PIN) loguru==0.7.3
	$(PY) benchmarks/peer_spikingjelly.py

clean-cache:
	rm -rf data/cache data/checkpoints runs
