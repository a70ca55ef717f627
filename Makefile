# Two entry points a new user needs: `make chat` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: chat test lint install install-test clean container-smoke

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

chat: install
	$(BIN)/canishare db migrate -q
	$(BIN)/canishare chat

lint: install-test
	$(BIN)/ruff check bot tests $(wildcard bench) $(wildcard scripts/*.py)

test: install-test
	bash scripts/ensure-postgres
	bash scripts/ensure-chromium
	$(BIN)/ruff check bot tests $(wildcard bench) $(wildcard scripts/*.py)
	$(BIN)/canishare flows check
	$(BIN)/python -m pytest

# The image built daemonless (debootstrap base, buildah) and the stack run in it against the fakes,
# ending with `canishare doctor`: a few minutes, so not part of `make test`.
container-smoke: install-test
	bash scripts/container-smoke

clean:
	rm -rf $(VENV) data/*.db
