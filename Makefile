# The README's commands. Each one installs what it needs into .venv first.
.PHONY: demo test lint matrix

demo:
	@scripts/bootstrap
	.venv/bin/python examples/demo.py

# Four processes on two cores: most tests wait on workers, brokers and databases, not the CPU.
test:
	@scripts/bootstrap
	.venv/bin/python -m pytest -n 4 --dist loadfile

lint:
	@scripts/bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Oldest and newest supported FastAPI, Celery, arq on Python 3.11 and 3.13 (docs/testing.md).
matrix:
	@scripts/bootstrap
	.venv/bin/python scripts/matrix.py
