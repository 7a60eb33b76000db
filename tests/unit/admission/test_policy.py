"""The admission policy (wrapper.admission), pure: snapshots in, plans out."""

from wrapper import admission as A
from wrapper.admission.pools import Pool, pools_for, tolerates, usable_nodes
from wrapper.admission.resources import Res, demand, fmt
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

GI = 2**30


def gpus(n: int, cpu: int = 1) -> Res:
    return Res(cpu * 1000 * max(n, 1), 4 * GI * max(n, 1), n)


def job(job_id: int, demand: Res, priority: int = 0, submitted: float | None = None):
    return Candidate(job_id, demand, priority, float(job_id) if submitted is None else submitted)


EIGHT, NONE = gpus(8), Res()


def team(name, jobs=(), *, quota=EIGHT, max_jobs=100, borrow=None, usage=NONE, running=0,
         weight=1.0):  # fmt: skip
    return TeamState(name, weight, quota, max_jobs, borrow, usage, running, tuple(jobs))


def state(*teams, capacity=EIGHT, now=10.0, head_wait=60.0, rate=None):
    return ClusterState(tuple(teams), capacity, now, head_wait, rate)


def admitted(p):
    return [a.job_id for a in p.admit]


# --- demand, parsing, formatting ---------------------------------------------------------
def test_demand_counts_every_replica():
    spec = {"workers": 3, "resources": {"cpu": "500m", "memory": "2Gi", "gpu": 2}}
    assert demand(spec) == Res(2000, 8 * GI, 8)


def test_formatting_reads_like_a_person_would():
    assert fmt("cpu", 1500) == "1.5" and fmt("cpu", 4000) == "4"
    assert fmt("memory", 8 * GI) == "8Gi" and fmt("memory", 512 * 2**20) == "512Mi"
    assert fmt("gpu", 3) == "3"


# --- whole-job fit: quota and capacity ---------------------------------------------------
def test_whole_job_must_fit_team_quota():
    t = team("a", [job(1, gpus(4))], quota=gpus(8), usage=gpus(6), running=2)
    p = A.explain(state(t, capacity=gpus(100)))
    assert admitted(p) == []
    assert p.pending[1].reason == A.WAITING_FOR_QUOTA
    assert p.pending[1].message == "needs 4 gpu; team a uses 6 of 8"


def test_max_running_jobs_is_a_quota():
    t = team("a", [job(1, gpus(1))], max_jobs=2, running=2, usage=gpus(2))
    p = A.explain(state(t, capacity=gpus(100)))
    assert p.pending[1].reason == A.WAITING_FOR_QUOTA and "2 of 2 jobs" in p.pending[1].message


def test_whole_job_must_fit_free_cluster_capacity():
    a = team("a", [job(1, gpus(3))], usage=gpus(6), running=6, quota=gpus(16))
    p = A.explain(state(a, capacity=gpus(8)))
    assert admitted(p) == [] and p.pending[1].reason == A.WAITING_FOR_CAPACITY
    assert p.pending[1].message == "needs 3 gpu; 2 of 8 free in the cluster"


def test_admits_several_while_they_fit_and_never_more():
    a = team("a", [job(i, gpus(2)) for i in range(1, 7)], quota=gpus(100))
    p = A.explain(state(a, capacity=gpus(8)))
    assert admitted(p) == [1, 2, 3, 4]
    assert all(p.pending[i].reason == A.WAITING_FOR_CAPACITY for i in (5, 6))


def test_unknown_capacity_admits_nothing():
    p = A.explain(state(team("a", [job(1, gpus(1))]), capacity=None))
    assert admitted(p) == [] and p.pending[1].reason == A.WAITING_FOR_CAPACITY


def test_cpu_only_job_passes_a_gpu_shortage():
    a = team("a", [job(1, gpus(4)), job(2, Res(1000, GI, 0))], quota=gpus(100))
    p = A.explain(state(a, capacity=Res(64_000, 256 * GI, 2)))
    assert admitted(p) == [2]


