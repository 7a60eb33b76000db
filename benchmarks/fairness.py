"""5b. Fairness under saturation: Jain's index of (used capacity / weight) across teams, for the
admission policy in force (`queue_workers.worker.selection.pick_next`), round robin and FIFO.

A deterministic simulation over the pure policy (no Redis, no Kubernetes): a cluster of
`capacity_jobs` equal slots, teams of weights 1, 1, 2, 4 whose quota is the whole cluster, all
with a backlog submitted at the start; the first team submits four times as many jobs as the
others (a heavy submitter, which FIFO favours). Each job runs `duration` seconds. Every
simulated second, finished jobs free their slots and the policy admits jobs into free capacity.
Jain's index J = (sum x)^2 / (n * sum x^2) of x_i = cpu in use by team i / weight_i, averaged
over the seconds in which every team still has queued jobs: 1.0 = capacity split exactly by
weight; 1/n = one team takes everything.
"""

from dataclasses import dataclass

from queue_workers.worker import selection
from wrapper.admission import Candidate, ClusterState, Res, TeamState

SLOT = Res(cpu=1000, memory=1 << 30, gpu=0)  # one job: 1 cpu, 1 GiB
WEIGHTS = {"heavy": 1.0, "w1": 1.0, "w2": 2.0, "w4": 4.0}


@dataclass
class _Job:
    id: int
    team: str
    submitted: float


def jain(values: list[float]) -> float:
    total, squares = sum(values), sum(v * v for v in values)
    return (total * total) / (len(values) * squares) if squares else 1.0


def _backlog(per_team: int) -> list[_Job]:
    jobs, next_id = [], 1
    for team in WEIGHTS:
        count = per_team * (4 if team == "heavy" else 1)
        for k in range(count):
            # The heavy team submits first: FIFO serves its whole backlog before the others.
            offset = 0.0 if team == "heavy" else 1.0
            jobs.append(_Job(next_id, team, offset + k / count))
            next_id += 1
    return sorted(jobs, key=lambda j: j.submitted)


def _policy_admit(queues, usage, running, capacity, now) -> list[int]:
    teams = tuple(
        TeamState(
            name=name, weight=w, quota=capacity, max_jobs=10**9, borrowing_limit=None,
            usage=usage[name], running=running[name],
            queue=tuple(Candidate(j.id, SLOT, 0, j.submitted) for j in queues[name]),
        )
        for name, w in WEIGHTS.items()
    )  # fmt: skip
    state = ClusterState(teams=teams, capacity=capacity, now=now)
    return [a.job_id for a in selection.pick_next(state)]


def simulate(policy: str, per_team: int, capacity_jobs: int, duration: int) -> dict:
    capacity = SLOT.scale(capacity_jobs)
    backlog = _backlog(per_team)
    queues = {t: [j for j in backlog if j.team == t] for t in WEIGHTS}
    by_id = {j.id: j for j in backlog}
    ends: list[tuple[int, str]] = []  # (end second, team)
    usage = dict.fromkeys(WEIGHTS, Res())
    running = dict.fromkeys(WEIGHTS, 0)
    rr_next, samples, now = 0, [], 0
    while any(queues.values()) and now < 100_000:
        for end, team in [e for e in ends if e[0] <= now]:
            ends.remove((end, team))
            usage[team], running[team] = usage[team] - SLOT, running[team] - 1
        free = capacity_jobs - sum(running.values())
        if policy == "admission":
            admitted = _policy_admit(queues, usage, running, capacity, float(now))[:free]
        elif policy == "fifo":
            admitted = [j.id for j in sorted((j for q in queues.values() for j in q),
                                             key=lambda j: j.submitted)[:free]]  # fmt: skip
        else:  # round robin over teams with queued work, as baselines.round_robin
            admitted, names = [], list(WEIGHTS)
            heads = {t: 0 for t in names}
            while len(admitted) < free and any(heads[t] < len(queues[t]) for t in names):
                team = names[rr_next % len(names)]
                rr_next += 1
                if heads[team] < len(queues[team]):
                    admitted.append(queues[team][heads[team]].id)
                    heads[team] += 1
        for job_id in admitted:
            job = by_id[job_id]
            queues[job.team].remove(job)
            usage[job.team], running[job.team] = usage[job.team] + SLOT, running[job.team] + 1
            ends.append((now + duration, job.team))
        if all(queues.values()):
            samples.append(jain([usage[t].cpu / WEIGHTS[t] for t in WEIGHTS]))
        now += 1
    return {"jain_mean": round(sum(samples) / len(samples), 3) if samples else None,
            "saturated_seconds": len(samples)}  # fmt: skip


def run(per_team: int, capacity_jobs: int, duration: int) -> dict:
    out = {p: simulate(p, per_team, capacity_jobs, duration)
           for p in ("admission", "round_robin", "fifo")}  # fmt: skip
    return {
        "weights": WEIGHTS,
        "jobs_per_team": {t: per_team * (4 if t == "heavy" else 1) for t in WEIGHTS},
        "capacity_jobs": capacity_jobs,
        "duration_s": duration,
        **out,
        "goals": {"jain": "admission above round robin and FIFO"},
    }
