"""A run's reported metrics in Redis (`keys.run_metrics`): written by the API as a trainer
reports (APPEND_METRICS enforces the per-run bounds atomically), read by the metrics and runs
endpoints and by the watcher's stall sweep. The keys expire on their own: while the job may
still run, its longest runtime plus the retention period; once it ended, the retention period
(`expire_after_end`), so they never outlive the record by much."""

import json
import time

from redis import Redis

from wrapper.redis import keys
from wrapper.redis.scripts.run_metrics import RATE_LIMITED, TOO_MANY_POINTS, AppendMetrics
from wrapper.runs import reports
from wrapper.runs.reports import MetricsReport

EPOCH_PREFIX = "e:"
SUMMARY_FIELDS = ("final", "weights_sha256", "hyperparameters", "points")


class RateLimited(Exception):
    """More than MAX_REPORTS_PER_SECOND reports for one run in this second."""


class TooManyPoints(Exception):
    """The report would take the run past MAX_POINTS_PER_JOB epoch points."""


def _encoded(values: dict[str, float]) -> dict:
    return {k: reports.encode(v) for k, v in values.items()}


class RunMetrics:
    def __init__(self, client: Redis):
        self.redis = client
        self._append = AppendMetrics(client)

    def append(self, job_id: int, report: MetricsReport, ttl: int) -> int:
        """Store the report; returns the run's epoch points. Raises RateLimited, TooManyPoints."""
        epochs = {f"{EPOCH_PREFIX}{p.epoch}": json.dumps({"epoch": p.epoch, **_encoded(p.values)})
                  for p in report.epochs}  # fmt: skip
        others = {}
        if report.final is not None:
            others["final"] = json.dumps(_encoded(report.final))
        if report.weights_sha256:
            others["weights_sha256"] = json.dumps(report.weights_sha256)
        if report.hyperparameters is not None:
            others["hyperparameters"] = json.dumps(report.hyperparameters)
        now = time.time()
        code, count = self._append(
            job_id=job_id, second=int(now), epochs=epochs, others=others,
            progress_at=repr(now), nonfinite=reports.non_finite_loss(report),
            max_points=reports.MAX_POINTS_PER_JOB, max_rate=reports.MAX_REPORTS_PER_SECOND,
            ttl=ttl,
        )  # fmt: skip
        if code == RATE_LIMITED:
            raise RateLimited()
        if code == TOO_MANY_POINTS:
            raise TooManyPoints()
        return count

    def read(self, job_id: int) -> dict:
        """The run's series (by epoch), final values and what it reported about itself."""
        raw = {k.decode(): v for k, v in self.redis.hgetall(keys.run_metrics(job_id)).items()}
        epochs = sorted((json.loads(v) for k, v in raw.items() if k.startswith(EPOCH_PREFIX)),
                        key=lambda p: p["epoch"])  # fmt: skip
        out = _summary([raw.get(f) for f in SUMMARY_FIELDS])
        progress = raw.get("progress_at")
        return {
            "epochs": epochs,
            **out,
            "reported_at": float(progress) if progress else None,
            "non_finite_loss": json.loads(raw["nonfinite"]) if raw.get("nonfinite") else None,
        }

    def summaries(self, ids: list[int]) -> list[dict]:
        """Per run: final values, weights sha256, hyperparameters, point count."""
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(keys.run_metrics(job_id), *SUMMARY_FIELDS)
            return [_summary(row) for row in pipe.execute()]

    def progress(self, ids: list[int]) -> list[tuple[float | None, dict | None]]:
        """Per run: when it last reported (epoch seconds) and its first non-finite loss."""
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(keys.run_metrics(job_id), "progress_at", "nonfinite")
            rows = pipe.execute()
        return [(float(at) if at else None, json.loads(bad) if bad else None) for at, bad in rows]

    def expire_after_end(self, job_id: int, seconds: int) -> None:
        self.redis.expire(keys.run_metrics(job_id), seconds)


def _summary(row: list) -> dict:
    final, weights, hyper, points = row
    return {
        "final": json.loads(final) if final else None,
        "weights_sha256": json.loads(weights) if weights else None,
        "hyperparameters": json.loads(hyper) if hyper else None,
        "points": int(points) if points else 0,
    }
