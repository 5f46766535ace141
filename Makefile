# Shortcuts for dev.py, which needs nothing but Python 3.11+ (see the README).
PYTHON ?= python3

.PHONY: run test install lint bench

run:
	$(PYTHON) dev.py run

test:
	$(PYTHON) dev.py test $(PYTEST_ARGS)

install:
	$(PYTHON) dev.py install

lint: install
	.venv/bin/ruff check .
	.venv/bin/python manage.py makemigrations --check --dry-run

bench: install
	.venv/bin/python bench/run.py
