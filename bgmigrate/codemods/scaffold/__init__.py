"""``rewrite --backend``: the project files around the code that a queue needs.

One module per step, each a pure function from the project's files to edits and checklist
lines: ``settings`` (``[tool.bgmigrate.settings]``), ``dependencies`` (``bgmigrate[backend]``),
``lifespan`` (``bgmigrate.lifespan`` in the FastAPI app) and ``compose`` (Redis and a worker
service). Every step is idempotent: run on its own output it changes nothing.
"""