# --- fair share across teams -------------------------------------------------------------
def test_flooding_team_does_not_starve_a_newcomer():
    alpha = team("alpha", [job(i, gpus(1)) for i in range(1, 101)], usage=gpus(4), running=4)
    beta = team("beta", [job(500, gpus(1), submitted=999.0)])
    p = A.explain(state(alpha, beta, capacity=gpus(5)))
    assert admitted(p) == [500]  # the one free gpu goes to the team with the lower share
    p = A.explain(state(alpha, beta, capacity=gpus(4)))  # full: beta is next in line
    assert p.pending[500].reason == A.WAITING_FOR_CAPACITY
    assert p.pending[1].reason == A.WAITING_FOR_FAIR_SHARE
    assert "another team has a lower weighted share" in p.pending[1].message  # not its name
    assert p.global_order[0] == 500


def test_equal_shares_go_to_the_team_admitted_least_recently():
    """Both of alpha's jobs ended at once (usage 0 like beta's): beta, never admitted, is next,
    though alpha's queued jobs are older."""
    alpha = TeamState("alpha", 1, gpus(8), 100, None, Res(), 0,
                      tuple(job(i, gpus(1)) for i in (1, 2, 3)), last_admitted=9.0)  # fmt: skip
    beta = TeamState("beta", 1, gpus(8), 100, None, Res(), 0, (job(7, gpus(1)),))
    p = A.explain(state(alpha, beta, capacity=gpus(2)))
    assert admitted(p) == [7, 1]


def test_weights_split_capacity_in_proportion():
    heavy = team("heavy", [job(i, gpus(1)) for i in range(1, 20)], weight=2, quota=gpus(100))
    light = team("light", [job(i, gpus(1)) for i in range(100, 120)], quota=gpus(100))
    p = A.explain(state(heavy, light, capacity=gpus(9)))
    teams = [a.team for a in p.admit]
    assert teams.count("heavy") == 6 and teams.count("light") == 3


def test_a_team_whose_head_cannot_fit_does_not_block_others():
    big = team("big", [job(1, gpus(8))])
    small = team("small", [job(2, gpus(1), submitted=50.0)])
    p = A.explain(state(big, small, capacity=gpus(4)))
    # (8 gpus in a 4-gpu cluster can never fit: it waits for capacity to return)
    assert admitted(p) == [2] and p.pending[1].reason == A.EXCEEDS_POOL_CAPACITY
    busy = team("big", [job(1, gpus(8))], usage=gpus(2), quota=gpus(16))
    p = A.explain(state(busy, small, capacity=gpus(9)))
    assert admitted(p) == [2] and p.pending[1].reason == A.WAITING_FOR_CAPACITY


def test_dominant_share_uses_the_scarcest_resource():
    cap = Res(100_000, 1000 * GI, 10)
    a = team("a", usage=Res(50_000, 0, 0), quota=cap)  # 50% of cpu
    b = team("b", usage=Res(0, 0, 2), quota=cap)  # 20% of gpus
    assert A.dominant_share(a.usage, cap, 1) == 0.5 and A.dominant_share(b.usage, cap, 1) == 0.2
    assert A.dominant_share(a.usage, cap, 2) == 0.25


# --- borrowing ---------------------------------------------------------------------------
def test_borrowing_beyond_quota_when_nobody_else_waits():
    a = team("a", [job(1, gpus(2))], quota=gpus(4), borrow=gpus(4), usage=gpus(4), running=4)
    b = team("b", quota=gpus(4))
    p = A.explain(state(a, b, capacity=gpus(8)))
    assert admitted(p) == [1] and p.admit[0].borrowing
    assert p.admit[0].team_limit == gpus(4) + gpus(4)


