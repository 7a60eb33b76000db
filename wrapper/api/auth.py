"""Bearer-token authentication against SHA-256 token hashes in the config, and team scoping:
a path naming a team the caller may not see answers 404, exactly like a team that does not
exist, so the API never reveals another team's existence or jobs."""

import hashlib
import hmac
from dataclasses import dataclass

from flask import request

from wrapper.api.errors import ApiError, not_found
from wrapper.config import Team, TrainqConfig

_NO_MATCH = "-" * 64  # never a hex digest


@dataclass(frozen=True)
class Principal:
    team: str | None  # None for an admin
    admin: bool

    @property
    def label(self) -> str:
        return "admin" if self.admin else f"team {self.team}"


def authenticate(config: TrainqConfig) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Send 'Authorization: Bearer <token>'.")
    digest = hashlib.sha256(token.encode()).hexdigest()
    # Found by the SHA-256 of the presented token, in a dict: what a timing difference could
    # reveal is how that hash (of the caller's own guess) compares with stored hashes, which
    # gives no handle on any token (preimage resistance). The compare is constant-time anyway.
    owners = config.token_owners
    stored = digest if digest in owners else _NO_MATCH
    if not hmac.compare_digest(digest, stored):
        raise _unauthorized("The token is not valid.")
    team = owners[stored]
    return Principal(team=team, admin=team is None)


def authorize_team(principal: Principal, team_name: str, config: TrainqConfig) -> Team:
    team = config.team(team_name)
    if team is None or not (principal.admin or principal.team == team_name):
        raise not_found("team")
    return team


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", "Unauthorized", detail,
                    headers={"WWW-Authenticate": 'Bearer realm="trainq"'})  # fmt: skip
