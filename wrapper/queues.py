"""/v1/teams/{team}/queue: a team's queued jobs in dequeue order, and its running count."""

from flask import Blueprint, jsonify

from wrapper.auth import authenticate, authorize_team
from wrapper.services import services

bp = Blueprint("queues", __name__, url_prefix="/v1/teams/<team>/queue")


@bp.get("")
def get_queue(team: str):
    svc = services()
    authorize_team(authenticate(svc.config), team, svc.config)
    return jsonify(svc.store.queue_view(team))
