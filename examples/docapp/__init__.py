"""docapp: a small AI-agent style FastAPI service that still uses ``BackgroundTasks``.

This is the *before* picture that ``bgmigrate scan`` and ``bgmigrate rewrite`` work on.
"""
