"""How a webhook is signed and retried (pure): HMAC-SHA256 over `<timestamp>.<body>` with the
hook's secret, sent as `Trainq-Signature: sha256=<hex>` beside `Trainq-Timestamp` (so a
receiver can refuse old replays) and `Trainq-Event-Id` (the same on every retry: at-least-once
delivery, de-duplicated by the receiver); and the exponential backoff between attempts."""

import hashlib
import hmac

SIGNATURE_HEADER = "Trainq-Signature"
TIMESTAMP_HEADER = "Trainq-Timestamp"
EVENT_ID_HEADER = "Trainq-Event-Id"


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers(event_id: str, secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", EVENT_ID_HEADER: event_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body)}  # fmt: skip


def verify(secret: bytes, timestamp: str, body: bytes, header: str, now: float,
           tolerance: float = 300.0) -> bool:  # fmt: skip
    """What a receiver checks: the signature (in constant time) and a timestamp within
    `tolerance` seconds of its own clock."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), header or "")


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base doubling, capped."""
    return min(base * 2 ** (attempt - 1), cap)
