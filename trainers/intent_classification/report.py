"""Reporting training metrics to trainq (optional): when the job's env has TRAINQ_METRICS_URL
and TRAINQ_METRICS_TOKEN, rank 0 posts each epoch's metrics and the final ones there. A report
that cannot be sent never stops training: it is logged and its epochs are sent again with the
next report (trainq keeps one point per epoch, so a repeat replaces, never duplicates). Epoch
reports are paced (MIN_INTERVAL_SECONDS apart: trainq takes 10 reports a second per job, and a
small model's epochs can be faster); the last epochs and the final metrics are always sent,
waiting out a 429's Retry-After (up to MAX_RETRY_WAIT_SECONDS) a few times."""

import json
import math
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

URL_ENV, TOKEN_ENV = "TRAINQ_METRICS_URL", "TRAINQ_METRICS_TOKEN"
TIMEOUT_SECONDS = 5
MAX_POINTS = 100  # per report, trainq's bound
MIN_INTERVAL_SECONDS = 0.25
FINAL_TRIES = 4
MAX_RETRY_WAIT_SECONDS = 2.0


def _value(x: float) -> float | str:
    """JSON has no NaN or Infinity: trainq takes them by name (a diverged loss is news)."""
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


class Reporter:
    def __init__(self, url: str | None, token: str | None) -> None:
        self.url, self.token = url, token
        self._sent: set[int] = set()
        self._warned = False
        self._last = -MIN_INTERVAL_SECONDS  # monotonic time of the last post

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Reporter":
        url, token = env.get(URL_ENV, "").strip(), env.get(TOKEN_ENV, "").strip()
        return cls(url or None, token or None) if url and token else cls(None, None)

    @property
    def enabled(self) -> bool:
        return self.url is not None

    def epochs(self, history: list[dict[str, Any]], last: bool = False) -> None:
        """Send the epochs of `history` not sent yet (all of them after a resume); unless
        `last`, not sooner than MIN_INTERVAL_SECONDS after the previous report (they go with
        the next one)."""
        if not last and time.monotonic() - self._last < MIN_INTERVAL_SECONDS:
            return
        todo = [e for e in history if e["epoch"] not in self._sent][-MAX_POINTS:]
        points = [{"epoch": e["epoch"],
                   "values": {k: _value(v) for k, v in e.items() if k != "epoch"}}
                  for e in todo]  # fmt: skip
        if points and self._post({"epochs": points}, FINAL_TRIES if last else 1):
            self._sent |= {e["epoch"] for e in todo}

    def final(self, history: list[dict[str, Any]], final: dict[str, float], weights_sha256: str,
              hyperparameters: dict[str, Any]) -> None:  # fmt: skip
        self.epochs(history, last=True)
        self._post({"final": {k: _value(v) for k, v in final.items()},
                    "weights_sha256": weights_sha256,
                    "hyperparameters": hyperparameters}, FINAL_TRIES)  # fmt: skip

    def _post(self, body: dict[str, Any], tries: int = 1) -> bool:
        if not self.enabled or not self.url.startswith(("http://", "https://")):
            return False
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            self.url, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.token}"},
        )  # fmt: skip
        for attempt in range(tries):
            self._last = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                    return 200 <= response.status < 300
            except urllib.error.HTTPError as err:
                if err.code != 429 or attempt == tries - 1:
                    return self._warn(err)
                wait = err.headers.get("Retry-After", "1")
                time.sleep(min(float(wait) if wait.replace(".", "", 1).isdigit() else 1.0,
                               MAX_RETRY_WAIT_SECONDS))  # fmt: skip
            except (urllib.error.URLError, OSError, ValueError) as err:
                return self._warn(err)
        return False

    def _warn(self, err: Exception) -> bool:
        if not self._warned:  # once: a chatty failure would drown the training log
            print(f"warning: could not report metrics to trainq ({err}); training goes on",
                  file=sys.stderr, flush=True)  # fmt: skip
            self._warned = True
        return False
