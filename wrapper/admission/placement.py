"""Gang placement on nodes, pure: can every replica of a job be counted on some node at once?

trainq's replicas of one job are identical (each Master and Worker asks for the job's
per-replica cpu, memory and gpus, and one pod slot), so the question has an exact answer
without search: a node can take floor(free / per-replica) replicas, the minimum over the
resources asked for, and the job fits when those counts add up to its replicas. Which nodes
they are counted on, and how a decision finds them without visiting every node:
`wrapper.admission.index`.

Amounts are plain ints (cpu millicores, memory bytes, gpus, pod slots), as in `Res`.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

from wrapper.admission.resources import Res

# A node's free room: [cpu, memory, gpu, pod slots]. Lists, so a pass can count placements
# down in place.
Room = list[int]


@dataclass(frozen=True)
class Node:
    """A schedulable node as admission sees it."""

    name: str
    allocatable: Res
    slots: int  # pod slots (allocatable pods)
    free: Res  # allocatable less what is requested or reserved on it now
    free_slots: int
    # Epoch by which every pod on it will have ended: the latest deadline (admission + its
    # max_runtime_seconds) of the trainq jobs counted there; inf when a pod of unknown end is
    # there (not trainq's, or of a job no longer reserved); -inf when it holds nothing.
    drain_at: float = math.inf

    def room(self) -> Room:
        return [self.free.cpu, self.free.memory, self.free.gpu, self.free_slots]

    def capacity(self) -> Room:
        return [self.allocatable.cpu, self.allocatable.memory, self.allocatable.gpu, self.slots]


def fits_on(room: Room, each: Res) -> int:
    """How many replicas of `each` fit in `room` (0 when one does not)."""
    n = room[3]
    for have, need in ((room[0], each.cpu), (room[1], each.memory), (room[2], each.gpu)):
        if need > 0:
            n = min(n, have // need)
    return max(n, 0)


def best_room(rooms: dict[str, Room], names: Iterable[str]) -> tuple[str, Room] | None:
    """The node with the most free gpus, then cpu, then memory (what a message names)."""
    best = None
    for name in names:
        room = rooms[name]
        key = (room[2], room[0], room[1])
        if best is None or key > best[0]:
            best = (key, name, room)
    return None if best is None else (best[1], best[2])


def gang_hold(nodes: dict[str, Node], names: Iterable[str], rooms, each: Res,
              replicas: int) -> list[str]:  # fmt: skip
    """Where an overdue gang holds room, a node per replica: the nodes due to drain first
    (their jobs' deadlines), then with the most free room now, each counted on its whole
    capacity (what it has once drained)."""
    order = sorted(names, key=lambda n: (nodes[n].drain_at, -rooms[n][2], -rooms[n][0],
                                         -rooms[n][1]))  # fmt: skip
    out: list[str] = []
    for n in order:
        if len(out) >= replicas:
            break
        out += [n] * min(fits_on(nodes[n].capacity(), each), replicas - len(out))
    return out
