"""The stalled-run alert: every SWEEP_SECONDS, each running job whose trainer reported no
progress for its team's `alerts.stall_after_seconds` (counted from its last report, or from
when it last started running), or reported a non-finite loss, gets a `stall` on its record and
a `job.stalled` event (`wrapper.events`: the SSE stream and webhooks), once per stall
(`wrapper.runs.stalls` decides)."""

import logging
import threading
import time

from queue_workers.watcher.loops import keep_sweeping
from wrapper.clock import epoch, iso, utcnow
from wrapper.config import TrainqConfig
from wrapper.events import publish
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.runs import stalls
from wrapper.runs.store import RunMetrics

log = logging.getLogger(__name__)
SWEEP_SECONDS = 2.0
RUNNING = frozenset({JobStatus.RUNNING})


def running_since(record: dict) -> float | None:
    """When the job last started running: its latest admission or start, whichever is later."""
    times = [epoch(record[k]) for k in ("admitted_at", "started_at") if record.get(k)]
    return max(times) if times else None


class StallSweep:
    def __init__(self, config: TrainqConfig, store: JobStore, stop: threading.Event):
        self.config, self.store, self.stop = config, store, stop
        self.metrics = RunMetrics(store.redis)

    def check(self) -> int:
        """One pass; returns how many stalls were announced."""
        ids = self.store.ids_with_status(JobStatus.RUNNING)
        announced, now = 0, time.time()
        records = self.store.get_many(ids)
        for record, (reported_at, bad) in zip(records, self.metrics.progress(ids), strict=True):
            team = record and self.config.team(record["team"])
            if not team or record["status"] != JobStatus.RUNNING:
                continue
            since = running_since(record)
            found = stalls.stall(now, since, reported_at, bad, self.stall_after(team),
                                 record.get("stall"))  # fmt: skip
            if found and self.announce(record, found):
                announced += 1
        return announced

    def stall_after(self, team) -> float:
        """No channel (dispatch.metrics_url unset): no trainer can report progress, so silence
        means nothing; a non-finite loss cannot arrive either."""
        return team.alerts.stall_after_seconds if self.config.dispatch.metrics_url else 0

    def announce(self, record: dict, found: dict) -> bool:
        stall = {**found, "since": iso(found["since"]) if found["since"] else None,
                 "detected_at": utcnow()}  # fmt: skip
        job_id, team = record["id"], record["team"]
        if not self.store.transition(job_id, JobStatus.RUNNING, {"stall": stall}, expect=RUNNING,
                                     known=(JobStatus.RUNNING, team)).applied:  # fmt: skip
            return False  # it stopped running meanwhile
        data = {k: stall[k] for k in ("reason", "message", "since", "detected_at")}
        publish(self.store.redis, team, "job.stalled", job_id, data,
                max_len=self.config.events.max_per_team)  # fmt: skip
        log.warning("job %s stalled: %s", job_id, stall["message"])
        return True

    def sweep(self) -> None:
        self.check()
        self.stop.wait(SWEEP_SECONDS)

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
