"""Bearer-token authentication against SHA-256 token hashes in the config, and team scoping:
a path naming a team the caller may not see answers 404, exactly like a team that does not
exist, so the API never reveals another team's existence or jobs."""

import hashlib
import hmac
from dataclasses import dataclass

from flask import request

from wrapper.config import Team, TrainqConfig
from wrapper.errors import ApiError, not_found


@dataclass(frozen=True)
class Principal:
    team: str | None  # None for an admin
    admin: bool

    @property
    def label(self) -> str:
        return "admin" if self.admin else f"team {self.team}"


def _matches(digest: str, hashes: list[str]) -> bool:
    # Compare against every hash (no early exit) in constant time each.
    found = False
    for h in hashes:
        found |= hmac.compare_digest(digest, h)
    return found


def authenticate(config: TrainqConfig) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Send 'Authorization: Bearer <token>'.")
    digest = hashlib.sha256(token.encode()).hexdigest()
    match = None
    for team in config.teams:
        if _matches(digest, team.token_sha256):
            match = Principal(team=team.name, admin=False)
    if _matches(digest, config.admin_token_sha256):
        match = Principal(team=None, admin=True)
    if match is None:
        raise _unauthorized("The token is not valid.")
    return match


def authorize_team(principal: Principal, team_name: str, config: TrainqConfig) -> Team:
    team = config.team(team_name)
    if team is None or not (principal.admin or principal.team == team_name):
        raise not_found("team")
    return team


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", "Unauthorized", detail,
                    headers={"WWW-Authenticate": 'Bearer realm="trainq"'})  # fmt: skip
