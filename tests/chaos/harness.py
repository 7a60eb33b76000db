"""One chaos run: trainq's processes as a small deployment would run them (the API under
gunicorn with 2 workers, 2 RQ workers, 2 watchers electing a leader) on a Redis of its own and
the local control plane; jobs from 3 teams submitted at a steady rate while faults land one
after another; a supervisor that restarts a dead process after a second (its kubelet). Then
the submissions stop, the run waits for every job to end, and counts: accepted, lost,
duplicate PyTorchJobs, stuck, time from each fault's end to the next PyTorchJob creation,
and how far job records trailed their PyTorchJobs."""

import hashlib
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from random import Random

import redis
import requests

from tests.chaos import faults
from tests.chaos.observe import TERMINAL_RECORD, PyTorchJobWatch, Staleness
from tests.support import free_port, wait_until
from tests.support.redis_server import PrivateRedis
from tests.support.stack import Api, Stack, job_body
from wrapper.redis import keys

RESPAWN_S = 1.0  # a kubelet restarts a crashed container about this fast (first restart)
TEAMS = {"alpha": "alpha-dev-token", "beta": "beta-dev-token", "gamma": "gamma-chaos-token"}
PROCESSES = ["api", "w1", "w2", "watcher-a", "watcher-b"]


@dataclass
class FaultRecord:
    kind: str
    detail: str
    at_s: float  # since the run's start
    duration_s: float
    resumed_s: float | None = None  # fault end -> first PyTorchJob created after it
    while_submitting: bool = True  # it ended while jobs were still coming (else none may wait)


def team_config(raw_teams: list[dict]) -> list[dict]:
    """alpha and beta of the local config, and gamma like beta: 3 teams, simulated nodes."""
    alpha, beta = (next(t for t in raw_teams if t["name"] == n) for n in ("alpha", "beta"))
    gamma = {**beta, "name": "gamma", "namespace": "team-gamma",
             "token_sha256": [hashlib.sha256(TEAMS["gamma"].encode()).hexdigest()]}  # fmt: skip
    return [alpha, beta, gamma]


