# The README's commands. Each one installs what it needs into .venv first.
.PHONY: demo test lint

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
