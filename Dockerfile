# syntax=docker/dockerfile:1
#
# afftrack image: one image for every role, chosen by the command.
#   web      afftrack serve --host 0.0.0.0 --port 8000   (the default CMD)
#   worker   afftrack worker
#   migrate  afftrack db upgrade
#
# Build:  docker build -t afftrack:latest .
# Run (embedded SQLite demo, data kept in a volume):
#   docker run --rm -p 8000:8000 -v afftrack-data:/app/data afftrack:latest
# Production settings (DATABASE_URL, REDIS_URL, secrets) come from the environment;
# none are baked in. See docs/deploy.md.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: resolve and install the package and its dependencies into a venv -------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY service/ service/
COPY migrations/ migrations/
RUN pip install --no-cache-dir .

# --- runtime ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="afftrack" \
      org.opencontainers.image.description="Affiliate-link and promo-code tracking for influencer marketing"

# PYTHONPATH=/app makes the app tree below the code that runs (the same sources the
# builder installed), so `afftrack serve` finds /app/deploy/gunicorn.conf.py beside its
# own package whatever the working directory is.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app

RUN groupadd --system --gid 10001 afftrack \
 && useradd --system --uid 10001 --gid afftrack --home-dir /app/data --no-create-home \
        --shell /usr/sbin/nologin afftrack

COPY --from=builder /opt/venv /opt/venv

# Code and config stay root-owned and read-only to the app user.
WORKDIR /app
COPY pyproject.toml ./
COPY service/ service/
COPY migrations/ migrations/
COPY deploy/ deploy/

# The only writable place: with DATABASE_URL unset, afftrack keeps its SQLite file in
# the working directory, so that directory is /app/data (mount a volume there to keep
# it). With PostgreSQL configured nothing is written here.
RUN install -d -o afftrack -g afftrack -m 0750 /app/data
WORKDIR /app/data

USER 10001:10001

EXPOSE 8000

# The slim image has no curl; the interpreter is enough. Only meaningful for the web role:
# the compose file turns it off for the worker and migrate containers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

CMD ["afftrack", "serve", "--host", "0.0.0.0", "--port", "8000"]
