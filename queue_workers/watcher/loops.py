"""How each of the watcher's reconcilers outlives apiserver and Redis outages: its loop logs
a failure and carries on, so one concern's outage never stops the others (they share one
process). List-watches back off (1 s doubling to 30 s); housekeeping sweeps retry after 2 s."""

import logging
import threading
from collections.abc import Callable

from queue_workers.kube.errors import error_message

BACKOFF_MAX_SECONDS = 30
SWEEP_RETRY_SECONDS = 2


def keep_following(
    stop: threading.Event, follow: Callable[[], None], what: str, log: logging.Logger
) -> None:
    """Run `follow` (one list-watch round) until stop is set, backing off after failures."""
    backoff = 1.0
    while not stop.is_set():
        try:
            follow()
            backoff = 1.0
        except Exception as exc:  # noqa: BLE001 - apiserver/Redis outages: keep trying
            log.error("%s failed (%s); retrying in %.0fs", what, error_message(exc), backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)


def keep_sweeping(stop: threading.Event, sweep: Callable[[], None], log: logging.Logger) -> None:
    """Run `sweep` (one pass, which paces itself) until stop is set."""
    while not stop.is_set():
        try:
            sweep()
        except Exception as exc:  # noqa: BLE001 - keep the loop alive through outages
            log.error("housekeeping failed: %s", error_message(exc))
            stop.wait(SWEEP_RETRY_SECONDS)
