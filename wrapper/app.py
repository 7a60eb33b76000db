"""The Flask application factory."""

import logging

from flask import Flask

from wrapper import errors, health, jobs, metrics, openapi, queues
from wrapper.config import Settings, TrainqConfig
from wrapper.services import Services
from wrapper.store import JobStore, connect


def create_app(config: TrainqConfig, settings: Settings) -> Flask:
    app = Flask("trainq")
    app.config["MAX_CONTENT_LENGTH"] = config.api.max_body_bytes
    app.json.sort_keys = False
    team_names = [t.name for t in config.teams]
    store = JobStore(connect(settings.redis_url), team_names, config.api.idempotency_ttl_seconds)
    app.extensions["trainq"] = Services(
        config=config,
        settings=settings,
        store=store,
        apiserver=health.ApiserverProbe(settings.kubeconfig),
    )
    for bp in (jobs.bp, queues.bp, health.bp, metrics.bp, openapi.bp):
        app.register_blueprint(bp)
    errors.register(app)
    app.after_request(metrics.count_errors)
    logging.getLogger("trainq").setLevel(logging.INFO)
    return app
