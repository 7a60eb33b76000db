"""The submission benchmark's baseline, its own tiny WSGI app (never part of the product):
`POST /v1/bench/noop` does what a submission does before it touches Redis (bearer-token
authentication, JSON body parsing, with the API's own code) and answers 202 without any
Redis work; `GET /v1/bench/noop`, the status figure's baseline, authenticates and answers a
small JSON body. `make bench` serves it with the API's gunicorn config, beside the API:

    gunicorn -c wrapper/gunicorn.conf.py benchmarks.noop:app
"""

import logging

from flask import Flask, jsonify

from wrapper.api import errors
from wrapper.api.auth import authenticate
from wrapper.api.bodies import json_body
from wrapper.config import TrainqConfig, load_or_exit


def create_app(config: TrainqConfig) -> Flask:
    app = Flask("trainq-bench-noop")
    app.config["MAX_CONTENT_LENGTH"] = config.api.max_body_bytes

    @app.post("/v1/bench/noop")
    def noop():
        principal = authenticate(config)
        body = json_body()
        response = jsonify(accepted=True, team=principal.team, fields=len(body))
        response.status_code = 202
        return response

    @app.get("/v1/bench/noop")
    def noop_read():
        # The status figure's baseline: a GET authenticated as a status read is, and a small
        # JSON answer, without reading Redis.
        principal = authenticate(config)
        return jsonify(team=principal.team, status="running")

    errors.register(app)
    return app


logging.basicConfig(level=logging.INFO)
app = create_app(load_or_exit()[1])
