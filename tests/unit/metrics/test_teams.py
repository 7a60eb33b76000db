"""The per-team and per-pool gauges (wrapper.metrics.teams), from admission pictures built
here: pending split active/inadmissible as Kueue splits it, usage/quota/borrowed in base units,
pool saturation; the collector serves nothing while its process does not lead."""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from wrapper import admission as A
from wrapper.admission.pools import Pool
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState
from wrapper.metrics import teams

GI = 2**30


def gpus(n: int) -> Res:
    return Res(1000 * n, 4 * GI * n, n)


FOUR, NONE = gpus(4), Res()


def team(name, jobs=(), *, quota=FOUR, borrow=None, usage=NONE, running=0, pool=""):
    return TeamState(name, 1.0, quota, 100, borrow, usage, running, tuple(jobs), pool)


def job(job_id: int, demand: Res, priority: int = 0) -> Candidate:
    return Candidate(job_id, demand, priority, float(job_id))


def samples(state: ClusterState, depths: dict[str, int]) -> dict:
    """{(name, labels as a sorted tuple): value} of what families() yields, through the real
    text exposition and parser."""

    class One:
        def collect(self):
            return teams.families(state, A.explain(state), depths)

    registry = CollectorRegistry()
    registry.register(One())
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip


def test_pending_splits_what_does_not_fit_from_what_waits_its_turn():
    # a: quota 4 gpus, uses 3: job 1 (2 gpus) does not fit its quota (inadmissible), job 2
    # (1 gpu) is admissible (active); a's queue is deeper than the picture: the rest wait for
    # their turn (active).
    a = team("a", [job(1, gpus(2)), job(2, gpus(1))], usage=gpus(3), running=1)
    b = team("b", [job(3, gpus(1))])
    state = ClusterState((a, b), gpus(16), 10.0)
    plan = A.explain(state)
    assert plan.pending[1].reason == A.WAITING_FOR_QUOTA and plan.pending[2].reason is None
    got = samples(state, {"a": 5, "b": 1})
    assert got["trainq_pending_jobs", (("status", "inadmissible"), ("team", "a"))] == 1
    assert got["trainq_pending_jobs", (("status", "active"), ("team", "a"))] == 4
    assert got["trainq_pending_jobs", (("status", "active"), ("team", "b"))] == 1
    assert got["trainq_pending_jobs", (("status", "inadmissible"), ("team", "b"))] == 0
    assert got["trainq_admitted_active_jobs", (("team", "a"),)] == 1


def test_usage_quota_and_borrowed_in_base_units():
    a = team("a", quota=gpus(2), borrow=Res(A.UNLIMITED, A.UNLIMITED, 2), usage=gpus(3),
             running=2)  # fmt: skip
    got = samples(ClusterState((a,), gpus(8), 10.0), {"a": 0})
    assert got["trainq_team_resource_usage", (("resource", "cpu"), ("team", "a"))] == 3.0  # cores
    assert got["trainq_team_resource_usage", (("resource", "memory"), ("team", "a"))] == 12 * GI
    assert got["trainq_team_nominal_quota", (("resource", "gpu"), ("team", "a"))] == 2
    assert got["trainq_team_borrowed_resources", (("resource", "gpu"), ("team", "a"))] == 1
    # An unset borrowing limit for a resource has no sample (not 2**62).
    limits = {k: v for k, v in got.items() if k[0] == "trainq_team_borrowing_limit"}
    assert limits == {("trainq_team_borrowing_limit", (("resource", "gpu"), ("team", "a"))): 2}
    assert 0 < got["trainq_team_weighted_share", (("team", "a"),)] <= 1


def test_pool_saturation_per_pool_named_by_its_teams():
    pools = {"n1,n2": Pool(gpus(8), frozenset({"n1,n2"}), ("n1", "n2")),
             "n3": Pool(gpus(4), frozenset({"n3"}), ("n3",))}  # fmt: skip
    state = ClusterState(
        (team("a", usage=gpus(2), pool="n1,n2"), team("b", usage=gpus(4), pool="n1,n2"),
         team("c", usage=gpus(1), pool="n3")), gpus(12), 10.0, pools=pools)  # fmt: skip
    got = samples(state, {})
    assert got["trainq_pool_saturation", (("pool", "a,b"), ("resource", "gpu"))] == 0.75
    assert got["trainq_pool_saturation", (("pool", "c"), ("resource", "gpu"))] == 0.25
    assert got["trainq_pool_capacity", (("pool", "c"), ("resource", "cpu"))] == 4.0
    assert got["trainq_pool_usage", (("pool", "a,b"), ("resource", "gpu"))] == 6


def test_one_pool_of_every_team_and_none_while_capacity_is_unknown():
    state = ClusterState((team("a", usage=gpus(1)), team("b")), gpus(4), 10.0)
    got = samples(state, {})
    assert got["trainq_pool_saturation", (("pool", "a,b"), ("resource", "gpu"))] == 0.25
    unknown = samples(ClusterState((team("a"),), None, 10.0), {})
    assert not [k for k in unknown if k[0].startswith("trainq_pool_")]


def test_the_collector_serves_nothing_unless_its_process_leads():
    # (No Redis behind it: a standby must not even read.)
    collector = teams.TeamCollector(admissions=None, active=lambda: False)
    assert list(collector.collect()) == []
