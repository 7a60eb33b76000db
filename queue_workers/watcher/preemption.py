"""The preemption sweep: when the admission picture changes (a submission, a job's end: the
admission version, looked at every CHANGE_POLL_SECONDS) and at least every SWEEP_SECONDS, when
some team may preempt, the watcher takes
an admission snapshot and the running jobs, asks `wrapper.admission.preemption.plan` which jobs
to preempt for whom, and carries it out: the preemptor's nomination first (the room its victims
free is its own), then per victim its PyTorchJob suspended (the operator deletes its pods after
their grace period: `dispatch.termination_grace_seconds`, time to checkpoint) and its record
sent back to its place in its queue (`wrapper.jobs.preemption`). Nominations lapse
NOMINATION_SLACK_SECONDS after the grace period, or go once their job left the queue."""

import json
import logging
import threading
import time

from queue_workers.kube.client import Kube
from queue_workers.watcher.loops import keep_sweeping
from queue_workers.watcher.records import backend_of, location, team_namespaces
from wrapper.admission import nominations
from wrapper.admission import preemption as P
from wrapper.admission.resources import fmt, replica_request
from wrapper.admission.snapshot import Nomination
from wrapper.admission.store import AdmissionStore
from wrapper.clock import epoch
from wrapper.config import TrainqConfig
from wrapper.jobs import preemption as jobs
from wrapper.jobs.store import JobStore
from wrapper.redis import keys

log = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0
# An entitled job waited half a sweep period on average before its reclaim was planned; a GET
# of the admission version this often costs Redis nothing and starts the sweep at once.
CHANGE_POLL_SECONDS = 0.05
MIN_GAP_SECONDS = 0.2  # at most 5 passes a second however often the picture changes
NOMINATION_SLACK_SECONDS = 30.0


def policies(config: TrainqConfig) -> dict[str, P.Policy]:
    return {t.name: P.Policy(t.preemption.reclaim, t.preemption.within_team,
                             t.preemption.min_runtime_seconds) for t in config.teams}  # fmt: skip


class PreemptionSweep:
    def __init__(self, config: TrainqConfig, store: JobStore, admissions: AdmissionStore,
                 kube: Kube, stop: threading.Event):  # fmt: skip
        self.config, self.store, self.admissions = config, store, admissions
        self.kube, self.stop = kube, stop
        self.policies = policies(config)
        self.namespaces = team_namespaces(config)
        self._shapes: dict[int, tuple] = {}  # job id -> (team, demand, priority, each)

    def sweep(self) -> None:
        if not any(p.preempts for p in self.policies.values()):
            self.stop.wait(SWEEP_SECONDS)
            return
        seen = self.store.redis.get(keys.ADMISSION_VERSION)
        self.once()
        self.wait_for_change(seen, SWEEP_SECONDS)

    def wait_for_change(self, seen: bytes | None, timeout: float) -> None:
        """Until the admission version differs from `seen` (read before the pass, so a change
        during it counts), `timeout` passes, or the watcher stops."""
        start = time.monotonic()
        while not self.stop.wait(CHANGE_POLL_SECONDS) and time.monotonic() < start + timeout:
            if time.monotonic() - start >= MIN_GAP_SECONDS and \
                    self.store.redis.get(keys.ADMISSION_VERSION) != seen:  # fmt: skip
                return

    def once(self, now: float | None = None) -> list[P.Preemption]:
        """One pass: plan and carry out; the preemptions made."""
        state, _ = self.admissions.load(self.config.admission.lookahead)
        now = state.now if now is None else now
        queued = {j.id for t in state.teams for j in t.queue}
        nominations.prune(self.store.redis, now, queued)
        if not any(t.queue for t in state.teams):
            return []
        found = P.plan(state, self.running, self.policies)  # (read only when needed)
        for p in found:
            self.carry_out(p, state.now)
        return found

    def running(self) -> list[P.Running]:
        """The preemptible jobs, with the node each replica is counted on."""
        ids = self.store.ids_with_status(*jobs.PREEMPTIBLE)
        rows = self.store.fields_of(ids, "team", "spec", "admitted_at")
        placed = self.store.redis.hmget(keys.PLACEMENTS, ids) if ids else []
        out = []
        for job_id, (team, spec, admitted), where in zip(ids, rows, placed, strict=True):
            if team is None or spec is None or admitted is None:
                continue
            shape = self._shapes.get(job_id)
            if shape is None:
                each = replica_request(spec)
                shape = self._shapes[job_id] = (each.scale(1 + spec["workers"]), each)
            demand, each = shape
            nodes = tuple(json.loads(where)["nodes"]) if where else ()
            out.append(P.Running(job_id, team, demand, spec["priority"], epoch(admitted), each,
                                 nodes))  # fmt: skip
        if len(self._shapes) > 4 * len(ids) + 1000:
            self._shapes = {i: s for i, s in self._shapes.items() if i in set(ids)}
        return out

    def carry_out(self, p: P.Preemption, now: float) -> None:
        until = now + self.config.dispatch.termination_grace_seconds + NOMINATION_SLACK_SECONDS
        nominations.nominate(
            self.store.redis, p.job_id, Nomination(p.team, p.demand, p.each, p.placement), until
        )
        for victim in self.store.get_many([v.id for v in p.victims]):
            if victim is None:
                continue
            namespace, name = location(victim, self.namespaces, self.config.instance)
            # Suspended first: a job back in its queue never keeps pods that run.
            if not self.kube.set_suspended(namespace, name, True, None,
                                           backend_of(victim, self.config)):  # fmt: skip
                continue  # (its PyTorchJob is gone: it is ending anyway)
            jobs.preempt(self.store, victim, p.reason, self.message(p, victim),
                         {"job": p.job_id, "team": p.team})  # fmt: skip

    def message(self, p: P.Preemption, victim: dict) -> str:
        """What the victim's team reads: the preemptor by id within the team; another team's
        reclaim without naming it (docs/security.md)."""
        if p.reason == P.PRIORITY:
            return (f"preempted by job {p.job_id} of team {p.team}, of higher priority; "
                    "back in its queue at its place")  # fmt: skip
        team = self.config.team(victim["team"])
        gpus = team.quota.gpu if team else 0
        return (
            f"preempted: team {victim['team']} used more than its quota ({fmt('gpu', gpus)} "
            "gpu) and another team reclaimed its own; back in its queue at its place"
        )

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
