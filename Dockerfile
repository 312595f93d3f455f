# One image for both processes of the mall integrations backend:
#   web:    python -m entrypoints.cli serve   (the default CMD; migrates the schema on start)
#   worker: python -m entrypoints.cli worker  (with REDIS_URL; see compose.yaml)
# Without DATABASE_URL / REDIS_URL it runs embedded: SQLite in /app/var, in-process worker.

# --- builder: a virtualenv with the locked dependencies, then the project itself ---------
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH="/opt/venv/bin:$PATH"

RUN python -m venv /opt/venv

WORKDIR /src

# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

# Then the project, without touching the dependencies installed above.
COPY pyproject.toml bootstrap.py ./
COPY domain ./domain
COPY application ./application
COPY adapters ./adapters
COPY entrypoints ./entrypoints
RUN pip install --no-cache-dir --no-deps .

# --- runtime -------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MALL_HOST=0.0.0.0 \
    MALL_PORT=8080

# An unprivileged user; the sources stay root-owned (read-only to it), only /app/var is
# writable: the SQLite file (var/mall.sqlite) and the generated keys (var/keys.json).
RUN groupadd --system --gid 10001 mall \
    && useradd --system --uid 10001 --gid mall --no-log-init --no-create-home \
        --home-dir /app --shell /usr/sbin/nologin mall \
    && mkdir -p /app/var \
    && chown mall:mall /app/var

WORKDIR /app

COPY --from=builder /opt/venv /opt/venv
COPY bootstrap.py ./
COPY domain ./domain
COPY application ./application
COPY adapters ./adapters
COPY entrypoints ./entrypoints
# Compiled at build time: the sources are read-only to the user and bytecode is not written
# at run time (PYTHONDONTWRITEBYTECODE), so each start would compile every module again.
RUN python -m compileall -q bootstrap.py domain application adapters entrypoints

USER 10001:10001

EXPOSE 8080

# Liveness through GET /healthz (no curl in the slim image): urlopen raises, so the command
# exits non-zero, on a refused connection, a timeout or any non-2xx answer.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MALL_PORT', '8080'), timeout=4)"]

CMD ["python", "-m", "entrypoints.cli", "serve"]
