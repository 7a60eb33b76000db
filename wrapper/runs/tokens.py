"""The per-job metrics token: what a trainer presents to report its own job's metrics, and
nothing else. Derived (HMAC-SHA256) from the job's `uid`, a random value trainq keeps in the
record and never shows through its API, so every dispatch of a job (a retry, an adoption, a
resume) injects the same token, and nothing extra is stored: the API recomputes it from the
record and compares in constant time. It names one job; the endpoint refuses it once the job
ended (`wrapper.api.runs`)."""

import hashlib
import hmac

URL_ENV = "TRAINQ_METRICS_URL"
TOKEN_ENV = "TRAINQ_METRICS_TOKEN"  # noqa: S105 - the variable's name, not a secret
_CONTEXT = b"trainq-metrics-token/v1:"


def metrics_token(record: dict) -> str:
    message = _CONTEXT + str(record["id"]).encode()
    return hmac.new(str(record["uid"]).encode(), message, hashlib.sha256).hexdigest()


def valid(record: dict, presented: str) -> bool:
    if not record.get("uid") or not presented:
        return False
    return hmac.compare_digest(metrics_token(record).encode(), presented.encode())


def report_url(base_url: str, record: dict) -> str:
    """Where the job's trainer posts its reports."""
    return f"{base_url.rstrip('/')}/v1/teams/{record['team']}/jobs/{record['id']}/metrics"
