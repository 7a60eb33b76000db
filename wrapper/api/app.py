"""The Flask application factory: one blueprint per resource, each route declared once
(`wrapper.api.routes`), errors as problem+json (`wrapper.api.errors`)."""

import logging

from flask import Flask

from wrapper.admission import views
from wrapper.admission.store import AdmissionStore
from wrapper.admission.views import ViewCache
from wrapper.algorithms.registry import AlgorithmRegistry
from wrapper.api import algorithms, errors, health, jobs, metrics, openapi, queues, runs, train, ui
from wrapper.api import events as job_events
from wrapper.api import logs as job_logs
from wrapper.api.services import Services
from wrapper.config import Settings, TrainqConfig
from wrapper.jobs.status_reads import StatusReads
from wrapper.jobs.store import JobStore
from wrapper.kubeclient import ApiserverProbe
from wrapper.redis import connect


def create_app(config: TrainqConfig, settings: Settings) -> Flask:
    app = Flask("trainq")
    app.config["MAX_CONTENT_LENGTH"] = config.api.max_body_bytes
    app.json.sort_keys = False
    team_names = [t.name for t in config.teams]
    store = JobStore(
        connect(*settings.redis_target),
        team_names,
        config.api.idempotency_ttl_seconds,
        limits=config.submission_limits,
        replicas=settings.redis_replicas_acked,
        ack_timeout_ms=settings.redis_ack_timeout_ms,
        max_events=config.events.max_per_team,
    )
    admissions = AdmissionStore(store, config)
    app.extensions["trainq"] = Services(
        config=config,
        settings=settings,
        store=store,
        apiserver=ApiserverProbe(settings.kubeconfig),
        algorithms=AlgorithmRegistry(store.redis, config.algorithms),
        admissions=admissions,
        views=ViewCache(lambda: views.build(admissions)),
        status_reads=StatusReads(store),
    )
    # Every API process does it (idempotently); with Redis down, before the first registry read.
    app.extensions["trainq"].algorithms.register_configured_at_start()
    # No /metrics here: metrics carry per-team labels and have their own port (metrics.serve).
    for module in (jobs, queues, algorithms, train, health, openapi, runs, job_logs, job_events):
        app.register_blueprint(module.bp)
    app.register_blueprint(queues.all_bp)
    app.register_blueprint(ui.bp)  # the dashboard's pages: not API operations
    errors.register(app)
    app.after_request(metrics.count_errors)
    logging.getLogger("trainq").setLevel(logging.INFO)
    return app
