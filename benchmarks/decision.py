"""4b. Admission decision time at 10, 100 and 1,000 teams with 10,000 queued jobs (issue 4).

Pure: a synthetic ClusterState (no Redis, no Kubernetes) with the queued jobs spread evenly
over the teams, every team at half its quota and the cluster nearly full, so the policy has
to look past heads that do not fit. Times `selection.pick_next` (what a worker runs per
decision) and the full `admission.plan` (what the API's queue view runs), against the
baseline of round robin over the same teams.
"""

from benchmarks.stats import summary_ms, timed
from queue_workers import selection
from wrapper.admission import ClusterState, QueuedJob, Res, TeamState

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
            queue.append(QueuedJob(next_id, demand, priority=k % 3, submitted=now - 600 + k))
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


def run(team_counts=(10, 100, 1000), jobs: int = 10_000, repeats: int = 50) -> dict:
    from wrapper.admission import plan

    out = {"jobs": jobs, "by_teams": {}}
    for n in team_counts:
        st = state(n, jobs)
        snap = selection.Snapshot(
            tuple(selection.TeamState(t.name, t.weight, len(t.queue), t.running) for t in st.teams),
            None,
        )
        decision = summary_ms(timed(lambda st=st: selection.pick_next(st), repeats, budget_s=30))
        full = summary_ms(timed(lambda st=st: plan(st), max(3, repeats // 5), budget_s=30))
        rr = summary_ms(timed(lambda s=snap: selection.round_robin(s), repeats, budget_s=10))
        out["by_teams"][str(n)] = {"decision": decision, "full_plan": full, "round_robin": rr}
    out["goals"] = {"decision_ms": 2}
    return out
