"""Preemption, pure (wrapper.admission.preemption): reclaim takes back only borrowed capacity,
placement-true and minimal; within a team only lower priorities go; young jobs are spared; and
over many seeded states, a closed system never preempts back and forth."""

import random

import pytest

from wrapper import admission as A
from wrapper.admission import preemption as P
from wrapper.admission.placement import Node
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, Nomination, TeamState

GI = 2**30
ALLOC = Res(32_000, 256 * GI, 8)
NOW = 10_000.0
EACH = {g: Res(1000, 4 * GI, g) for g in range(9)}


def gang(job_id, replicas, gpus, priority=0, submitted=NOW - 1) -> Candidate:
    return Candidate(job_id, EACH[gpus].scale(replicas), priority, submitted, replicas, EACH[gpus])


def run(job_id, team, nodes, gpus, priority=0, admitted=NOW - 600) -> P.Running:
    return P.Running(job_id, team, EACH[gpus].scale(len(nodes)), priority, admitted, EACH[gpus],
                     tuple(nodes))  # fmt: skip


def quota(gpus: int) -> Res:
    return Res(1000_000, 10_000 * GI, gpus)


def snapshot(teams: dict, running: list[P.Running], n_nodes: int = 3) -> ClusterState:
    """teams: name -> (quota gpus, borrowing limit gpus or None, queued jobs)."""
    used = {f"n{i}": Res() for i in range(1, n_nodes + 1)}
    usage = {name: Res() for name in teams}
    count = dict.fromkeys(teams, 0)
    for r in running:
        usage[r.team] = usage[r.team] + r.demand
        count[r.team] += 1
        for n in r.nodes:
            used[n] = used[n] + r.each
    nodes = {n: Node(n, ALLOC, 110, ALLOC - u, 110 - sum(n == x for r in running for x in r.nodes))
             for n, u in used.items()}  # fmt: skip
    states = tuple(
        TeamState(name, 1.0, quota(q), 100, None if b is None else Res(0, 0, b), usage[name],
                  count[name], tuple(jobs))
        for name, (q, b, jobs) in teams.items()
    )  # fmt: skip
    cap = Res(ALLOC.cpu * n_nodes, ALLOC.memory * n_nodes, ALLOC.gpu * n_nodes)
    return ClusterState(states, cap, NOW, 60.0, None, {}, nodes)


RECLAIM = {"alpha": P.Policy(reclaim=P.ANY), "beta": P.Policy(reclaim=P.ANY)}


def test_reclaim_takes_back_borrowed_gpus_and_only_what_is_needed():
    """beta (quota 8) borrows: it runs 4 jobs of 4 gpus (16) on alpha's half. alpha (quota 16)
    submits an 8-gpu job: one node's two borrowed jobs go (the most recently admitted first),
    and the job's place is that node."""
    running = [run(1, "beta", ["n1"], 4, admitted=NOW - 900),
               run(2, "beta", ["n1"], 4, admitted=NOW - 800),
               run(3, "beta", ["n2"], 4, admitted=NOW - 700),
               run(4, "beta", ["n2"], 4, admitted=NOW - 600),
               run(5, "alpha", ["n3"], 8)]  # fmt: skip
    state = snapshot({"alpha": (16, None, [gang(10, 1, 8)]), "beta": (8, 8, [])}, running)
    (p,) = P.plan(state, running, RECLAIM)
    assert (p.job_id, p.team, p.reason) == (10, "alpha", P.RECLAIM)
    assert sorted(v.id for v in p.victims) == [3, 4] and p.placement == ("n2",)


def test_the_running_jobs_are_read_only_when_a_job_needs_victims():
    """A pass whose waiting jobs all start without victims never reads the running jobs (the
    watcher's dearest read); one that needs victims reads them once for the whole plan."""
    reads = []

    def reader(jobs):
        def read():
            reads.append(len(jobs))
            return jobs

        return read

    running = [run(1, "beta", ["n1"], 8)]
    fits = snapshot({"alpha": (16, None, [gang(10, 1, 8)]), "beta": (8, 8, [gang(11, 1, 8)])},
                    running)  # fmt: skip
    assert P.plan(fits, reader(running), RECLAIM) == []  # alpha's job has a free node
    assert reads == []
    running = [run(1, "beta", ["n1"], 8), run(2, "beta", ["n2"], 8), run(3, "beta", ["n3"], 8)]
    full = snapshot({"alpha": (16, None, [gang(10, 1, 8)]), "beta": (8, 16, [gang(11, 1, 8)])},
                    running)  # fmt: skip
    (p,) = P.plan(full, reader(running), RECLAIM)
    assert p.team == "alpha" and len(p.victims) == 1 and reads == [3]


