# One image for the example apps, the Celery and ARQ workers and the outbox relay
# (see docker-compose.yml).
FROM python:3.11-slim

WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app

COPY pyproject.toml README.md ./
COPY bgmigrate ./bgmigrate
RUN pip install --no-cache-dir ".[celery,arq,outbox]" "uvicorn>=0.30"
COPY examples ./examples

# Workers and the app run unprivileged (Celery warns when started as root).
RUN useradd --create-home --uid 1000 bgmigrate
USER bgmigrate

EXPOSE 8000
CMD ["uvicorn", "examples.quickstart.app:app", "--host", "0.0.0.0", "--port", "8000"]
