"""The Flask application factory."""

import logging

from flask import Flask

from wrapper.algorithms.registry import AlgorithmRegistry
from wrapper.api import algorithms, errors, health, jobs, metrics, openapi, queues
from wrapper.api import train as compat
from wrapper.api.services import Services
from wrapper.config import Settings, TrainqConfig
from wrapper.jobs.store import JobStore, connect
from wrapper.kubeclient import ApiserverProbe


def create_app(config: TrainqConfig, settings: Settings) -> Flask:
    app = Flask("trainq")
    app.config["MAX_CONTENT_LENGTH"] = config.api.max_body_bytes
    app.json.sort_keys = False
    team_names = [t.name for t in config.teams]
    store = JobStore(connect(settings.redis_url), team_names, config.api.idempotency_ttl_seconds)
    store.visibility = queues.job_visibility  # queued records show position and pending reason
    app.extensions["trainq"] = Services(
        config=config,
        settings=settings,
        store=store,
        apiserver=ApiserverProbe(settings.kubeconfig),
        algorithms=AlgorithmRegistry(store.redis, config.algorithms),
    )
    # Every API process does it (idempotently); with Redis down, before the first registry read.
    app.extensions["trainq"].algorithms.register_configured_at_start()
    for bp in (jobs.bp, queues.bp, algorithms.bp, compat.bp, health.bp, metrics.bp, openapi.bp):
        app.register_blueprint(bp)
    app.register_blueprint(queues.all_bp)
    errors.register(app)
    app.after_request(metrics.count_errors)
    logging.getLogger("trainq").setLevel(logging.INFO)
    return app