def test_a_job_running_within_its_teams_quota_is_never_reclaimed():
    """beta runs 8 gpus = its quota; alpha's job fits alpha's quota but the node is beta's: no
    preemption (beta borrows nothing)."""
    running = [run(1, "beta", ["n1"], 8), run(2, "alpha", ["n2"], 8), run(3, "alpha", ["n3"], 8)]
    state = snapshot({"alpha": (24, None, [gang(10, 1, 8)]), "beta": (8, None, [])}, running)
    # alpha uses 16 of 24, wants 8 more: within quota; beta is within its own.
    assert P.plan(state, running, RECLAIM) == []


def test_reclaim_stops_when_the_borrower_is_back_within_its_quota():
    """beta (quota 4) runs three 4-gpu jobs (8 borrowed); alpha needs 16: only two of beta's
    jobs are borrowed (8 gpus come back, 4 are free), so alpha's job cannot be helped: the
    third is within beta's quota. With 12 it can."""
    running = [run(1, "beta", ["n1"], 4), run(2, "beta", ["n1"], 4), run(3, "beta", ["n2"], 4),
               run(4, "alpha", ["n3"], 8)]  # fmt: skip
    state = snapshot({"alpha": (24, None, [gang(10, 4, 4)]), "beta": (4, 8, [])}, running)
    assert P.plan(state, running, RECLAIM) == []
    state = snapshot({"alpha": (24, None, [gang(10, 3, 4)]), "beta": (4, 8, [])}, running)
    (p,) = P.plan(state, running, RECLAIM)
    assert len(p.victims) == 2 and 3 in [v.id for v in p.victims]


def test_a_job_that_would_borrow_reclaims_nothing():
    running = [run(1, "beta", ["n1", "n2"], 8), run(2, "alpha", ["n3"], 8)]
    state = snapshot({"alpha": (8, 16, [gang(10, 1, 8)]), "beta": (0, 16, [])}, running)
    assert P.plan(state, running, RECLAIM) == []  # alpha at its quota already


@pytest.mark.parametrize("mode, priorities, victims", [
    (P.LOWER, (0, 5), [1]), (P.LOWER, (5, 5), []), (P.ANY, (5, 5), [3]), (P.NEVER, (0, 5), []),
])  # fmt: skip
def test_reclaim_policy_decides_on_priority(mode, priorities, victims):
    """beta borrows 16 gpus with three 8-gpu jobs; job 1 has the given priority, the others
    the preemptor's own (5)."""
    victim_priority, preemptor_priority = priorities
    running = [run(1, "beta", ["n1"], 8, priority=victim_priority),
               run(2, "beta", ["n2"], 8, priority=5),
               run(3, "beta", ["n3"], 8, priority=5)]  # fmt: skip
    state = snapshot({"alpha": (8, None, [gang(10, 1, 8, preemptor_priority)]),
                      "beta": (8, 16, [])}, running)  # fmt: skip
    found = P.plan(state, running, {"alpha": P.Policy(reclaim=mode)})
    assert [v.id for p in found for v in p.victims] == victims


def test_reclaim_prefers_the_lowest_priority_then_the_latest():
    running = [run(1, "beta", ["n1"], 8, priority=3, admitted=NOW - 100),
               run(2, "beta", ["n2"], 8, priority=1, admitted=NOW - 900),
               run(3, "beta", ["n3"], 8, priority=1, admitted=NOW - 200)]  # fmt: skip
    state = snapshot({"alpha": (8, None, [gang(10, 1, 8)]), "beta": (8, 16, [])}, running)
    (p,) = P.plan(state, running, RECLAIM)
    assert [v.id for v in p.victims] == [3]


def test_young_jobs_are_spared():
    running = [run(1, "beta", ["n1"], 8, admitted=NOW - 5), run(2, "beta", ["n2"], 8),
               run(3, "beta", ["n3"], 8, admitted=NOW - 10)]  # fmt: skip
    state = snapshot({"alpha": (8, None, [gang(10, 1, 8)]), "beta": (8, 16, [])}, running)
    policies = {**RECLAIM, "beta": P.Policy(min_runtime=30)}
    (p,) = P.plan(state, running, policies)
    assert [v.id for v in p.victims] == [2]
    policies["beta"] = P.Policy(min_runtime=3600)
    assert P.plan(state, running, policies) == []


