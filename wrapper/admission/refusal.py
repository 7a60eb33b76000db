"""The never-fits refusal at submission (422 before anything is written): a job asking for more
than its team may ever hold (quota plus borrowing limit) or than its team's nodes have (capped).
Its answer for a (team, shape) depends only on the config and the pools, so it is worked out
once and kept until the pools move. (Not named `never_fits`: a submodule of that name would
shadow the package's `never_fits` function.)"""

from wrapper import admission
from wrapper.admission import Res, TeamState
from wrapper.admission.limits import borrowing_of, quota_of
from wrapper.admission.resources import replica_request
from wrapper.config import TrainqConfig

MAX_KEPT = 10_000  # answers kept per process (shapes are few; a flood of odd ones is bounded)

# The inputs before any node list is cached: one object, so the answers are kept meanwhile.
NO_NODES: tuple = ({}, {}, None, {})


class NeverFitsCheck:
    def __init__(self, config: TrainqConfig):
        self.config = config
        self._kept: dict[tuple, list[dict]] = {}
        self._pools_seen: dict | None = None  # what the kept answers were worked out for

    def __call__(self, team_name: str, spec: dict, inputs: tuple) -> list[dict]:
        """Field errors for the request (none: it may fit some day). inputs: the node view's
        (team pool, pools, total, biggest node per pool), or NO_NODES."""
        if inputs[1] is not self._pools_seen:
            self._kept.clear()
            self._pools_seen = inputs[1]
        r = spec["resources"]
        key = (team_name, (r["cpu"], r["memory"], r.get("gpu") or 0, spec["workers"]))
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) > MAX_KEPT:
                self._kept.clear()
            found = self._kept[key] = self.work_out(team_name, spec, inputs)
        return [dict(p) for p in found]

    def work_out(self, team_name: str, spec: dict, inputs: tuple) -> list[dict]:
        team = self.config.team(team_name)
        state = TeamState(
            name=team.name, weight=team.weight, quota=quota_of(team),
            max_jobs=team.quota.max_running_jobs, borrowing_limit=borrowing_of(team),
            usage=Res(), running=0, queue=(),
        )  # fmt: skip
        team_pool, pools, _, biggest = inputs
        pool = team_pool.get(team_name)
        capacity = pools[pool].capacity if pools else None
        # (one pool: every node trainq's teams may use is "the cluster")
        where = "the whole cluster has" if len(pools) <= 1 else f"team {team_name}'s nodes have"
        problems = admission.never_fits(admission.demand(spec), state, capacity, where,
                                        replica_request(spec), biggest.get(pool))  # fmt: skip
        return [
            {"field": "team" if r == "max_running_jobs" else f"resources.{r}", "message": m}
            for r, m in problems
        ]
