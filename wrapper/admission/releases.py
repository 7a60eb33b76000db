"""When a finished job gives back what it reserved: once its pods are gone, not when its
PyTorchJob turns terminal (the operator marks a job Succeeded when its Master finishes, while
Workers may still run and hold their gpus). A job that ended before it had pods gave its
reservation back with its status change (`JobStore.transition`).

The node and pod cache says where this instance's pods are bound (`AdmissionStore.bound`). When
no watcher keeps that cache current (it is stale), a finished job gives its reservation back
at once, as before: holding it on stale evidence could keep capacity forever."""

import logging

from wrapper.admission.store import AdmissionStore
from wrapper.jobs.store import JobStore
from wrapper.redis import scripts

log = logging.getLogger(__name__)


def release_finished(store: JobStore, admissions: AdmissionStore) -> list[int]:
    """Give back the reservations of finished jobs that have no pod left; their ids."""
    finished = store.finished_reserved_ids()
    if not finished:
        return []
    bound = None if admissions.capacity_is_stale() else admissions.bound()
    release = scripts.Release(store.redis)
    given_back = []
    gone = [i for i in finished if bound is None or not any(bound.get(str(i), {}).values())]
    for job_id, record in zip(gone, store.get_many(gone), strict=True):
        # (a job whose pods are still bound keeps what it reserved: it is not in `gone`)
        if record is not None and release(job_id=job_id, team=record["team"]):
            given_back.append(job_id)
    if given_back:
        log.info("gave back the reservations of finished jobs with no pods left: %s", given_back)
    return given_back
