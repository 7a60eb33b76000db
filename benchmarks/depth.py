"""4c. Queue depth: what one submission, one cancellation and one admission cost with 1,000
and with 100,000 jobs queued in one team, side by side in one run (goal: ratio <= 1.5).

Each depth has its own store (a DB of the same Redis, emptied) filled through `JobStore.submit`
(benchmarks/fill.py). Then the two are timed alternately, call by call (sample i at 1,000, then
sample i at 100,000), so whatever else the machine does (an AOF rewrite, another process) falls
on both alike; only the depth differs. The calls are the processes' own code:
- submit: `JobStore.submit` at the default priority (behind everyone) and at a priority above
  every queued job (the insert that used to scan the team's list);
- cancel: `wrapper.jobs.cancellation.cancel` of jobs at the back of the queue (the deepest);
- admit: a worker's claim, placement-true: `AdmissionStore.load` (the snapshot, with one node
  in the node cache), `pick_next`, and the ADMIT script; the admitted job is then cancelled
  (not timed) so that the team's usage stays the same from sample to sample;
- status page: `JobStore.list_team(team, "cancelled", 50)` (`?status=cancelled`), a status
  that is rare in a deep queue.
The admission view the API builds (`wrapper.admission.views.build`: every queue page and
queued job read) is timed too; it has no goal and is reported as measured.
"""

import time
from pathlib import Path

from benchmarks.fill import fill_direct
from benchmarks.stack import BenchStack, job_body
from benchmarks.stats import summary_ms
from wrapper.config import load_config
from wrapper.jobs.store import JobStore, body_digest
from wrapper.redis import connect

OPS = ("submit", "submit_first", "cancel", "admit", "status_page")


def _settle(stack: BenchStack, limit_s: float = 120.0) -> None:
    """Wait out a background AOF rewrite or save that the fill started."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        info = stack.redis.info("persistence")
        if not (info.get("aof_rewrite_in_progress") or info.get("rdb_bgsave_in_progress")):
            return
        time.sleep(0.5)


class Depth:
    """One store with `depth` jobs queued in team alpha, and the calls that are timed."""

    def __init__(self, stack: BenchStack, depth: int, samples: int):
        from wrapper.admission.store import AdmissionStore
        from wrapper.api.schemas import JobRequest

        self.stack, self.depth = stack, depth
        self.cfg = load_config(stack.config_path)
        self.store = JobStore(connect(stack.redis_url), [t.name for t in self.cfg.teams])
        self.fill_seconds = fill_direct(stack, ["alpha"], depth)
        body = job_body("depth")
        self.spec = JobRequest.model_validate(body, context={"config": self.cfg}).to_spec(self.cfg)
        self.first = {**self.spec, "priority": 10}
        self.digest = body_digest(body)
        node = {
            "name": "depth-node",
            "labels": {},
            "taints": [],
            "cpu": 10**9,
            "memory": 2**60,
            "gpu": 0,
            "pods": 10**6,
            "used": {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0},
        }
        AdmissionStore(self.store, self.cfg).write_nodes([node], {})
        self.worker = AdmissionStore(self.store, self.cfg, exclusive=True)
        self.worker.load(self.cfg.admission.lookahead)  # a running worker's: warm
        self.back = list(reversed(self.store.queues.ids("alpha", -samples, -1)))

    def submit(self):
        self.store.submit("alpha", self.spec, None, self.digest)

    def submit_first(self):
        self.store.submit("alpha", self.first, None, self.digest)

    def cancel(self):
        from wrapper.jobs.cancellation import cancel

        job_id = self.back.pop(0)
        cancel(self.store, {"id": job_id, "team": "alpha", "status": "queued"}, "team alpha")

    def admit(self):
        from queue_workers.worker.selection import pick_next

        state, _ = self.worker.load(self.cfg.admission.lookahead)
        adm = pick_next(state)[0]
        assert self.worker.admit(adm, 60.0)[0] == "admitted"
        return adm.job_id

    def after_admit(self, job_id: int) -> None:
        from wrapper.jobs.states import JobStatus

        self.store.transition(job_id, JobStatus.CANCELLED, {"reason": "Cancelled"})

    def status_page(self):
        self.store.list_team("alpha", "cancelled", 50, None)

    def view_build(self):
        from wrapper.admission.store import AdmissionStore
        from wrapper.admission.views import build

        build(AdmissionStore(self.store, self.cfg))


def _alternate(cases: list[Depth], op: str, samples: int) -> list[list[float]]:
    out = [[] for _ in cases]
    for _ in range(samples):
        for case, times in zip(cases, out, strict=True):
            t0 = time.perf_counter()
            result = getattr(case, op)()
            times.append(time.perf_counter() - t0)
            if op == "admit":
                case.after_admit(result)
    return out


def run(workdir: Path, db: int, depths: tuple[int, ...] = (1_000, 100_000),
        samples: int = 200) -> dict:  # fmt: skip
    stacks = [BenchStack(workdir / str(d), db + i) for i, d in enumerate(depths)]
    try:
        cases = [Depth(s, d, samples) for s, d in zip(stacks, depths, strict=True)]
        _settle(stacks[0])
        by_depth = {str(c.depth): {"fill_seconds": round(c.fill_seconds, 1)} for c in cases}
        for op in (*OPS, "view_build"):
            count = samples if op != "view_build" else 5
            for case, times in zip(cases, _alternate(cases, op, count), strict=True):
                by_depth[str(case.depth)][op] = summary_ms(times)
        for case in cases:
            by_depth[str(case.depth)]["queued"] = case.store.queues.depth("alpha")
    finally:
        for stack in stacks:
            stack.close()
    low, high = by_depth[str(depths[0])], by_depth[str(depths[-1])]

    def ratio(op: str) -> float:
        return round(high[op]["p50_ms"] / max(low[op]["p50_ms"], 1e-6), 2)

    ratios = {op: ratio(op) for op in OPS}
    return {"depths": list(depths), "by_depth": by_depth, "p50_ratio": ratios,
            "worst_ratio": max(ratios.values()), "goal_ratio": 1.5,
            "view_build_ratio": ratio("view_build")}  # fmt: skip
