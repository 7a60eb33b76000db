"""gunicorn settings for the trainq API (threads: handlers mostly wait on Redis)."""

import os

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
