# syntax=docker/dockerfile:1
#
# afftrack image: one image for every role, chosen by the command.
#   web      afftrack serve --host 0.0.0.0 --port 8000   (the default CMD)
#   worker   afftrack worker
#   migrate  afftrack db upgrade
#
# Build:  docker build -t afftrack:latest \
#           --build-arg AFFTRACK_VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' service/__init__.py)" .
#         (the package's version, for the image's version label)
# Run (embedded SQLite demo, data kept in a volume):
#   docker run --rm -p 8000:8000 -v afftrack-data:/app/data afftrack:latest
# Production settings (DATABASE_URL, REDIS_URL, secrets) come from the environment;
# none are baked in. See docs/operations.md. deploy/image-smoke.sh builds and checks this
# image with podman (on a Debian base it makes itself, passed as PYTHON_IMAGE).

# Any image with Python 3.11+ and its venv module at `python` (the Debian base the smoke
# script builds has python-is-python3 and python3-venv).
ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the package as a wheel, installed with its dependencies into a venv ------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
WORKDIR /src

# The dependencies first, from pyproject.toml alone, so that a change to the code
# reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > requirements.txt \
 && /opt/venv/bin/pip install -r requirements.txt

# Then the package, built as a wheel and installed from it: the runtime stage gets the
# venv only, so a file the code needs that the wheel lacks fails here, not in production.
# .dockerignore admits only what the wheel is built from.
COPY . ./
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install /wheels/afftrack-*.whl \
 && /opt/venv/bin/pip check

# --- runtime: the venv, nothing of the source tree -------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# The package's version (service/__init__.py), passed by the build: deploy/image-smoke.sh
# does, and checks that `afftrack --version` in the image says the same.
ARG AFFTRACK_VERSION=unknown
LABEL org.opencontainers.image.title="afftrack" \
      org.opencontainers.image.version="${AFFTRACK_VERSION}" \
      org.opencontainers.image.description="Affiliate-link and promo-code tracking for influencer marketing" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN groupadd --system --gid 10001 afftrack \
 && useradd --system --uid 10001 --gid afftrack --home-dir /app/data --no-create-home \
        --shell /usr/sbin/nologin afftrack

# Root-owned, so read-only to the app user.
COPY --from=builder /opt/venv /opt/venv

# The only writable place: with DATABASE_URL unset, afftrack keeps its SQLite file in
# the working directory, so that directory is /app/data (mount a volume there to keep
# it). With PostgreSQL configured nothing is written here.
RUN install -d -o afftrack -g afftrack -m 0750 /app/data
WORKDIR /app/data

# Clicks and webhook deliveries wait here when neither Redis nor the database takes them
# (docs/operations.md "When Redis or PostgreSQL stumble"). A volume, so that what waits
# outlives the container: compose mounts a named one, Kubernetes an emptyDir.
ENV AFFTRACK_SPOOL_DIR=/var/lib/afftrack/spool
RUN install -d -o afftrack -g afftrack -m 0750 /var/lib/afftrack /var/lib/afftrack/spool
VOLUME /var/lib/afftrack/spool

USER 10001:10001

EXPOSE 8000

# No curl in the image; the interpreter is enough. Only meaningful for the web role:
# the compose file turns it off for the worker and migrate containers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

CMD ["afftrack", "serve", "--host", "0.0.0.0", "--port", "8000"]
