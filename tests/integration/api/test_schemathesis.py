"""The served OpenAPI document against the server, with every schemathesis check: requests the
document allows are accepted, the ones it forbids refused, and every answer (status, headers,
media type, body) is one the document declares. A fixed seed, deterministic generation and a
bounded number of examples per operation keep it reproducible and well under 90 s.

Two answers are allowed beyond schemathesis's defaults, each for a reason no schema can carry:
413 (the body limit is a size in bytes), and 422 to schema-valid data only when every error
names what depends on the registry, the team's quota, the cluster, a per-replica limit or an
earlier request (a reused Idempotency-Key) (`refused_only_for_what_no_schema_says`)."""

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from wrapper.jobs.submission import NeverFits

TRAIN = "^/v1/train"
# An event stream answers for `events.stream_max_seconds` (minutes) by design: a case would
# wait that long. Its answers are tested in test_event_stream_limits.py and end_to_end.
STREAMS = "/events$"
CONFIG = {
    "seed": 14,
    "generation": {"max-examples": 25, "database": "none", "deterministic": True},
    # Team paths under the token's own team (another team is a documented 404 everywhere).
    "parameters": {"team": "alpha"},
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "413", "422",
                                  "429", "5xx"],
        },
        "negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415",
                                  "422", "428", "429", "5xx"],
        },
    },
}  # fmt: skip


def _state_refusal(error: dict, detail: str) -> bool:
    field, message = error["field"], error["message"]
    return (
        detail == NeverFits.DETAIL
        or (field == "algorithm" and "not a registered algorithm" in message)
        or (field == "algorithm" and message.startswith("unknown algorithm"))
        or (field in ("resources.cpu", "resources.memory") and message.startswith("at most"))
        # an Idempotency-Key sent before with another body (depends on earlier requests)
        or (field == "Idempotency-Key" and message.startswith("already used"))
        # a metric key no run of the team reports (depends on the runs there are)
        or (field == "sort" and message.startswith("no listed run reports"))
    )


@schemathesis.check
def refused_only_for_what_no_schema_says(ctx, response, case):
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 422:
        body = response.json()
        errors = body.get("errors") or []
        assert errors and all(_state_refusal(e, body.get("detail", "")) for e in errors), (
            f"schema-valid data refused for a rule the document does not show: {body}"
        )
    return None


def _schema(app, token: str):
    # Schemathesis sends the token itself, so its auth checks know which one is valid.
    auth = {"auth": {"openapi": {"bearer": {"bearer": token}}}}
    config = SchemathesisConfig.from_dict({**CONFIG, **auth})
    return schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)


@pytest.fixture
def admin_schema(app):  # the app on a scratch Redis DB (conftest.py)
    return _schema(app, "admin-dev-token")


@pytest.fixture
def team_schema(app):
    return _schema(app, "alpha-dev-token")


admin = schemathesis.pytest.from_fixture("admin_schema").exclude(path_regex=f"{TRAIN}|{STREAMS}")
# Train answers for the token's team; the admin token has none (a documented 403 there).
team = schemathesis.pytest.from_fixture("team_schema").include(path_regex=TRAIN)


@admin.parametrize()
def test_the_api_keeps_its_document(case):
    case.call_and_validate(additional_checks=[refused_only_for_what_no_schema_says])


@team.parametrize()
def test_train_keeps_its_document(case):
    case.call_and_validate(additional_checks=[refused_only_for_what_no_schema_says])
