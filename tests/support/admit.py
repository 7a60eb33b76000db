"""Taking a team's next queued job the way a worker does (the ADMIT script), for tests that need
a job in `dispatching` without running a worker."""

from wrapper.admission import Admission
from wrapper.admission.resources import Res
from wrapper.admission.store import AdmissionStore

ROOM = Res(cpu=10**9, memory=2**60, gpu=10**6)  # quota and capacity that never stop it


def admit_next(store, config, team: str, lease_seconds: float) -> tuple[str, int] | None:
    """Admit the first entry of the team's queue that ADMIT accepts (stale entries are
    dropped on the way, as for a worker); None when there is none."""
    admissions = AdmissionStore(store, config)
    for job_id in store.queues.ids(team):
        adm = Admission(team, job_id, Res(cpu=1000), ROOM, 10**6, False, ROOM)
        outcome, _ = admissions.admit(adm, lease_seconds)
        if outcome in ("admitted", "redispatch"):
            return team, job_id
    return None
