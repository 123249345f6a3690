# The README's commands. Each one installs what it needs into .venv first.
.PHONY: demo test lint matrix

demo:
	@scripts/bootstrap
	.venv/bin/python examples/demo.py

test:
	@scripts/bootstrap
	.venv/bin/python -m pytest

lint:
	@scripts/bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Oldest and newest supported FastAPI, Celery, arq on Python 3.11 and 3.13 (docs/testing.md).
matrix:
	@scripts/bootstrap
	.venv/bin/python scripts/matrix.py
