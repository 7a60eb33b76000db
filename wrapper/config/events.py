"""Events for frontends: the bound of each team's event stream, how long one SSE connection
lasts, and webhook delivery (attempts, backoff); and a team's completion webhooks. A webhook's
secret never sits in the file: it names an environment variable or a file (a mounted Secret)
that the watcher reads when it signs."""

import os
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from wrapper.config.types import _Strict
from wrapper.events.types import COMPLETION, EVENT_TYPES


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise ValueError(f"must be one of: {', '.join(sorted(EVENT_TYPES))}")
    return value


EventType = Annotated[str, AfterValidator(_event_type)]


class WebhookSecretMissing(Exception):
    """The variable or file a webhook's secret comes from is unset, unreadable or empty."""


class Webhook(_Strict):
    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$", max_length=2048)]
    # Events sent to it (default: a job's end).
    events: list[EventType] = Field(default_factory=lambda: list(COMPLETION), min_length=1)
    # Exactly one: the environment variable (of the watcher) or the file holding the secret.
    secret_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    secret_file: str | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> "Webhook":
        if (self.secret_env is None) == (self.secret_file is None):
            raise ValueError("give exactly one of secret_env and secret_file")
        return self

    def secret(self) -> bytes:
        """The HMAC key, read now (a rotated Secret is picked up without a restart)."""
        try:
            if self.secret_env is not None:
                value = os.environ.get(self.secret_env, "")
            else:
                value = Path(self.secret_file).read_text().strip()
        except OSError as exc:
            raise WebhookSecretMissing(f"{self.secret_file}: {exc.strerror}") from None
        if not value:
            raise WebhookSecretMissing(f"{self.secret_env or self.secret_file} is empty or unset")
        return value.encode()


class EventSettings(_Strict):
    # Events kept per team (XADD MAXLEN ~): a client further behind misses the oldest.
    max_per_team: int = Field(default=10_000, ge=100)
    # An SSE connection ends after this long (the client reconnects with Last-Event-ID), so
    # streams never hold the API's threads for good; a comment every keepalive_seconds.
    stream_max_seconds: float = Field(default=300.0, gt=0)
    keepalive_seconds: float = Field(default=15.0, gt=0)
    # Streams open at once per API process (each holds a gunicorn thread); beyond: 503.
    max_streams_per_process: int = Field(default=4, ge=1)
    # Webhook delivery: attempts per event and hook (the first included), the wait before a
    # retry doubling from backoff_base_seconds up to backoff_max_seconds (8 attempts: about
    # 10 min), the HTTP timeout, and how many attempts a job record shows.
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_base_seconds: float = Field(default=5.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=300.0, gt=0)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_deliveries_kept: int = Field(default=20, ge=1, le=200)