def test_no_new_borrowing_while_an_entitled_team_waits():
    a = team("a", [job(1, gpus(2))], quota=gpus(4), borrow=gpus(4), usage=gpus(4), running=4)
    b = team("b", [job(2, gpus(4), submitted=1.0)], quota=gpus(4), max_jobs=0)
    p = A.explain(state(a, b, capacity=gpus(8)))  # b cannot run now (max 0 jobs): a may borrow
    assert admitted(p) == [1]
    b = team("b", [job(2, gpus(4), submitted=1.0)], quota=gpus(4), usage=Res(), running=0)
    busy = team("c", usage=gpus(2), running=2, quota=gpus(2))  # leaves 2 free, b needs 4
    p = A.explain(state(a, b, busy, capacity=gpus(8)))
    assert 1 not in admitted(p)
    assert p.pending[1].reason == A.WAITING_FOR_FAIR_SHARE
    assert "no new borrowing while another team waits" in p.pending[1].message  # not its name


def test_borrowing_limit_reached():
    a = team("a", [job(1, gpus(4))], quota=gpus(4), borrow=gpus(2), usage=gpus(4), running=4)
    p = A.explain(state(a, capacity=gpus(16)))
    assert p.pending[1].reason == A.BORROWING_LIMIT_REACHED
    assert p.pending[1].message == "needs 4 gpu; team a uses 4 of 4 quota + 2 borrowing limit"


def test_never_fits_names_resource_and_excess():
    a = team("a", quota=gpus(4), borrow=Res(0, 0, 2))
    problems = A.never_fits(Res(1000, GI, 8), a, gpus(24))
    assert problems == [("gpu", "needs 8 gpu, 2 more than team a's quota plus borrowing limit (6)")]
    problems = A.never_fits(Res(1000, GI, 5), team("b", quota=gpus(64)), gpus(4))
    assert problems == [("gpu", "needs 5 gpu, 1 more than the whole cluster has (4)")]
    assert A.never_fits(gpus(1), a, gpus(4)) == []


# --- order within a team, head of line ---------------------------------------------------
def test_priority_then_submission_is_the_team_order():
    a = team("a", [job(3, gpus(1), 9), job(1, gpus(1)), job(2, gpus(1))], max_jobs=1, running=1,
             usage=gpus(1))  # fmt: skip
    p = A.explain(state(a, capacity=gpus(8)))
    assert p.team_order["a"] == [3, 1, 2] and p.global_order == [3, 1, 2]


def test_smaller_job_passes_a_young_head_that_does_not_fit():
    a = team("a", [job(1, gpus(4), submitted=90.0), job(2, gpus(1), submitted=95.0)],
             usage=gpus(2), running=2)  # fmt: skip
    p = A.explain(state(a, capacity=gpus(4), now=100.0, head_wait=60.0))
    assert admitted(p) == [2]
    assert p.team_order["a"] == [2, 1]  # position: the order that will actually be used


def test_overdue_head_holds_its_team_and_the_next_free_capacity():
    a = team("a", [job(1, gpus(4), submitted=10.0), job(2, gpus(1), submitted=95.0)],
             usage=gpus(1), running=1)  # fmt: skip
    other = team("b", [job(3, gpus(1), submitted=96.0)], usage=gpus(2), running=2)
    p = A.explain(state(a, other, capacity=gpus(4), now=100.0, head_wait=60.0))
    assert admitted(p) == []  # 1 gpu free, but it is held for job 1
    assert p.pending[2].reason == A.WAITING_FOR_HIGHER_PRIORITY
    assert "holds the next free capacity" in p.pending[1].message
    assert p.pending[3].reason == A.WAITING_FOR_CAPACITY
    # Team b's job is told capacity is held, not whose job holds it (docs/security.md).
    assert "held for another team's job" in p.pending[3].message
    # A young head does not hold: the small jobs go past it.
    p = A.explain(state(a, other, capacity=gpus(4), now=20.0, head_wait=60.0))
    assert admitted(p) == [2] or admitted(p) == [3]
    # Once enough frees up, the held head goes first.
    p = A.explain(state(a, other, capacity=gpus(7), now=100.0, head_wait=60.0))
    assert admitted(p)[0] == 1


