"""4b's reference: the same admission code (`wrapper.admission.decide`) over the same seeded
workload with zero turnover latency, in simulated time: each job is admitted the instant the
policy allows and ends exactly `run-for` later, its replicas on the nodes admission counted.
What the policy itself could reach on this workload; the measured figure's gap to it is the
real stack's latency (status mirror, release, admission, create, scheduling) and pod start."""

import math

from wrapper import admission
from wrapper.admission.ordering import size_ordered
from wrapper.admission.placement import Node
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

GI = 2**30
NODE = Res(64_000, 512 * GI, 8)  # as packing's kwok nodes (gpus per node: packing.GPUS_PER_NODE)
WHOLE = Res(1_000_000, 8192 * GI, 1000)  # packing's quotas: the whole pool


def utilisation(shapes, nodes: int, head_wait: float, limit, size_credit: float = 0.0) -> dict:
    """shapes: packing.workload's (team, gpus per replica, replicas, run-for); limit(run_s):
    the job's declared max_runtime_seconds; size_credit: `admission.size_credit_seconds`.
    Gpu use over the time some job was still queued."""
    jobs, queued = {}, {}
    for i, (team, gpu, replicas, run_for) in enumerate(shapes, start=1):
        each, run_s = Res(1000, GI, gpu), int(run_for[:-1])
        jobs[i] = (team, Candidate(i, each.scale(replicas), 0, 0.0, replicas, each,
                                   float(limit(run_s))), run_s)  # fmt: skip
        queued.setdefault(team, []).append(i)
    names = [f"n{k}" for k in range(nodes)]
    running: list[tuple[float, float, int, tuple[str, ...]]] = []  # end, deadline, id, nodes
    now = busy = 0.0
    waited = None
    while any(queued.values()) or running:
        while True:
            state = _state(jobs, queued, running, names, now, head_wait, size_credit)
            adm = admission.decide(state, 1)
            if not adm:
                break
            team, job, run_s = jobs[adm[0].job_id]
            running.append((now + run_s, now + job.max_runtime, job.id, adm[0].placement))
            queued[team].remove(job.id)
        if waited is None and not any(queued.values()):
            waited = now
        if not running:
            break  # (what is left can never be placed on these nodes)
        running.sort()
        end = running[0][0]
        if waited is None:
            busy += sum(jobs[j][1].demand.gpu for _, _, j, _ in running) * (end - now)
        now = end
        running.pop(0)
    pool = nodes * NODE.gpu
    return {"utilisation_while_waiting": round(busy / (pool * waited), 3) if waited else None,
            "makespan_s": now, "never_placed": sum(len(q) for q in queued.values())}  # fmt: skip


def _state(jobs, queued, running, names, now, head_wait, credit) -> ClusterState:
    free = dict.fromkeys(names, NODE)
    drain = dict.fromkeys(names, -math.inf)
    usage: dict[str, Res] = {t: Res() for t in queued}
    count = dict.fromkeys(queued, 0)
    for _, deadline, j, placement in running:
        team, job, _ = jobs[j]
        for n in placement:
            free[n], drain[n] = free[n] - job.replica(), max(drain[n], deadline)
        usage[team], count[team] = usage[team] + job.demand, count[team] + 1
    nodes = {n: Node(n, NODE, 110, free[n], 110, drain[n]) for n in names}
    # (each queue in admission's order, as the store reads it)
    teams = tuple(TeamState(t, 1.0, WHOLE, 1000, None, usage[t], count[t],
                            size_ordered(tuple(jobs[i][1] for i in queued[t]), credit))
                  for t in queued)  # fmt: skip
    cap = NODE.scale(len(names))
    return ClusterState(teams, cap, now, head_wait, None, {}, nodes, size_credit_seconds=credit)
