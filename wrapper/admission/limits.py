"""Amounts admission reads from the config and from Redis: a team's quota and borrowing limit,
the capacity cap, a team's usage hash, the recent admission rate."""

from wrapper.admission.resources import Res
from wrapper.config import TrainqConfig


def int_or_zero(value) -> int:
    return int(value) if value is not None else 0


def res_of_hash(raw: dict) -> Res:
    """A team's usage hash (cpu, memory, gpu fields) as an amount."""
    get = raw.get
    return Res(int_or_zero(get(b"cpu")), int_or_zero(get(b"memory")), int_or_zero(get(b"gpu")))


def admission_rate(events: list[tuple[bytes, float]], now: float) -> float | None:
    """Admissions per second from the recent admission events; None until two are known."""
    if len(events) < 2:
        return None
    return len(events) / max(now - events[0][1], 1.0)


def quota_of(team) -> Res:
    q = team.quota
    return Res.parse(q.cpu, q.memory, q.gpu)


def borrowing_of(team) -> Res | None:
    b = team.borrowing_limit
    return None if b is None else Res.parse(b.cpu, b.memory, b.gpu)


def cap_of(config: TrainqConfig) -> Res | None:
    c = config.admission.capacity_cap
    return None if c is None else Res.parse(c.cpu, c.memory, c.gpu)
