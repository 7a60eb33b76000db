"""4. Scale: 100,000 queued jobs across 1,000 teams.

- Enqueue rate: accepted submissions/s (wrk, rotating over every team) with the store full,
  against the same with the store empty (same stack, same 1,000-team configuration).
- Admission decision time: the policy in force (`queue_workers.worker.selection.pick_next`) on the
  snapshot a worker takes of that store; the snapshot's load from Redis is timed apart.
  The fill between the two goes through `JobStore.submit` directly (benchmarks/fill.py).
- Redis memory per queued job: `INFO memory` used_memory delta over the fill, divided by the
  jobs added (server-wide figure: other users of the same Redis add noise), with MEMORY USAGE
  of one job's keys as the breakdown.
"""

import random
import time

from benchmarks.fill import fill_direct, job_count
from benchmarks.loadgen import as_dict, wrk
from benchmarks.stack import BenchStack, job_body, many_teams
from benchmarks.stats import summary_ms, timed
from wrapper.config import load_config
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys


def used_memory(stack: BenchStack) -> int:
    return int(stack.redis.info("memory")["used_memory"])


def _with_nodes(stack: BenchStack, cfg, store, nodes: int, repeats: int) -> dict:
    """A worker's whole decision, placement-true: the snapshot load with `nodes` 8-gpu nodes in
    the node and pod cache (before each, as in a busy cluster, one team queue changed and one
    node's usage moved, written as the watcher writes it: not timed), then the decision. The
    worker's store is warm (a running worker's): its first load, which reads everything, is
    timed apart."""
    from queue_workers.worker import selection
    from wrapper.admission.store import AdmissionStore

    rng = random.Random(nodes)
    cache = []
    for i in range(nodes):
        k = rng.randint(0, 8)
        cache.append({"name": f"bench-node-{i}", "labels": {}, "taints": [], "cpu": 32_000,
                      "memory": 256 * 2**30, "gpu": 8, "pods": 110,
                      "used": {"cpu": 1000 * k, "memory": 2**30 * k,
                               "gpu": rng.choice([0, 0, 4, 8]), "pods": k}})  # fmt: skip
    watcher = AdmissionStore(store, cfg)
    saved = watcher.nodes()[0]
    watcher.write_nodes(cache, {})
    worker = AdmissionStore(store, cfg, exclusive=True)
    lookahead = cfg.admission.lookahead
    names = [t.name for t in cfg.teams]
    first = timed(lambda: worker.load(lookahead), 1)

    def change():
        store.redis.hincrby(keys.QUEUE_VERSIONS, rng.choice(names), 1)
        node = rng.choice(cache)
        node["used"] = {**node["used"], "pods": rng.randint(0, 8), "cpu": rng.randint(0, 8000)}
        watcher.write_nodes(cache, {})

    samples = []
    deadline = time.monotonic() + 30
    while len(samples) < max(3, repeats) and time.monotonic() < deadline:
        change()
        t0 = time.perf_counter()
        state, _ = worker.load(lookahead)
        selection.pick_next(state)
        samples.append(time.perf_counter() - t0)
    try:
        return {**summary_ms(samples), "first_load_ms": round(first[0] * 1000, 1)}
    finally:
        watcher.write_nodes(saved or [], {})


