"""What a borrower must leave to another team in one pass (wrapper.admission.fit): the other
team's claim on its unused quota.

The rule (docs/admission.md, "Borrowing"): a team's unused quota (quota - usage) is held back
from borrowers only as far as the team could use it **without borrowing** itself: its claim is
the sum of the demands of its queued jobs (not admitted in this pass, not in backoff, not too
large for its pool) that each fit in its unused quota, capped by that unused quota. A team none
of whose queued jobs fits in its unused quota claims nothing: it competes as a borrower like
the others, and the pass's fair-share order decides who borrows first (holding its quota back
for jobs that must borrow anyway would stop every borrower, itself included, for good).
Whether it may start a job at all (max_running_jobs) is checked by the caller.

Cheap enough for a worker's decision: each team's queue is grouped by job shape once per pass,
on first use (a team's claim is only asked for when another team would borrow); a claim is kept
until its team is admitted something (which changes its usage and its queue), then worked out
again from the groups, not the jobs."""

from collections.abc import Callable

from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, TeamState

_NONE = Res()


def _shape(job: Candidate) -> tuple:
    d = job.demand
    return (d.cpu, d.memory, d.gpu, job.replicas, job.each)


class Claims:
    """Each team's claim on its unused quota, for one pass."""

    def __init__(self, backoff: dict[int, float]):
        self.backoff = backoff  # job id -> not before (epoch): such jobs claim nothing
        # team -> job shape -> [its queued jobs that fit the team's unused quota when grouped,
        # not admitted since, demand]. Unused quota only shrinks as a pass admits (one asking
        # for a negative amount drops them), so a job left out then never fits later.
        self._groups: dict[str, dict[tuple, list]] = {}
        self._claim: dict[str, Res] = {}  # team -> its claim, until it is admitted something
        self._admitted: set[int] = set()  # the jobs this pass admitted

    def of(self, team: TeamState, usage: Res, ever_fits: Callable[[Candidate], bool]) -> Res:
        """The team's claim (usage: its usage in this pass; ever_fits: whether one of its jobs
        could ever be placed on its pool's nodes)."""
        claim = self._claim.get(team.name)
        if claim is not None:
            return claim
        room = team.quota - usage  # (negative where it uses more than its quota)
        claim = _NONE
        if room.cpu > 0 or room.memory > 0 or room.gpu > 0:
            groups = self._groups.get(team.name)
            if groups is None:
                groups = self._groups[team.name] = self._group(team, room, ever_fits)
            cpu = memory = gpu = 0
            for count, d in groups.values():
                if count and d.fits_in(room):  # (as check: a resource it asks none of fits)
                    cpu, memory, gpu = cpu + count * d.cpu, memory + count * d.memory, \
                        gpu + count * d.gpu  # fmt: skip
            claim = room.minimum(Res(cpu, memory, gpu)).floor0()
        self._claim[team.name] = claim
        return claim

    def admitted(self, name: str, job: Candidate | None, d: Res) -> None:
        """The team was admitted a job (d) in this pass: its usage grew, the job left its queue."""
        self._claim.pop(name, None)
        if job is None or d.cpu < 0 or d.memory < 0 or d.gpu < 0:
            self._groups.pop(name, None)  # (its unused quota grew: group its jobs again)
            if job is None:
                return
        self._admitted.add(job.id)
        group = self._groups.get(name, {}).get(_shape(job))
        if group is not None:
            group[0] -= 1

    def _group(self, team: TeamState, room: Res, ever_fits: Callable[[Candidate], bool]) -> dict:
        """Its queued jobs that fit its unused quota (room), not in backoff nor admitted in this
        pass, by shape. (Demands compared inline: this reads every job of the team.)"""
        groups: dict[tuple, list] = {}
        cpu, memory, gpu = room.cpu, room.memory, room.gpu
        admitted, backoff = self._admitted, self.backoff
        for job in team.queue:
            d = job.demand
            if (d.gpu and d.gpu > gpu) or (d.cpu and d.cpu > cpu) or \
                    (d.memory and d.memory > memory):  # fmt: skip
                continue
            if (admitted and job.id in admitted) or (backoff and job.id in backoff):
                continue
            key = _shape(job)
            group = groups.get(key)
            if group is None:
                groups[key] = [1, d, job]
            else:
                group[0] += 1
        # Too large for its pool's nodes even if empty: it waits for capacity, claiming nothing.
        return {k: g[:2] for k, g in groups.items() if ever_fits(g[2])}
