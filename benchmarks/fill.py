"""Filling a stack's store with queued jobs: `JobStore.submit`, the call the API's submit
handler makes (so keys, sizes and Redis memory are what submissions produce), from a few
processes. Not through HTTP: with the API's per-request cost growing with the number of queued
jobs (see RESULTS.md), a 100,000-job fill over HTTP would not finish in a bounded time."""

import itertools
import multiprocessing
import time

from benchmarks.stack import BenchStack, job_body
from wrapper.redis import keys


def job_count(stack: BenchStack) -> int:
    return int(stack.redis.get(keys.JOB_ID_COUNTER) or 0)


def _submit_many(args: tuple) -> int:
    config_path, redis_url, teams, count, offset = args
    from wrapper.api.schemas import JobRequest
    from wrapper.config import load_config
    from wrapper.jobs.store import JobStore, body_digest
    from wrapper.redis import connect

    cfg = load_config(config_path)
    store = JobStore(connect(redis_url), [t.name for t in cfg.teams])
    body = job_body("filler")
    spec = JobRequest.model_validate(body, context={"config": cfg}).to_spec(cfg)
    digest = body_digest(body)
    for i in range(count):
        store.submit(teams[(offset + i) % len(teams)], spec, None, digest)
    return count


def fill_direct(stack: BenchStack, teams: list[str], count: int, processes: int = 2) -> float:
    """Queue `count` jobs round robin over `teams` with `JobStore.submit`; returns seconds."""
    share = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    offsets = list(itertools.accumulate([0, *share[:-1]]))
    work = [(str(stack.config_path), stack.redis_url, teams, n, o)
            for n, o in zip(share, offsets, strict=True) if n]  # fmt: skip
    t0 = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(len(work)) as pool:
        pool.map(_submit_many, work)
    return time.monotonic() - t0
