"""Nominations in Redis: the room a preemptor's victims free is held for it (in sums and on
the nodes it was planned on) until it is admitted or the nomination lapses, so that no other
job (a victim's team borrowing again, above all) takes it first. `keys.NOMINATIONS` holds
job id -> JSON {team, demand, each, nodes, until}; snapshots read the ones of queued jobs not
lapsed (`AdmissionStore.load`), and the preemption sweep prunes the rest."""

import json

from redis import Redis

from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Nomination
from wrapper.redis import keys
from wrapper.redis.signals import signal_change


def _res(values: list[int]) -> Res:
    return Res(*values)


def encode(nom: Nomination, until: float) -> str:
    d, e = nom.demand, nom.each
    return json.dumps({"team": nom.team, "demand": [d.cpu, d.memory, d.gpu],
                       "each": [e.cpu, e.memory, e.gpu], "nodes": list(nom.nodes),
                       "until": until}, separators=(",", ":"))  # fmt: skip


def decode(raw: dict[bytes, bytes], now: float) -> dict[int, Nomination]:
    """The nominations not lapsed at `now`."""
    out = {}
    for job_id, value in raw.items():
        v = json.loads(value)
        if v["until"] > now:
            out[int(job_id)] = Nomination(v["team"], _res(v["demand"]), _res(v["each"]),
                                          tuple(v["nodes"]))  # fmt: skip
    return out


def of_queued(raw: dict[bytes, bytes], now: float, teams) -> dict[int, Nomination]:
    """The nominations not lapsed of jobs in `teams`' queues (a snapshot's: an admitted job
    is not in them)."""
    if not raw:
        return {}
    noms = decode(raw, now)
    queued = {j.id for t in teams for j in t.queue if j.id in noms}
    return {i: n for i, n in noms.items() if i in queued}


def nominate(redis: Redis, job_id: int, nom: Nomination, until: float) -> None:
    """Hold the room for `job_id` (before its victims give theirs back); wakes a worker."""
    with redis.pipeline() as pipe:
        pipe.hset(keys.NOMINATIONS, str(job_id), encode(nom, until))
        signal_change(pipe, plan=True, wake=1)
        pipe.execute()


def read(redis: Redis, now: float) -> dict[int, Nomination]:
    return decode(redis.hgetall(keys.NOMINATIONS), now)


def prune(redis: Redis, now: float, queued: set[int]) -> int:
    """Drop the nominations that lapsed or whose job is no longer queued; how many."""
    raw = redis.hgetall(keys.NOMINATIONS)
    alive = decode(raw, now)
    gone = [k for k in raw if int(k) not in alive or int(k) not in queued]
    if gone:
        with redis.pipeline() as pipe:
            pipe.hdel(keys.NOMINATIONS, *gone)
            signal_change(pipe, plan=True, wake=1)
            pipe.execute()
    return len(gone)
