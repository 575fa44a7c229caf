# The two commands a newcomer runs: `make demo` (set up and serve the demo city) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OSM ?=
PORT ?=
PYTEST_ARGS ?=

.PHONY: demo setup test system venv lint readme clean

demo: setup
	scripts/with-db.sh $(BIN)/geoplatform serve $(if $(PORT),--port $(PORT))

setup: system venv
	scripts/with-db.sh $(BIN)/geoplatform db upgrade
	scripts/with-db.sh $(BIN)/geoplatform load-osm $(OSM)

test: system venv
	scripts/with-db.sh $(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check geoplatform tileserver layers migrations tests bench
	$(BIN)/ruff format --check geoplatform tileserver layers migrations tests bench

readme: venv
	$(BIN)/python scripts/update-readme-settings.py

system:
	scripts/install-system.sh

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) var build *.egg-info
