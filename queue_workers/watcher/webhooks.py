"""Completion webhooks: follows the event stream of every team that has webhooks (a consumer
group, so an event is read once and a restart resumes where it stopped) and POSTs each event a
hook wants, signed (`wrapper.events.signing`), retrying a failure with exponential backoff up to
`events.webhook_max_attempts` attempts; every attempt is noted on the job's record. The retry
state lives in Redis (`wrapper.events.webhooks`), so a new leader carries on."""

import logging
import threading
import time

import requests
from redis.exceptions import ResponseError

from queue_workers.watcher.loops import keep_sweeping
from wrapper.clock import iso, utcnow
from wrapper.config import TrainqConfig
from wrapper.config.events import WebhookSecretMissing
from wrapper.events import signing
from wrapper.events.webhooks import Deliveries, Delivery
from wrapper.jobs.store import JobStore

log = logging.getLogger(__name__)
BLOCK_MAX_SECONDS = 1.0  # a pass waits for new events at most this long
USER_AGENT = "trainq-webhooks/1"


class WebhookDelivery:
    def __init__(self, config: TrainqConfig, store: JobStore, stop: threading.Event,
                 session: requests.Session | None = None):  # fmt: skip
        self.settings, self.stop = config.events, stop
        hooks = {t.name: list(t.webhooks) for t in config.teams if t.webhooks}
        self.deliveries = Deliveries(store.redis, hooks, config.events.webhook_deliveries_kept)
        self.http = session or requests.Session()
        self._following = False

    @property
    def wanted(self) -> bool:
        return bool(self.deliveries.hooks)

    def sweep(self) -> None:
        if not self._following:
            self.deliveries.follow()
            while self.deliveries.take(None, pending=True):  # read before a restart
                pass
            self._following = True
        try:
            self.deliveries.take(self._block_ms())
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._following = False  # the stream or group was deleted: make it again
            return
        for delivery in self.deliveries.due(time.time()):
            if self.stop.is_set():
                return
            self.deliver(delivery)

    def _block_ms(self) -> int | None:
        """Wait for new events until the next retry is due (None: one is due now)."""
        due = self.deliveries.next_due()
        wait = BLOCK_MAX_SECONDS if due is None else min(due - time.time(), BLOCK_MAX_SECONDS)
        return None if wait <= 0 else max(1, int(wait * 1000))

    def deliver(self, delivery: Delivery) -> None:
        hook = self.deliveries.hook(delivery)
        if hook is None:  # removed from the config since it was scheduled
            self.deliveries.finish(delivery)
            return
        attempt = delivery.attempts + 1
        status, error = self._post(delivery, hook)
        ok = status is not None and 200 <= status < 300
        last = attempt >= self.settings.webhook_max_attempts
        note = {"event_id": delivery.event["id"], "event": delivery.event["type"],
                "url": delivery.url, "attempt": attempt, "time": utcnow(),
                "status_code": status, "error": error,
                "outcome": "delivered" if ok else ("failed" if last else "retrying"),
                "next_attempt_at": None}  # fmt: skip
        if ok or last:
            self.deliveries.finish(delivery)
        else:
            wait = signing.backoff(attempt, self.settings.webhook_backoff_base_seconds,
                                   self.settings.webhook_backoff_max_seconds)  # fmt: skip
            at = time.time() + wait
            self.deliveries.retry_at(delivery, attempt, at)
            note["next_attempt_at"] = iso(at)
        self.deliveries.record(delivery.event["job_id"], note)
        level = logging.INFO if ok else logging.WARNING
        log.log(level, "webhook %s for job %s (team %s) to %s, attempt %d: %s",
                delivery.event["type"], delivery.event["job_id"], delivery.team, delivery.url,
                attempt, status if status is not None else error)  # fmt: skip

    def _post(self, delivery: Delivery, hook) -> tuple[int | None, str | None]:
        body = delivery.body()
        try:
            secret = hook.secret()
        except WebhookSecretMissing as exc:
            return None, f"secret unavailable: {exc}"
        headers = signing.headers(delivery.event["id"], secret, int(time.time()), body)
        headers["User-Agent"] = USER_AGENT
        try:
            # No redirects: a 3xx would turn the POST into a GET somewhere else.
            response = self.http.post(delivery.url, data=body, headers=headers,
                                      timeout=self.settings.webhook_timeout_seconds,
                                      allow_redirects=False)  # fmt: skip
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300]
        response.close()
        return response.status_code, None

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