class ChaosRun:
    def __init__(self, workdir: Path, kubeconfig: str, jobs: int, rate: float, seed: int):
        import yaml

        from tests.support import LOCAL_CONFIG

        self.dir, self.kubeconfig = workdir, kubeconfig
        self.jobs, self.rate, self.rnd = jobs, rate, Random(seed)
        self.redis = PrivateRedis(workdir / "redis")
        raw = yaml.safe_load(LOCAL_CONFIG.read_text())
        self.stack = Stack(
            workdir / "stack", self.redis.url, kubeconfig, teams=team_config(raw["teams"]),
            submissions={"max_queued_jobs": 100_000, "per_minute": 100_000},
        )  # fmt: skip
        self.namespaces = ["team-alpha", "team-beta", "team-gamma"]
        self.api_port = free_port()
        self.api = Api(f"http://127.0.0.1:{self.api_port}")
        self.accepted: dict[str, int] = {}  # idempotency key -> job id
        self.refused_attempts = 0
        self.faults: list[FaultRecord] = []
        self.respawns: dict[str, int] = {}
        self.stop, self.submitted = threading.Event(), threading.Event()
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.jobs_watch = PyTorchJobWatch(kubeconfig, self.stack.instance)
        self.staleness = Staleness(self.jobs_watch, self.redis.url)

    # --- processes ----------------------------------------------------------------------
    def spawn(self, name: str) -> None:
        if name == "api":
            argv = ["-m", "gunicorn", "-c", "wrapper/gunicorn.conf.py", "--workers", "2",
                    "--threads", "8", "wrapper.wsgi:app"]  # fmt: skip
            import sys

            self.stack._start("api", [sys.executable, *argv],
                              {"TRAINQ_API_PORT": str(self.api_port)})  # fmt: skip
        elif name.startswith("watcher"):
            self.stack.start_watcher(name)
        else:
            self.stack.start_worker(name)

    def supervise(self) -> None:
        """Restart any of PROCESSES that died, RESPAWN_S after noticing."""
        while not self.stop.wait(0.2):
            for name in PROCESSES:
                proc = self.stack.procs.get(name)
                if proc is None or proc.poll() is not None:
                    time.sleep(RESPAWN_S)
                    self.spawn(name)
                    with self.lock:
                        self.respawns[name] = self.respawns.get(name, 0) + 1

    def wait_respawned(self, name: str) -> float:
        old = self.stack.procs[name]
        wait_until(f"{name} restarted", lambda: self.stack.procs[name] is not old, 30, 0.05)
        return time.monotonic()

    # --- load ---------------------------------------------------------------------------
    def _submit_one(self, i: int, session: requests.Session) -> None:
        team = list(TEAMS)[i % 3]
        rnd = Random(i)
        run_for = {"trainq.dev/sim-run-for": f"{rnd.randint(2, 8)}s"}
        body = job_body(f"chaos-{i}", workers=rnd.choice([0, 1, 2]), annotations=run_for)
        key = f"chaos-{self.stack.instance}-{i}"
        headers = {"Authorization": f"Bearer {TEAMS[team]}", "Idempotency-Key": key}
        while True:  # a client's retry loop: same key, so a retry never queues a second job
            try:
                r = session.post(f"{self.api.base}/v1/teams/{team}/jobs", json=body,
                                 headers=headers, timeout=10)  # fmt: skip
                if r.status_code in (200, 201, 202):
                    with self.lock:
                        self.accepted[key] = r.json()["id"]
                    return
            except requests.RequestException:
                pass
            with self.lock:
                self.refused_attempts += 1
            time.sleep(0.5)

    def submit_all(self) -> None:
        """Job i is due at i / rate; 6 clients, so a slow retry does not slow the rest."""
        start, nxt = time.monotonic(), iter(range(self.jobs))
        lock = threading.Lock()

        def client():
            session = requests.Session()
            while True:
                with lock:
                    i = next(nxt, None)
                if i is None:
                    return
                delay = start + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._submit_one(i, session)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.submitted.set()

    # --- the run ------------------------------------------------------------------------
    def inject(self, kinds: list[str], gap_s: float) -> None:
        for kind in kinds:
            if self.stop.is_set():
                return
            started = time.monotonic()
            detail, ended = faults.FAULTS[kind](self, self.rnd)
            record = FaultRecord(kind, detail, round(started - self.t0, 1),
                                 round(ended - started, 1))  # fmt: skip
            self.faults.append(record)
            print(f"[chaos {started - self.t0:6.1f}s] {kind}: {detail}", flush=True)

            # Recovered (a PyTorchJob created since) before the next fault, then a pause.
            def resumed(e=ended):
                return self.jobs_watch.creations_after(e) is not None or self.submitted.is_set()

            try:
                wait_until("dispatch to resume", resumed, 120, 0.2)
            except AssertionError:
                pass  # recorded as never resumed
            record.while_submitting = not self.submitted.is_set()
            after = self.jobs_watch.creations_after(ended)
            record.resumed_s = None if after is None else round(after, 2)
            time.sleep(gap_s * (0.5 + self.rnd.random()))

    def statuses(self, ids: list[int]) -> list[str | None]:
        client = redis.Redis.from_url(self.redis.url)
        with client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(keys.job_key(job_id), "status")
            return [v.decode() if v else None for v in pipe.execute()]

    def run(self, kinds: list[str], gap_s: float, drain_s: float) -> dict:
        self.redis.start()
        for name in PROCESSES:
            self.spawn(name)
        wait_until("the API", lambda: _healthy(self.api.base), 60)
        self.jobs_watch.start()
        self.staleness.start()
        threading.Thread(target=self.supervise, daemon=True).start()
        submitter = threading.Thread(target=self.submit_all, daemon=True)
        submitter.start()
        time.sleep(5)
        self.inject(kinds, gap_s)
        submitter.join()
        submitted_s = time.monotonic() - self.t0
        ids = sorted(self.accepted.values())

        def all_ended():
            return all(s in TERMINAL_RECORD for s in self.statuses(ids))

        try:
            wait_until("every accepted job to end", all_ended, drain_s, 1)
        except AssertionError:
            pass  # counted as stuck
        self.stop.set()
        return self.tally(ids, submitted_s)

    def tally(self, ids: list[int], submitted_s: float) -> dict:
        statuses = dict(zip(ids, self.statuses(ids), strict=True))
        lost = [i for i, s in statuses.items() if s is None]
        stuck = {i: s for i, s in statuses.items() if s is not None and s not in TERMINAL_RECORD}
        client = redis.Redis.from_url(self.redis.url)
        duplicates = {}
        with self.jobs_watch.lock:
            uids = {j: len(u) for j, u in self.jobs_watch.uids.items()}
        with client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(keys.job_key(job_id), "preemptions", "node_losses")
            rows = pipe.execute()
            requeues = {j: sum(int(v or 0) for v in row) for j, row in zip(ids, rows, strict=True)}
        for job_id, count in uids.items():
            # A job sent back to its queue (preempted, node lost) keeps its PyTorchJob: more
            # than one PyTorchJob is a duplicate unless the first was deleted for a requeue.
            if count > 1 + requeues.get(job_id, 0):
                duplicates[job_id] = {"pytorchjobs": count, "requeues": requeues.get(job_id, 0)}
        samples = sorted(self.staleness.samples)
        resumed = [f.resumed_s for f in self.faults if f.resumed_s is not None]
        return {
            "jobs": self.jobs,
            "rate_per_s": self.rate,
            "teams": list(TEAMS),
            "accepted": len(ids),
            "lost": len(lost),
            "lost_ids": lost[:20],
            "duplicate_pytorchjobs": len(duplicates),
            "duplicates": dict(list(duplicates.items())[:20]),
            "stuck": len(stuck),
            "stuck_ids": dict(list(stuck.items())[:20]),
            "by_status": _count(statuses.values()),
            "requeued_jobs": sum(1 for r in requeues.values() if r),
            "refused_submission_attempts": self.refused_attempts,
            "respawns": self.respawns,
            "faults": [asdict(f) for f in self.faults],
            "max_resume_s": round(max(resumed), 2) if resumed else None,
            "faults_without_resume": sum(
                1 for f in self.faults if f.resumed_s is None and f.while_submitting
            ),
            "staleness_samples": len(samples),
            "staleness_p50_s": _pct(samples, 0.50),
            "staleness_p99_s": _pct(samples, 0.99),
            "staleness_max_s": round(samples[-1], 2) if samples else None,
            "submitting_s": round(submitted_s, 1),
            "total_s": round(time.monotonic() - self.t0, 1),
            "watch_reconnects": self.jobs_watch.reconnects,
        }

    def close(self) -> None:
        self.stop.set()
        self.jobs_watch.stop.set()
        self.staleness.stop.set()
        self.stack.close()
        self.redis.stop()


def _healthy(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=1).ok
    except requests.RequestException:
        return False


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _pct(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    if len(samples) == 1:
        return round(samples[0], 2)
    return round(statistics.quantiles(samples, n=100, method="inclusive")[int(q * 100) - 1], 2)
