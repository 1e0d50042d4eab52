# Two commands do everything: `make figures` and `make test`.
# The venv is (re)built only when requirements.txt or pyproject.toml change (stamp file).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.bsnn-stamp
PROFILE ?= quick

.PHONY: all env figures test bench clean-cache help
all: help

help:
	@echo "make figures   run the notebook series headless (profile $(PROFILE)) -> figures/, results/, runs/"
	@echo "make test      run the test suite"
	@echo "make bench     speed suite (benchmarks/)"
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

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/speed.py

clean-cache:
	rm -rf data/cache data/checkpoints runs
