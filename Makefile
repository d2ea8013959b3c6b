# Hotline: `make run` serves the demo, `make test` runs the whole suite (SQLite, then PostgreSQL).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: run test test-sqlite test-postgres lint install migrate seed bench clean translations screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/callcenter db upgrade

seed: migrate
	$(BIN)/callcenter seed-demo

run: seed
	CALLCENTER_CONFIG=$${CALLCENTER_CONFIG:-config/demo.toml} $(BIN)/callcenter serve

lint: install
	$(BIN)/ruff check .

test: install lint test-sqlite test-postgres

test-sqlite: install
	CALLCENTER_TEST_DATABASE_URL=sqlite $(BIN)/pytest -q

# Runs whenever a PostgreSQL server answers; .ci/run starts one first so CI never skips it.
test-postgres: install
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('host=127.0.0.1 port=5432 user=postgres dbname=postgres', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== PostgreSQL suite"; \
		CALLCENTER_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "not browser"; \
	else \
		echo "== PostgreSQL not reachable on 127.0.0.1:5432: PostgreSQL suite skipped"; \
	fi

bench: install
	$(BIN)/python bench/sla_bench.py
	$(BIN)/python bench/paging_bench.py

# Console catalogs: extract the strings, rebuild hu/el .po and the committed .mo files.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_pgettext:1c,2 --no-location -o callcenter/translations/messages.pot .
	$(BIN)/python -m callcenter.translations.build

# README screenshots from the real app with demo data (needs chromium + chromium-driver).
screenshots: install
	$(BIN)/python bench/screenshots.py

clean:
	rm -rf $(VENV) var .pytest_cache
