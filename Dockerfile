# trainq: one image for the API (gunicorn), the RQ workers and the watcher.
# The Deployments choose the process with `command`; the default is the API. The three
# commands are also recorded as labels (tests/deploy/test_image.py checks they import).
#
# Base pinned by exact tag. To pin by digest as well, resolve it once and append it:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm   -> FROM ...@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.txt .
# Runtime pins only: everything above the "# Development and tests" block of requirements.txt.
RUN python -m venv /opt/venv \
 && sed '/^# Development and tests/,$d' requirements.txt > requirements.runtime.txt \
 && /opt/venv/bin/pip install -r requirements.runtime.txt \
 && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE}
ARG UID=10001
RUN groupadd --system --gid ${UID} trainq \
 && useradd --system --uid ${UID} --gid ${UID} --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin trainq
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY wrapper/ wrapper/
COPY queue_workers/ queue_workers/
# Bytecode compiled at build time: the root filesystem is read-only at run time.
RUN python -m compileall -q /app /opt/venv/lib
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    TRAINQ_CONFIG=/etc/trainq/config.yaml \
    TRAINQ_API_HOST=0.0.0.0 \
    TRAINQ_API_PORT=8080 \
    TRAINQ_METRICS_HOST=0.0.0.0 \
    TRAINQ_METRICS_PORT=9090 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
LABEL org.opencontainers.image.title="trainq" \
      dev.trainq.command.api="gunicorn -c wrapper/gunicorn.conf.py wrapper.wsgi:app" \
      dev.trainq.command.worker="python -m queue_workers" \
      dev.trainq.command.watcher="python -m queue_workers.watcher"
USER ${UID}:${UID}
# 9090: metrics (per-team labels), never behind the API's Service or an ingress.
EXPOSE 8080 9090
CMD ["gunicorn", "-c", "wrapper/gunicorn.conf.py", "wrapper.wsgi:app"]
