"""gunicorn settings for the trainq API (threads: handlers mostly wait on Redis)."""

import os
import tempfile

_host = os.environ.get("TRAINQ_API_HOST", "127.0.0.1")
bind = f"{_host}:{os.environ.get('TRAINQ_API_PORT', '8080')}"
worker_class = "gthread"
workers = int(os.environ.get("TRAINQ_API_WORKERS", "2"))
threads = int(os.environ.get("TRAINQ_API_THREADS", "8"))
timeout = 30
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
# Load the app (and its config) in the master so a bad config fails the start, not the workers.
preload_app = True
# Prometheus metrics carry per-team labels: never on the API's port, but on their own
# (TRAINQ_METRICS_PORT, unset: not served), from the master, summing every worker's values,
# which needs multiprocess mode: a private directory unless one is given (set before the app
# is loaded, for prometheus_client reads it at import).
_metrics_port = os.environ.get("TRAINQ_METRICS_PORT")
if _metrics_port and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="trainq-metrics-")


def when_ready(server):
    if _metrics_port:
        from wrapper.api import metrics
        from wrapper.wsgi import app  # preloaded: the master's own copy

        host = os.environ.get("TRAINQ_METRICS_HOST", "127.0.0.1")
        metrics.serve(host, int(_metrics_port), app.extensions["trainq"].store.redis)
        server.log.info("metrics on http://%s:%s/metrics", host, _metrics_port)


def on_starting(server):
    # Stale per-process metric files from a previous run would be summed in.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
