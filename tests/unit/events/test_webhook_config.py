"""A team's webhooks in the configuration (wrapper.config.events)."""

import pytest
from pydantic import ValidationError

from wrapper.config.events import Webhook, WebhookSecretMissing


def test_defaults_to_completion_events():
    hook = Webhook(url="https://example.com/hook", secret_env="HOOK_SECRET")
    assert hook.events == ["job.succeeded", "job.failed", "job.cancelled"]


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "https://example.com/hook"},  # no secret
        {"url": "https://example.com/hook", "secret_env": "A", "secret_file": "/s"},  # both
        {"url": "ftp://example.com/hook", "secret_env": "A"},
        {"url": "https://example.com/hook", "secret_env": "A", "events": ["job.done"]},
        {"url": "https://example.com/hook", "secret_env": "A", "events": []},
        {"url": "https://example.com/hook", "secret": "inline-plaintext"},
    ],
)
def test_refused(fields):
    with pytest.raises(ValidationError):
        Webhook(**fields)


def test_secret_from_env_or_file(monkeypatch, tmp_path):
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    assert Webhook(url="http://h/x", secret_env="HOOK_SECRET").secret() == b"s3cret"
    (tmp_path / "secret").write_text("from-file\n")
    hook = Webhook(url="http://h/x", secret_file=str(tmp_path / "secret"))
    assert hook.secret() == b"from-file"
    monkeypatch.delenv("HOOK_SECRET")
    with pytest.raises(WebhookSecretMissing):
        Webhook(url="http://h/x", secret_env="HOOK_SECRET").secret()
    with pytest.raises(WebhookSecretMissing):
        Webhook(url="http://h/x", secret_file=str(tmp_path / "missing")).secret()
