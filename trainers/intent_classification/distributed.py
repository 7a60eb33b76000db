"""Process group, device choice and the few collectives training needs.

With WORLD_SIZE=1 no process group is created and every helper is the identity, so one code path
serves both cases. Otherwise the group is set up from MASTER_ADDR/MASTER_PORT, WORLD_SIZE and
RANK (the training operator's, or as config.py derives them from Kubeflow Trainer v2's PET_*
variables): gloo on CPU, nccl on GPU.
"""

import io
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from .config import TrainConfig
from .weights import raw_bytes

# A worker may start well before the master is reachable (image pulls, scheduling); it waits this
# long for the rendezvous and for any collective before giving up.
TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class Cluster:
    rank: int
    world_size: int
    device: torch.device
    backend: str
    grouped: bool  # True when a process group exists (WORLD_SIZE > 1)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def choose_device(local_rank: int) -> tuple[torch.device, str]:
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count()), "nccl"
    return torch.device("cpu"), "gloo"


def setup(cfg: TrainConfig) -> Cluster:
    device, backend = choose_device(cfg.local_rank)
    if device.type == "cuda":
        # Must be set before the first CUDA call for cuBLAS to pick its deterministic workspace.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.cuda.set_device(device)
    grouped = cfg.world_size > 1
    if grouped:
        dist.init_process_group(
            backend=backend,
            init_method=f"tcp://{cfg.master_addr}:{cfg.master_port}",
            world_size=cfg.world_size,
            rank=cfg.rank,
            timeout=TIMEOUT,
        )
    return Cluster(cfg.rank, cfg.world_size, device, backend, grouped)


# How gloo and NCCL word a vanished peer when they raise a plain RuntimeError (from DDP's
# backward hook, say) rather than one of torch.distributed's own error types.
_PEER_FAILURE_SIGNS = (
    "Connection closed by peer",
    "Connection reset by peer",
    "Broken pipe",
    "Socket Timeout",
    "NCCL communicator was aborted",
)


def is_peer_failure(err: BaseException) -> bool:
    if isinstance(err, dist.DistError):
        return True
    return isinstance(err, RuntimeError) and any(sign in str(err) for sign in _PEER_FAILURE_SIGNS)


def teardown(cluster: Cluster, *, clean: bool) -> None:
    """Leaves the group; after a clean run, waits so no rank exits while rank 0 still writes."""
    if not cluster.grouped or not dist.is_initialized():
        return
    if clean:
        # NCCL otherwise guesses the device for the barrier (and warns that it did).
        cuda = cluster.device.type == "cuda"
        dist.barrier(device_ids=[cluster.device.index] if cuda else None)
    dist.destroy_process_group()


def sum_across(cluster: Cluster, values: list[float]) -> list[float]:
    if not cluster.grouped:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=cluster.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def broadcast_from_main(cluster: Cluster, obj: Any) -> Any:
    """Rank 0's object on every rank; other ranks' argument is ignored."""
    if not cluster.grouped:
        return obj
    data = _encode(obj, cluster.device) if cluster.is_main else None
    size = torch.tensor([0 if data is None else data.numel()], device=cluster.device)
    dist.broadcast(size, src=0)
    if data is None:
        data = torch.empty(int(size.item()), dtype=torch.uint8, device=cluster.device)
    dist.broadcast(data, src=0)
    return obj if cluster.is_main else _decode(data)


def gather_to_all(cluster: Cluster, obj: Any) -> list[Any]:
    """Every rank's object, indexed by rank, on every rank."""
    if not cluster.grouped:
        return [obj]
    data = _encode(obj, cluster.device)
    sizes = [
        torch.zeros(1, dtype=torch.long, device=cluster.device) for _ in range(cluster.world_size)
    ]
    dist.all_gather(sizes, torch.tensor([data.numel()], device=cluster.device))
    longest = max(int(size.item()) for size in sizes)
    padded = torch.zeros(longest, dtype=torch.uint8, device=cluster.device)
    padded[: data.numel()] = data
    buffers = [torch.empty_like(padded) for _ in range(cluster.world_size)]
    dist.all_gather(buffers, padded)
    return [
        _decode(buffer[: int(size.item())]) for buffer, size in zip(buffers, sizes, strict=True)
    ]


# torch's own *_object_list collectives need numpy, which the trainer does not otherwise need;
# objects travel as torch.save bytes instead, and load back with weights_only (data, not code).
def _encode(obj: Any, device: torch.device) -> torch.Tensor:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8).to(device)


def _decode(data: torch.Tensor) -> Any:
    blob = raw_bytes(data)
    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
