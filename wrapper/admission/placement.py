"""Gang placement on nodes, pure: can every replica of a job be counted on some node at once?

trainq's replicas of one job are identical (each Master and Worker asks for the job's
per-replica cpu, memory and gpus, and one pod slot), so the question has an exact answer
without search: a node can take floor(free / per-replica) replicas, the minimum over the
resources asked for, and the job fits when those counts add up to its replicas. Which nodes
the replicas are counted on follows best fit: the nodes that would have the least left first
(gpus, then cpu, then memory), so large free nodes stay whole for large jobs.

Amounts are plain ints (cpu millicores, memory bytes, gpus, pod slots), as in `Res`.
"""

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


def place(each: Res, replicas: int, rooms: dict[str, Room],
          names: Iterable[str]) -> list[str] | None:  # fmt: skip
    """The node each replica is counted on (best fit), or None when they do not all fit at
    once on the nodes `names`. Does not change `rooms`. (fits_on inlined: a decision may run
    this over every node of a pool.)"""
    cpu, memory, gpu = each.cpu, each.memory, each.gpu
    counts = []
    total = 0
    for name in names:
        room = rooms[name]
        n = room[3]
        if gpu > 0:
            n = min(n, room[2] // gpu)
        if n and cpu > 0:
            n = min(n, room[0] // cpu)
        if n and memory > 0:
            n = min(n, room[1] // memory)
        if n > 0:
            counts.append(((room[2] - n * gpu, room[0] - n * cpu, room[1] - n * memory), name, n))
            total += n
    if total < replicas:
        return None
    counts.sort()
    out: list[str] = []
    for _, name, n in counts:
        take = min(n, replicas - len(out))
        out += [name] * take
        if len(out) == replicas:
            break
    return out


def take(rooms: dict[str, Room], each: Res, placement: list[str]) -> None:
    """Count a placement against the nodes' room."""
    for name in placement:
        room = rooms[name]
        room[0] -= each.cpu
        room[1] -= each.memory
        room[2] -= each.gpu
        room[3] -= 1


def best_room(rooms: dict[str, Room], names: Iterable[str]) -> tuple[str, Room] | None:
    """The node with the most free gpus, then cpu, then memory (what a message names)."""
    best = None
    for name in names:
        room = rooms[name]
        key = (room[2], room[0], room[1])
        if best is None or key > best[0]:
            best = (key, name, room)
    return None if best is None else (best[1], best[2])