def test_placement_true_victims_free_one_node_for_a_whole_gang():
    """beta borrows 3 x 4 gpus spread over n1 and n2 (4 free on each): alpha's 8-gpu replica
    needs a whole node; the victim is the job on the fullest node that frees it."""
    running = [run(1, "beta", ["n1"], 4, admitted=NOW - 900),
               run(2, "beta", ["n2"], 4, admitted=NOW - 800),
               run(3, "alpha", ["n3"], 8)]  # fmt: skip
    state = snapshot({"alpha": (16, None, [gang(10, 1, 8)]), "beta": (0, 16, [])}, running)
    (p,) = P.plan(state, running, RECLAIM)
    # either borrowed job frees a node; the latest admitted goes
    assert [v.id for v in p.victims] == [2] and p.placement == ("n2",)


def test_within_team_a_higher_priority_job_preempts_lower_ones_only():
    running = [run(1, "alpha", ["n1"], 8, priority=1), run(2, "alpha", ["n2"], 8, priority=5),
               run(3, "alpha", ["n3"], 8, priority=0, admitted=NOW - 100)]  # fmt: skip
    state = snapshot({"alpha": (24, None, [gang(10, 1, 8, priority=5)])}, running)
    policy = {"alpha": P.Policy(within_team=P.LOWER)}
    (p,) = P.plan(state, running, policy)
    assert (p.reason, [v.id for v in p.victims]) == (P.PRIORITY, [3])  # lowest priority
    assert P.plan(state, running, {"alpha": P.Policy()}) == []  # within_team Never
    equal = snapshot({"alpha": (24, None, [gang(10, 1, 8, priority=1)])}, running)
    assert [v.id for p in P.plan(equal, running, policy) for v in p.victims] == [3]
    none_lower = [run(1, "alpha", ["n1"], 8, priority=5), run(2, "alpha", ["n2"], 8, priority=5),
                  run(3, "alpha", ["n3"], 8, priority=5)]  # fmt: skip
    assert P.plan(snapshot({"alpha": (24, None, [gang(10, 1, 8, priority=5)])}, none_lower),
                  none_lower, policy) == []  # fmt: skip


def test_one_sweep_plans_several_preemptors_as_if_earlier_ones_happened():
    running = [run(i, "beta", [f"n{i}"], 8, admitted=NOW - 1000 + i) for i in (1, 2, 3)]
    state = snapshot({"alpha": (16, None, [gang(10, 1, 8), gang(11, 1, 8), gang(12, 1, 8)]),
                      "beta": (8, 16, [])}, running)  # fmt: skip
    found = P.plan(state, running, RECLAIM)
    # alpha's quota is 16: two jobs reclaim (the latest borrowed first), the third would borrow
    assert [(p.job_id, [v.id for v in p.victims]) for p in found] == [(10, [3]), (11, [2])]


def test_an_admissible_job_needs_no_preemption():
    running = [run(1, "beta", ["n1"], 8)]
    state = snapshot({"alpha": (8, None, [gang(10, 1, 8)]), "beta": (0, 16, [])}, running)
    assert P.plan(state, running, RECLAIM) == []


# --- no thrash, over many seeded states ------------------------------------------------------


