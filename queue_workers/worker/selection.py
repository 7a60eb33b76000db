"""Which queued job a worker admits next: the one interface between workers and the admission
policy. Pure: a snapshot in, an ordered list of admissions out.

`pick_next` is the policy in force (`wrapper.admission.decide`: whole-job fit against quota and
free capacity, weighted dominant-resource fair share across teams, priority then submission
within a team with a bounded head-of-line wait). The worker tries the admissions in order; the
first that the atomic Redis check still accepts is dispatched.
"""

from wrapper.admission import Admission, ClusterState, decide

# A worker dispatches one job per decision; a second tells it to wake another worker.
DECISION_LIMIT = 2


def pick_next(state: ClusterState) -> list[Admission]:
    """The admissions to try now, best first (empty: nothing is admissible)."""
    return decide(state, limit=DECISION_LIMIT)
