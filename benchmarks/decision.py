"""4b. Admission decision time at 10, 100 and 1,000 teams with 10,000 queued jobs (issue 4).

Pure: a synthetic ClusterState (no Redis, no Kubernetes) with the queued jobs spread evenly
over the teams, every team at half its quota and the cluster nearly full, so the policy has
to look past heads that do not fit. Times `selection.pick_next` (what a worker runs per
decision) and the full `admission.plan` (what the API's queue view runs), against the
baseline of round robin over the same teams.

Two more shapes of the decision, at the largest team count: `fits`, the scale benchmark's store
(100 queued jobs per team, nothing running, room for every head), and `young_heads`, the same
snapshot as above with every head still within the head-of-line bound (nothing holds capacity,
so the policy reads on past each blocked head).
"""

import dataclasses

from benchmarks import baselines
from benchmarks.stats import summary_ms, timed
from queue_workers.worker import selection
from wrapper.admission import Candidate, ClusterState, Res, TeamState

GIB = 1 << 30


def state(teams: int, jobs: int, now: float = 1_000_000.0) -> ClusterState:
    per_team = max(1, jobs // teams)
    quota = Res(cpu=64_000, memory=256 * GIB, gpu=8)
    out = []
    next_id = 1
    for t in range(teams):
        queue = []
        for k in range(per_team):
            gpu = 1 + (k % 4)  # mixed sizes: some heads fit, some do not
            demand = Res(cpu=4_000 * gpu, memory=16 * GIB * gpu, gpu=gpu)
            queue.append(Candidate(next_id, demand, priority=k % 3, submitted=now - 600 + k))
            next_id += 1
        queue.sort(key=lambda j: (-j.priority, j.submitted))
        out.append(
            TeamState(
                name=f"team-{t}", weight=1.0 + (t % 4), quota=quota, max_jobs=20,
                borrowing_limit=None, usage=Res(cpu=32_000, memory=128 * GIB, gpu=4),
                running=4, queue=tuple(queue),
            )
        )  # fmt: skip
    used_gpu = 4 * teams
    capacity = Res(cpu=64_000 * teams, memory=256 * GIB * teams, gpu=used_gpu + 3)
    return ClusterState(teams=tuple(out), capacity=capacity, now=now, admission_rate=0.5)


def fitting_state(teams: int, per_team: int = 100, now: float = 1_000_000.0) -> ClusterState:
    """Every team with queued jobs and none running, in a cluster with room for every head."""
    out, next_id = [], 1
    demand, quota = Res(cpu=4_000, memory=16 * GIB, gpu=1), Res(cpu=64_000, memory=256 * GIB, gpu=8)
    for t in range(teams):
        queue = tuple(Candidate(next_id + k, demand, 0, now - 60 + k) for k in range(per_team))
        next_id += per_team
        out.append(TeamState(f"team-{t}", 1.0, quota, 20, None, Res(), 0, queue))
    capacity = Res(cpu=64_000 * teams, memory=256 * GIB * teams, gpu=8 * teams)
    return ClusterState(teams=tuple(out), capacity=capacity, now=now, admission_rate=0.5)


def run(team_counts=(10, 100, 1000), jobs: int = 10_000, repeats: int = 50) -> dict:
    from wrapper.admission import explain

    out = {"jobs": jobs, "by_teams": {}}
    for n in team_counts:
        st = state(n, jobs)
        snap = baselines.RoundRobinSnapshot(
            tuple(
                baselines.RoundRobinTeam(t.name, t.weight, len(t.queue), t.running)
                for t in st.teams
            ),
            None,
        )
        decision = summary_ms(timed(lambda st=st: selection.pick_next(st), repeats, budget_s=30))
        full = summary_ms(timed(lambda st=st: explain(st), max(3, repeats // 5), budget_s=30))
        rr = summary_ms(timed(lambda s=snap: baselines.round_robin(s), repeats, budget_s=10))
        out["by_teams"][str(n)] = {"decision": decision, "full_plan": full, "round_robin": rr}
    n = max(team_counts)
    fits = fitting_state(n)
    young = dataclasses.replace(state(n, jobs), head_wait_seconds=3600.0)
    for key, st, count in (("fits", fits, n * 100), ("young_heads", young, jobs)):
        times = timed(lambda st=st: selection.pick_next(st), repeats, budget_s=30)
        out[key] = {"teams": n, "jobs": count, "decision": summary_ms(times)}
    out["goals"] = {"decision_ms": 2}
    return out
