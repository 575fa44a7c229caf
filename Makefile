# The two commands a newcomer runs: `make demo` (set up and serve the demo city) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OSM ?=
PORT ?=
PYTEST_ARGS ?=

.PHONY: demo setup test system venv node lint readme clean

demo: setup
	scripts/with-db.sh $(BIN)/geoplatform serve $(if $(PORT),--port $(PORT))

setup: system venv node
	scripts/with-db.sh $(BIN)/geoplatform db upgrade
	$(if $(OSM),scripts/with-db.sh $(BIN)/geoplatform base load-osm $(OSM))
	scripts/with-db.sh $(BIN)/geoplatform demo

test: system venv node lint
	scripts/with-db.sh $(BIN)/pytest $(PYTEST_ARGS)

# Style, formatting and the direction of dependencies (.importlinter), before the suite.
lint: venv
	$(BIN)/ruff check geoplatform tileserver layers migrations tests bench
	$(BIN)/ruff format --check geoplatform tileserver layers migrations tests bench
	$(BIN)/lint-imports

readme: venv
	$(BIN)/python scripts/update-readme-settings.py

system:
	scripts/install-system.sh

venv: $(VENV)/.installed

# Node packages exactly as package-lock.json pins them: MapLibre GL JS, which the map site serves
# from node_modules, and MapLibre's style validator, which the tests run.
node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

clean:
	rm -rf $(VENV) var build *.egg-info node_modules
