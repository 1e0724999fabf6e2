# Relais: API + embedded worker. Runs the migrations, then the server.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    RELAIS_MAPPINGS_DIR=/app/mappings RELAIS_DATABASE_URL=sqlite:////data/relais.db \
    RELAIS_LOG_JSON=true

WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY app ./app
COPY connectors ./connectors
COPY mappings ./mappings
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home /data relais \
    && mkdir -p /data && chown relais /data

USER relais
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["sh", "-c", "relais db upgrade && exec relais serve --host 0.0.0.0 --port 8000"]
