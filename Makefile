# The two commands: `make run` and `make test`. Everything else here serves them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL := postgres://postgres@127.0.0.1:5432/inbox
TEST_REDIS_URL := redis://127.0.0.1:6379/0

.PHONY: run test lint typecheck pytest services browser messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

## make run: set up, migrate, create the demo workspace, serve on http://127.0.0.1:8000
run: $(VENV)/.runtime
	$(BIN)/python -m config.create_database
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup
	$(BIN)/python manage.py serve --with-fake-platforms

## make test: set up, lint, type-check, and run the whole suite on PostgreSQL and Redis
test: $(VENV)/.dev browser services lint typecheck pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy .

services: $(VENV)/.dev
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/python -m tests.check_services

# Debian packages the tests drive for real: chromium (browser tests), dovecot-imapd (the IMAP
# server the e-mail connector is tested against) and gettext (the translation catalogs' checks).
# Installed only when missing.
browser:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages for the tests:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

pytest: $(VENV)/.dev
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	CELERY_QUEUE=$${CELERY_QUEUE:-inbox-test} CHANNEL_LAYER_PREFIX=$${CHANNEL_LAYER_PREFIX:-inbox-test} \
	DATABASE_CONN_MAX_AGE=0 INBOX_REQUIRE_BROWSER=1 \
		$(BIN)/pytest $(PYTEST_ARGS)
	@# make run's embedded mode (SQLite, no Redis) takes the portable ingest path and searches by
	@# substring: keep both working.
	env -u DATABASE_URL -u REDIS_URL INBOX_VAR_DIR=$$(mktemp -d) \
		$(BIN)/pytest -q -p no:cacheprovider tests/inbox/test_ingest.py tests/channels_integrations/test_polling.py \
			tests/inbox/test_workspace_list.py tests/inbox/test_conversation_actions.py \
			tests/moderation/test_pipeline.py tests/moderation/test_crisis.py \
			tests/moderation/test_moderation_queue.py tests/inbox/test_reports.py

## make messages: extract every marked string into the catalogs and compile them (needs GNU gettext)
messages: $(VENV)/.dev
	$(BIN)/python manage.py makemessages -l de -d django --add-location=file --no-obsolete \
		--ignore=.venv --ignore=staticfiles --ignore=var --ignore=bench --ignore=tests
	$(BIN)/python manage.py makemessages -l de -d djangojs --add-location=file --no-obsolete \
		--ignore=.venv --ignore=staticfiles --ignore=var --ignore=node_modules
	@# No creation date in the headers: a run that changes no string changes no file.
	sed -i '/^"POT-Creation-Date: /d; /^"Report-Msgid-Bugs-To: /d' locale/de/LC_MESSAGES/*.po
	$(BIN)/python manage.py compilemessages -l de --ignore=.venv

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache staticfiles