def test_a_cpu_only_job_is_not_blocked_by_a_held_gpu_head():
    a = team("a", [job(1, gpus(4), submitted=1.0)], usage=gpus(2), running=2)
    b = team("b", [job(2, Res(500, GI, 0), submitted=2.0)], usage=gpus(1), running=1)
    p = A.explain(state(a, b, capacity=Res(64_000, 256 * GI, 4), now=100.0, head_wait=60.0))
    assert admitted(p) == [2]


# --- positions and ETAs ------------------------------------------------------------------
def test_global_position_interleaves_by_fair_share_and_eta_follows_the_rate():
    a = team("a", [job(i, gpus(1)) for i in (1, 2, 3)], usage=gpus(4), running=4)
    b = team("b", [job(i, gpus(1)) for i in (4, 5)], usage=gpus(4), running=4)
    p = A.explain(state(a, b, capacity=gpus(8)))
    assert p.global_order == [1, 4, 2, 5, 3]
    assert p.eta(p.global_order.index(5), rate=0.5) == 8.0
    assert p.eta(3, rate=None) is None


# --- node pools --------------------------------------------------------------------------
def node(name, gpu=8, labels=None, taints=()):
    return {"name": name, "labels": labels or {}, "taints": list(taints), "cpu": 32_000,
            "memory": 256 * GI, "gpu": gpu}  # fmt: skip


LOCAL_TAINT = {"key": "trainq.dev/local-node", "value": "true", "effect": "NoSchedule"}
LOCAL_TOLERATION = {"key": "trainq.dev/local-node", "operator": "Equal", "value": "true",
                    "effect": "NoSchedule"}  # fmt: skip


def test_tainted_nodes_count_only_for_teams_that_tolerate_them():
    nodes = [node("k0"), node("k1"),
             node("local", gpu=0, labels={"pool": "local"}, taints=[LOCAL_TAINT])]  # fmt: skip
    assert usable_nodes(nodes, {}, []) == ["k0", "k1"]
    assert usable_nodes(nodes, {"pool": "local"}, [LOCAL_TOLERATION]) == ["local"]
    assert usable_nodes(nodes, {"pool": "local"}, []) == []
    assert tolerates([{"operator": "Exists"}], LOCAL_TAINT)
    assert not tolerates([{**LOCAL_TOLERATION, "value": "false"}], LOCAL_TAINT)
    team_pool, pools, total = pools_for(
        nodes,
        {"a": ({}, []), "b": ({}, []), "l": ({"pool": "local"}, [LOCAL_TOLERATION])},
        cap=Res(1000 * 1000, 10**15, 12),
    )
    assert team_pool["a"] == team_pool["b"] == "k0,k1" and team_pool["l"] == "local"
    assert pools["k0,k1"].capacity == Res(64_000, 512 * GI, 12)  # gpu capped at 12
    assert pools["local"].overlaps == frozenset({"local"})
    assert total.gpu == 12


def test_a_saturated_pool_does_not_hold_back_a_team_on_other_nodes():
    pools = {"kwok": Pool(gpus(4), frozenset({"kwok"})),
             "local": Pool(Res(2000, 8 * GI, 0), frozenset({"local"}))}  # fmt: skip
    busy = TeamState("a", 1, gpus(8), 10, None, gpus(4), 4, (job(1, gpus(1)),), "kwok")
    local = TeamState("l", 1, Res(4000, 16 * GI, 0), 2, None, Res(), 0,
                      (job(2, Res(1500, GI, 0)), job(3, Res(1500, GI, 0))), "local")  # fmt: skip
    p = A.explain(ClusterState((busy, local), gpus(4) + Res(2000, 8 * GI, 0), 10.0, pools=pools))
    assert admitted(p) == [2]  # the local node has room for one; kwok is full
    assert p.admit[0].capacity == Res(2000, 8 * GI, 0)
    assert p.pending[1].reason == A.WAITING_FOR_CAPACITY
    assert p.pending[3].message == "needs 1.5 cpu; 0.5 of 2 free on team l's nodes"
