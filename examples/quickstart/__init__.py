"""quickstart: a FastAPI app already on bgmigrate, run by ``docker compose up``."""
