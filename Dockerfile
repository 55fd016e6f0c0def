# Two stages on the same base: the build stage fills a virtualenv, the runtime stage copies
# only that virtualenv and the lines file, so no pip cache or build tooling ships. The same
# base keeps the virtualenv's interpreter path valid in the runtime stage.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY workflows ./workflows
RUN pip install .

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080 \
    TEXTBACK_CONFIG=/app/textback.yml \
    TEXTBACK_DATA_DIR=/data
# A fixed uid, so files written by the app are owned the same on every machine. /data is
# only used when REDIS_URL is unset (the embedded Valkey); on Fly, REDIS_URL is set.
RUN useradd --create-home --uid 10001 app && mkdir /data && chown app:app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Your lines file (copy textback.example.yml to textback.yml and edit it before deploying).
COPY textback.yml ./
USER app
EXPOSE 8080
CMD ["textback", "serve"]
