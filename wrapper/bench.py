"""Benchmark-only endpoint, registered only when TRAINQ_BENCH_NOOP=1 (never in production):
`POST /v1/bench/noop` does what a submission does before it touches Redis (bearer-token
authentication, JSON body parsing) and answers 202 without any Redis work. It is the
baseline `make bench` compares `POST /v1/teams/{team}/jobs` with on the same gunicorn.
"""

import os

from flask import Blueprint, Flask, jsonify

from wrapper.auth import authenticate
from wrapper.jobs import _json_body
from wrapper.services import services

bp = Blueprint("bench", __name__, url_prefix="/v1/bench")


def register(app: Flask) -> None:
    if os.environ.get("TRAINQ_BENCH_NOOP") == "1":
        app.register_blueprint(bp)


@bp.post("/noop")
def noop():
    principal = authenticate(services().config)
    body = _json_body()
    response = jsonify(accepted=True, team=principal.team, fields=len(body))
    response.status_code = 202
    return response
