"""How `--watch` learns that something changed: the team's event stream
(GET /v1/teams/{team}/events), read by a background thread and resumed with Last-Event-ID
when the server ends a connection; if the stream is refused (or lost and not regained), it
falls back to polling every `POLL_SECONDS`."""

import queue
import threading
import time

from wrapper.cli.client import Client
from wrapper.cli.errors import CliError

POLL_SECONDS = 2.0  # without the event stream
TICK_SECONDS = 5.0  # with it: training metrics and ETAs change without events
MIN_REFRESH_SECONDS = 0.5  # a burst of the team's events costs one read


class Changes:
    """`wait()` returns when the job may have changed: an event of its team, or the tick."""

    def __init__(self, client: Client, job_id: int, use_events: bool = True):
        self.client, self.job_id = client, job_id
        self.events: queue.Queue = queue.Queue()
        self.polling = not use_events
        self.note = "polling every 2 s" if self.polling else ""
        self._stop = threading.Event()
        self._stream = None
        self._last_read = 0.0

    def start(self) -> None:
        """Opens the stream now (before the first read of the job, so no change is missed)."""
        if self.polling:
            return
        try:
            self._stream = self.client.events()
        except CliError as exc:
            self._fall_back(exc.message)
            return
        self.note = "following the event stream"
        threading.Thread(target=self._read, name="trainq-events", daemon=True).start()

    def _fall_back(self, why: str) -> None:
        self.polling = True
        self.note = f"polling every {POLL_SECONDS:g} s (event stream: {why})"

    def _read(self) -> None:
        last_id = None
        while not self._stop.is_set():
            try:
                for event in self._stream:
                    last_id = event.id or last_id
                    self.events.put(event)
            except Exception as exc:  # noqa: BLE001 - a lost link only changes how we wait
                if self._stop.is_set():
                    return
                why = type(exc).__name__
            else:
                why = "ended"
            if self._stop.is_set():
                return
            try:  # the server ends each stream after a while: resume where it stopped
                self._stream = self.client.events(last_id)
            except CliError as exc:
                self._fall_back(f"{why}, then {exc.message}")
                self.events.put(None)  # wake the waiter so it switches to polling
                return

    def wait(self, limit: float | None = None) -> bool:
        """Blocks until an event of this job or its team arrives or the tick passes (at most
        `limit` seconds); True when an event came."""
        tick = POLL_SECONDS if self.polling else TICK_SECONDS
        timeout = tick if limit is None else max(0.0, min(tick, limit))
        rest = MIN_REFRESH_SECONDS - (time.monotonic() - self._last_read)
        if rest > 0:
            time.sleep(min(rest, timeout))
        got = False
        try:
            self.events.get(timeout=timeout)
            got = True
            while True:  # one read for everything that arrived
                self.events.get_nowait()
        except queue.Empty:
            pass
        self._last_read = time.monotonic()
        return got

    def close(self) -> None:
        self._stop.set()
        if self._stream is not None:
            self._stream.close()