def _decision(stack: BenchStack, repeats: int, node_counts=(100, 1000, 5000)) -> dict:
    """Time the admission decision on the current store, as a worker makes it."""
    cfg = load_config(stack.config_path)
    store = JobStore(connect(stack.redis_url), [t.name for t in cfg.teams])
    from queue_workers.worker import selection

    try:
        from wrapper.admission.store import AdmissionStore
    except ImportError:
        AdmissionStore = None  # before the admission issue landed
    if AdmissionStore is not None:
        adm = AdmissionStore(store, cfg)
        if hasattr(adm, "capacity_is_stale") and adm.capacity_is_stale():
            from queue_workers.kube.client import Kube
            from queue_workers.kube.nodes import refresh

            refresh(Kube(stack.env["KUBECONFIG"]), adm)
        lookahead = getattr(getattr(cfg, "admission", None), "lookahead", None)
        state, _ = adm.load(lookahead)
        queued = sum(len(t.queue) for t in state.teams)
        # A worker's process parses each queued job once (cold: a new process); then every
        # claim re-reads only the queues whose version changed since its previous claim.
        cold_s = timed(lambda: AdmissionStore(store, cfg).load(lookahead), 3, budget_s=60)
        names = [t.name for t in cfg.teams]

        def changed(teams):
            def run():
                with store.redis.pipeline(transaction=False) as pipe:
                    for name in teams:
                        pipe.hincrby(keys.QUEUE_VERSIONS, name, 1)
                    pipe.execute()
                adm.load(lookahead)

            return run

        with_nodes = {str(n): _with_nodes(stack, cfg, store, n, repeats) for n in node_counts}
        load_s = timed(changed(names), max(3, repeats // 20), budget_s=30)
        one_s = timed(changed(names[:1]), max(3, repeats // 4), budget_s=30)
        decide_s = timed(lambda: selection.pick_next(state), repeats, budget_s=30)
        policy = "wrapper.admission.plan via selection.pick_next (AdmissionStore.load snapshot)"
        extra = {"lookahead_per_team": lookahead, "jobs_in_snapshot": queued,
                 "snapshot_load_new_process": summary_ms(cold_s),
                 "snapshot_load_one_queue_changed": summary_ms(one_s),
                 "decision_with_snapshot_by_nodes": with_nodes}  # fmt: skip
    else:
        from queue_workers.worker.rq_worker import snapshot

        snap = snapshot(store, cfg)
        load_s = timed(lambda: snapshot(store, cfg), max(3, repeats // 10))
        decide_s = timed(lambda: selection.pick_next(snap), repeats)
        policy = "round robin (selection.pick_next; the admission module was not there)"
        extra = {}
    return {
        "policy": policy,
        "decision": summary_ms(decide_s),
        "snapshot_load": summary_ms(load_s),
        **extra,
    }


def _breakdown(stack: BenchStack) -> dict:
    """MEMORY USAGE of the keys one queued job owns (its record and its RQ job hash)."""
    job_id = int(stack.redis.get(keys.JOB_ID_COUNTER) or 0)
    out = {}
    for label, key in (("job_record", keys.job_key(job_id)), ("rq_job", f"rq:job:{job_id}")):
        out[label] = stack.redis.memory_usage(key, samples=0)
    return out


def run(
    stack: BenchStack,
    jobs: int,
    seconds: float,
    decision_repeats: int,
    node_counts=(100, 1000, 5000),
) -> dict:
    teams = list(stack.tokens.items())
    targets = [(f"/v1/teams/{name}/jobs", token) for name, token in teams]
    body = job_body("scale")
    wrk(stack.base, targets, body, 1, 16)  # warm-up
    empty = wrk(stack.base, targets, body, seconds, 16)
    time.sleep(1)
    before, count0 = used_memory(stack), job_count(stack)
    fill_s = fill_direct(stack, [name for name, _ in teams], jobs - count0)
    time.sleep(1)
    after, count1 = used_memory(stack), job_count(stack)
    full = wrk(stack.base, targets, body, seconds, 16)
    per_job = (after - before) / max(1, count1 - count0)
    decision = _decision(stack, decision_repeats, node_counts)
    return {
        "teams": len(teams),
        "jobs_queued": job_count(stack),
        "enqueue_empty": as_dict(empty),
        "enqueue_full": as_dict(full),
        "enqueue_ratio": round(full.rate / empty.rate, 3) if empty.rate else None,
        "fill": f"{count1 - count0} queued jobs via JobStore.submit in {fill_s:.1f} s",
        "memory_per_job_bytes": round(per_job),
        "memory_delta_bytes": after - before,
        "memory_jobs_counted": count1 - count0,
        "memory_usage_one_job": _breakdown(stack),
        "admission": decision,
        "goals": {"enqueue_ratio": 0.8, "decision_ms": 2, "memory_per_job_bytes": 2048},
    }


def make_stack(workdir, db: int, teams: int) -> BenchStack:
    team_cfg, tokens = many_teams(teams)
    return BenchStack(workdir, db, team_cfg, tokens)
