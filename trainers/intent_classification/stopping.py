"""Stopping on SIGTERM, which a pod gets when its job is suspended, preempted or cancelled (then
SIGKILL after terminationGracePeriodSeconds). The handler only records the request: training
stops at a step boundary, writes a checkpoint from which the run continues bit for bit, and
exits EXIT_TERMINATED.

With several ranks they must all stop after the same step: the pods of one job get SIGTERM at
slightly different moments (or only one pod does), and a rank that stopped alone would leave the
others blocked in the next gradient all-reduce. Each rank's flag rides along in that all-reduce
(one extra element in the gradient bucket, so no extra collective per step), and every rank
reads the same sum: a SIGTERM that reached any rank before its backward pass stops all of them
at the step boundary after it.
"""

import signal
from types import FrameType

import torch
import torch.distributed as dist
from torch.distributed import GradBucket
from torch.futures import Future
from torch.nn.parallel import DistributedDataParallel

from .distributed import Cluster


class StopRequest:
    def __init__(self) -> None:
        self.signalled = False  # this process got SIGTERM
        self.reported = False  # some rank's SIGTERM reached a gradient all-reduce
        # The summed flags of the last backward pass, read at the step boundary: reading them in
        # the hook would make a GPU wait for each all-reduce instead of overlapping it.
        self.sums: list[torch.Tensor] = []
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = True

    def watch(self, ddp: DistributedDataParallel) -> None:
        """Carries the flag in DDP's gradient all-reduce (before its first step)."""
        ddp.register_comm_hook(self, _allreduce_with_flag)

    def agreed(self, cluster: Cluster) -> bool:
        """Whether to stop at this step boundary; the same answer on every rank."""
        if not cluster.grouped:
            return self.signalled
        self.reported = self.reported or any(bool(total.item()) for total in self.sums)
        self.sums.clear()
        return self.reported


def _allreduce_with_flag(state: StopRequest, bucket: GradBucket) -> Future[torch.Tensor]:
    # What DDP's default hook computes (divide, then sum), plus the flag as a last element.
    grads = bucket.buffer()
    flag = torch.tensor([float(state.signalled)], dtype=grads.dtype, device=grads.device)
    packed = torch.cat([grads / dist.get_world_size(), flag])

    def unpack(fut: Future[list[torch.Tensor]]) -> torch.Tensor:
        reduced = fut.value()[0]
        state.sums.append(reduced[-1])
        return reduced[:-1]

    return dist.all_reduce(packed, async_op=True).get_future().then(unpack)
