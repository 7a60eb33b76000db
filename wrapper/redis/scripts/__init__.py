"""The Lua scripts that make multi-key changes atomic, one module each, each with a typed
wrapper that takes named arguments and assembles its own KEYS and ARGV from `wrapper.redis.keys`.

Status strings are passed in by the callers (the state table lives in `wrapper.jobs.states`),
and whether a transition is legal is decided in Python from that table before a script runs;
the scripts only guarantee that nobody changed the status in between (compare-and-set).
"""

from wrapper.redis.scripts.admit import Admit
from wrapper.redis.scripts.counter import SeedIds
from wrapper.redis.scripts.events import DEFAULT_MAX_PER_TEAM, RecordDelivery
from wrapper.redis.scripts.forget import Forget, PyTorchJobGone
from wrapper.redis.scripts.leases import TakeExpiredLeases
from wrapper.redis.scripts.release import FinishedReserved, Release
from wrapper.redis.scripts.run_metrics import AppendMetrics
from wrapper.redis.scripts.submit import Caps, RqQueue, Submit, SubmitResult, resolve_nonce
from wrapper.redis.scripts.transition import Transition

__all__ = [
    "DEFAULT_MAX_PER_TEAM", "Admit", "AppendMetrics", "Caps", "FinishedReserved", "Forget",
    "PyTorchJobGone", "RecordDelivery",
    "Release", "RqQueue", "SeedIds", "Submit",
    "SubmitResult", "TakeExpiredLeases", "Transition", "resolve_nonce",
]  # fmt: skip
