"""Static side of bgmigrate: find, audit and rewrite every FastAPI ``BackgroundTasks`` use.

- ``discovery``/``gitignore``/``config``: which files, and ``[tool.bgmigrate]``;
- ``finder`` (per file, stdlib ``ast``, run in worker processes) and ``project`` (cross-file
  facts: re-exports, helpers, task definitions);
- ``audit`` with one module per rule in ``rules`` (``BGM1xx``), reported by ``reporters``;
- ``plan`` and ``rewriter`` (libcst, only for files that change), written by ``writer``.

``scan`` needs only the standard library; ``rewrite`` needs the ``codemod`` extra (libcst).
"""