def _closed_run(seed: int) -> list[tuple[str, str, int]]:
    """Jobs arrive in two waves (the first takes what it can, borrowing included), then the
    system is closed (no submissions, nothing finishes): alternately preempt (victims back in
    their queue at their place, their pods gone at once, the preemptor nominated) and admit (a
    worker's decision), until nothing changes. Returns (preemptor team, victim team, victim id)
    per preemption."""
    rng = random.Random(seed)
    names = ["a", "b", "c"][: rng.randint(2, 3)]
    quotas = {n: rng.choice([0, 4, 8, 12, 16]) for n in names}
    limits = {n: rng.choice([None, 8, 16, 24]) for n in names}
    policies = {n: P.Policy(reclaim=rng.choice([P.ANY, P.LOWER, P.NEVER]),
                            within_team=rng.choice([P.LOWER, P.NEVER])) for n in names}  # fmt: skip
    n_nodes = rng.randint(2, 4)
    waves: list[dict] = [{}, {}]
    for i in range(1, rng.randint(4, 16)):
        g = rng.choice([1, 2, 4, 8])
        job = gang(i, rng.randint(1, 2), g, rng.randint(0, 3), NOW - 3600 + i)
        waves[rng.random() < 0.5][i] = (rng.choice(names), job)
    jobs = {**waves[0], **waves[1]}
    running: dict[int, P.Running] = {}
    nominated: dict[int, Nomination] = {}
    log = []
    t = NOW

    def snap(queued) -> ClusterState:
        s = snapshot({n: (quotas[n], limits[n], sorted(
            (c for (tm, c) in queued.values() if tm == n), key=lambda c: (-c.priority, c.id)))
            for n in names}, list(running.values()), n_nodes)  # fmt: skip
        return ClusterState(s.teams, s.capacity, t, 1e9, None, {}, s.nodes, nominated=nominated)

    def admit(queued) -> list:
        admitted = A.decide(snap(queued), 1000)
        for a in admitted:
            nominated.pop(a.job_id, None)
            team, c = queued.pop(a.job_id)
            running[a.job_id] = P.Running(c.id, team, c.demand, c.priority, t, c.replica(),
                                          a.placement)  # fmt: skip
        return admitted

    queued = dict(waves[0])
    admit(queued)
    queued.update(waves[1])
    for _ in range(60):
        t += 1000
        found = P.plan(snap(queued), list(running.values()), policies)
        for p in found:
            c = queued[p.job_id][1]
            nominated[p.job_id] = Nomination(p.team, c.demand, c.replica(), p.placement)
            for v in p.victims:
                log.append((p.team, v.team, v.id))
                del running[v.id]
                queued[v.id] = jobs[v.id]
        if not admit(queued) and not found:
            return log
    raise AssertionError(f"seed {seed}: no fixed point after 60 rounds: {log}")


@pytest.mark.parametrize("seed", range(1000))
def test_no_thrash_in_a_closed_system(seed):
    log = _closed_run(seed)
    victims = [v for _, _, v in log]
    assert len(victims) == len(set(victims)), f"a job was preempted twice: {log}"
    pairs = {(p, v) for p, v, _ in log if p != v}
    assert not any((v, p) in pairs for p, v in pairs), f"teams preempted each other: {log}"


def test_a_nomination_holds_the_freed_room_for_its_preemptor():
    """Victims gone, room free on n1: beta's requeued job (it would borrow) fits there, but
    the nomination keeps it for alpha's job (even when the pass reaches beta first), which is
    admitted on it."""
    running = [run(2, "beta", ["n2"], 8), run(3, "beta", ["n3"], 8)]
    nom = {10: Nomination("alpha", EACH[8], EACH[8], ("n1",))}
    for alpha_queue, admitted in (([], []), ([gang(10, 1, 8)], [10])):
        teams = {"alpha": (8, None, alpha_queue),
                 "beta": (8, 16, [gang(1, 1, 8, submitted=NOW - 100)])}  # fmt: skip
        state = snapshot(teams, running)
        assert [a.job_id for a in A.decide(state, 10)] == ([10] if alpha_queue else [1])
        held = ClusterState(state.teams, state.capacity, NOW, 60.0, None, {}, state.nodes,
                            nominated=nom)  # fmt: skip
        assert [a.job_id for a in A.decide(held, 10)] == admitted


def test_a_preemptor_whose_victims_are_still_going_says_so():
    running = [run(1, "beta", ["n1"], 8), run(2, "beta", ["n2"], 8), run(3, "beta", ["n3"], 8)]
    state = snapshot({"alpha": (8, None, [gang(10, 1, 8)]), "beta": (8, 16, [])}, running)
    held = ClusterState(state.teams, state.capacity, NOW, 60.0, None, {}, state.nodes,
                        nominated={10: Nomination("alpha", EACH[8], EACH[8], ("n3",))})  # fmt: skip
    pending = A.explain(held).pending[10]
    assert pending.reason == A.WAITING_FOR_PLACEMENT or pending.reason == A.WAITING_FOR_CAPACITY
    assert pending.message.startswith("jobs were preempted for it")
    # and while it is nominated, no further preemption is planned in its pool
    assert P.plan(held, running, RECLAIM) == []
