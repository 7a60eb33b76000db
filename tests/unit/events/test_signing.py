"""Webhook signatures and retry backoff (wrapper.events.signing)."""

import hashlib
import hmac

from wrapper.config.events import EventSettings
from wrapper.events import signing

SECRET = b"whsec-test"
BODY = b'{"id":"1-0","type":"job.succeeded"}'


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET, b"1767261600." + BODY, hashlib.sha256).hexdigest()
    assert signing.signature(SECRET, 1767261600, BODY) == "sha256=" + expected


def test_headers_carry_the_event_id_timestamp_and_signature():
    h = signing.headers("1-0", SECRET, 1767261600, BODY)
    assert h["Trainq-Event-Id"] == "1-0"
    assert h["Trainq-Timestamp"] == "1767261600"
    assert h["Trainq-Signature"] == signing.signature(SECRET, 1767261600, BODY)
    assert h["Content-Type"] == "application/json"


def test_verify_accepts_the_signature_and_refuses_tampering_and_old_timestamps():
    sig = signing.signature(SECRET, 1000, BODY)
    assert signing.verify(SECRET, "1000", BODY, sig, now=1010)
    assert not signing.verify(SECRET, "1000", BODY + b" ", sig, now=1010)  # body changed
    assert not signing.verify(b"other", "1000", BODY, sig, now=1010)  # wrong secret
    assert not signing.verify(SECRET, "1001", BODY, sig, now=1010)  # timestamp changed
    assert not signing.verify(SECRET, "1000", BODY, sig, now=1000 + 301)  # replayed late
    assert not signing.verify(SECRET, "soon", BODY, sig, now=1000)
    assert not signing.verify(SECRET, "1000", BODY, "", now=1000)


def test_backoff_doubles_up_to_the_cap():
    waits = [signing.backoff(a, 5.0, 300.0) for a in range(1, 9)]
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300]


def test_default_attempts_span_about_ten_minutes():
    s = EventSettings()
    # The waits between the attempts: one fewer than the attempts.
    total = sum(signing.backoff(a, s.webhook_backoff_base_seconds, s.webhook_backoff_max_seconds)
                for a in range(1, s.webhook_max_attempts))  # fmt: skip
    assert s.webhook_max_attempts == 8
    assert 9 * 60 <= total <= 11 * 60, total
