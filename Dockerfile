# Two stages on the same base: the build stage fills a virtualenv, the runtime stage copies
# only that virtualenv and the lines file, so no pip cache or build tooling ships. The same
# base keeps the virtualenv's interpreter path valid in the runtime stage. The Python version
# is the one requirements.lock was compiled for (its first lines name the command).
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The dependencies first, from the lock alone: this layer is rebuilt when requirements.lock
# changes, not when the code, pyproject.toml's version or the README does. --require-hashes:
# every package must be pinned in the lock and match one of its hashes, or the build stops.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
# Then the code, resolving nothing (the lock installed every dependency); `pip check` stops
# the build if pyproject.toml asks for something the lock lacks.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY workflows ./workflows
RUN pip install --no-deps . && pip check

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080 \
    TEXTBACK_CONFIG=/app/textback.yml \
    TEXTBACK_DATA_DIR=/data
# A fixed uid, so files written by the app are owned the same on every machine. /data is
# only used when REDIS_URL is unset (the embedded Valkey, e.g. `docker run -v`); on Fly,
# REDIS_URL is required and `textback serve` refuses to start without it.
RUN useradd --create-home --uid 10001 app && mkdir /data && chown app:app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Your lines file (copy textback.example.yml to textback.yml and edit it before deploying).
COPY textback.yml ./
USER app
EXPOSE 8080
# For `docker run` and Compose (on Fly, the checks in fly.toml route traffic): /healthz answers
# 200 while Redis answers, 503 otherwise. Python, as the slim image has no curl; urlopen raises
# on a 503 or a refused connection, so the command exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]
CMD ["textback", "serve"]
