"""The training run: data-parallel training, checkpoints, evaluation and outputs.

Every rank builds the same model from SEED, trains on its DistributedSampler shard with DDP
averaging gradients, and rank 0 evaluates, checkpoints and writes MODEL_DIR. Determinism comes
from seeded generators, a sampler order fixed by (SEED, epoch), deterministic kernels, one
intra-op thread, and a weights format without random bytes (weights.py). A checkpoint is written
after every epoch and, on SIGTERM, at the step boundary where the ranks stop (stopping.py); a
resumed run continues from either exactly where it left off.
"""

import itertools
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from . import ALGORITHM, artifacts, checkpoint, distributed, evaluate
from .config import TrainConfig
from .data import TEST_PERCENT, VAL_PERCENT, EncodedSplit, Prepared
from .errors import CheckpointError
from .model import IntentClassifier, architecture
from .report import Reporter
from .stopping import StopRequest

OPTIMIZER = "adam"
EVAL_BATCH = 1024


@dataclass
class EpochProgress:
    """One rank's way through the current epoch: what a mid-epoch checkpoint must restore."""

    step: int = 0  # batches done (the same on every rank: the sampler pads the shards)
    loss_sum: float = 0.0
    seen: int = 0
    seconds: float = 0.0  # training time spent on this epoch before an interruption


def run(cfg: TrainConfig, prepared: Prepared) -> bool:
    """Trains to the end (True) or, on SIGTERM, to a checkpoint at a step boundary (False)."""
    _make_deterministic()
    stop = StopRequest()  # before the rendezvous: a SIGTERM during it still stops training
    cluster = distributed.setup(cfg)
    clean = False
    try:
        finished = _train(cfg, prepared, cluster, stop)
        clean = True
    finally:
        distributed.teardown(cluster, clean=clean)
    return finished


def _make_deterministic() -> None:
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    # Several intra-op threads may split a reduction differently from run to run; the model is
    # small enough that one thread costs nothing noticeable.
    torch.set_num_threads(1)


def _train(cfg: TrainConfig, prepared: Prepared, cluster: distributed.Cluster,
           stop: StopRequest) -> bool:  # fmt: skip
    train_split = prepared.splits["train"]
    num_classes = len(prepared.dataset.labels)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    net = IntentClassifier(len(prepared.vocab), num_classes, cfg.fc_size).to(cluster.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    torch.manual_seed(cfg.seed + cluster.rank)  # but each rank its own dropout masks
    fingerprint = _fingerprint(cfg, prepared, cluster)
    start_epoch, history, progress = _resume(cfg, cluster, net, optimizer, fingerprint)
    if cluster.is_main:
        # A manifest from an earlier run must not vouch for files this run is about to replace.
        (cfg.model_dir / artifacts.MANIFEST_FILE).unlink(missing_ok=True)
    ddp_net: nn.Module = net
    if cluster.grouped:
        device_ids = [cluster.device.index] if cluster.device.type == "cuda" else None
        ddp_net = DistributedDataParallel(net, device_ids=device_ids)
        stop.watch(ddp_net)
    # Also with one process: the permutation then depends on (SEED, epoch) alone, like with many.
    sampler = DistributedSampler(
        range(len(train_split)),  # a stand-in dataset: the sampler only needs its length
        num_replicas=cluster.world_size,
        rank=cluster.rank,
        shuffle=True,
        seed=cfg.seed,
    )
    _announce(prepared, cluster)
    state = {"fingerprint": fingerprint, "model": net, "optimizer": optimizer, "history": history}
    # Rank 0 reports to trainq (when the job has the channel); the others have nothing to say.
    reporter = Reporter(cfg.metrics_url, cfg.metrics_token) if cluster.is_main else Reporter(
        None, None)  # fmt: skip
    for epoch in range(start_epoch, cfg.epochs):  # epoch = epochs completed so far
        started = time.perf_counter() - progress.seconds
        sampler.set_epoch(epoch)
        order = list(sampler)
        if not _train_epoch(ddp_net, optimizer, train_split, order, cfg, cluster, progress, stop):
            progress.seconds = time.perf_counter() - started
            _checkpoint(cfg, cluster, state, epoch, progress)
            _log_stop(cfg, cluster, epoch, progress)
            return False
        loss_sum, seen = distributed.sum_across(cluster, [progress.loss_sum, progress.seen])
        val_accuracy = (
            accuracy(net, prepared.splits["val"], cluster.device) if cluster.is_main else 0
        )
        if cluster.is_main:
            history.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": round(loss_sum / seen, 6),
                    "val_accuracy": round(val_accuracy, 6),
                    "seconds": round(time.perf_counter() - started, 3),
                }
            )
        progress = EpochProgress()
        _checkpoint(cfg, cluster, state, epoch + 1, progress)
        if cluster.is_main:
            artifacts.write_metrics(cfg.model_dir, history)
            _log_epoch(history[-1], cfg.epochs)
            reporter.epochs(history)
    if cluster.is_main:
        _write_outputs(cfg, prepared, cluster, net, history, fingerprint, reporter)
    return True


def _checkpoint(cfg: TrainConfig, cluster: distributed.Cluster, state: dict[str, Any],
                epoch: int, progress: EpochProgress) -> None:  # fmt: skip
    """Rank 0 writes where training stands: `epoch` epochs done plus `progress.step` batches
    of the next. The model and optimiser are the same on every rank; the RNG states and the
    partial loss sums are each rank's own, so they are gathered (a collective: every rank)."""
    ranks = distributed.gather_to_all(
        cluster, {"rng": _rng_state(cluster.device), "progress": asdict(progress)}
    )
    if cluster.is_main:
        checkpoint.save(
            cfg.checkpoint_dir,
            {
                "fingerprint": state["fingerprint"],
                "epoch": epoch,
                "step": progress.step,
                "model": state["model"].state_dict(),
                "optimizer": state["optimizer"].state_dict(),
                "ranks": ranks,
                "sampler": {"seed": cfg.seed, "next_epoch": epoch},
                "history": state["history"],
            },
        )


def _log_stop(cfg: TrainConfig, cluster: distributed.Cluster, epoch: int,
              progress: EpochProgress) -> None:  # fmt: skip
    where = f"step {progress.step} of epoch {epoch + 1}/{cfg.epochs}"
    if cluster.is_main:
        path = checkpoint.path_in(cfg.checkpoint_dir)
        print(f"SIGTERM: stopped at {where}; checkpoint written to {path}", flush=True)
    else:
        print(f"SIGTERM: rank {cluster.rank} stopped at {where}", flush=True)


def _announce(prepared: Prepared, cluster: distributed.Cluster) -> None:
    if cluster.grouped:
        print(f"rank {cluster.rank} of {cluster.world_size} joined", flush=True)
    if cluster.is_main:
        sizes = " / ".join(f"{len(part)} {name}" for name, part in prepared.splits.items())
        print(
            f"training {ALGORITHM}: {sizes} utterances, {len(prepared.dataset.labels)} classes, "
            f"vocabulary {len(prepared.vocab)}, world_size={cluster.world_size} "
            f"backend={cluster.backend} device={cluster.device}",
            flush=True,
        )


def _log_epoch(entry: dict[str, Any], epochs: int) -> None:
    """The line an operator (and the end-to-end test) greps from the master pod's log."""
    print(
        f"epoch {entry['epoch']}/{epochs} train_loss={entry['train_loss']:.4f} "
        f"val_accuracy={entry['val_accuracy']:.4f} seconds={entry['seconds']:.2f}",
        flush=True,
    )


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    split: EncodedSplit,
    order: list[int],
    cfg: TrainConfig,
    cluster: distributed.Cluster,
    progress: EpochProgress,
    stop: StopRequest,
) -> bool:
    """Trains the rest of one pass over this rank's shard, from `progress` on (updated in
    place). False when the ranks agreed to stop before the pass was done."""
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    for start in range(progress.step * cfg.batch_size, len(order), cfg.batch_size):
        if stop.agreed(cluster):
            return False
        batch = order[start : start + cfg.batch_size]
        token_ids, offsets, targets = _collate(split, batch, cluster.device)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(token_ids, offsets), targets)
        loss.backward()  # under DDP this also averages the gradients across ranks
        optimizer.step()
        progress.step += 1
        progress.loss_sum += loss.item() * len(batch)
        progress.seen += len(batch)
    return True


@torch.no_grad()
def accuracy(net: nn.Module, split: EncodedSplit, device: torch.device) -> float:
    net.eval()
    correct = 0
    for start in range(0, len(split), EVAL_BATCH):
        batch = list(range(start, min(start + EVAL_BATCH, len(split))))
        token_ids, offsets, targets = _collate(split, batch, device)
        correct += int((net(token_ids, offsets).argmax(dim=1) == targets).sum().item())
    return correct / len(split)


def _collate(
    split: EncodedSplit, batch: list[int], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The embedding bag's input: all ids in one flat tensor plus each utterance's start."""
    ids = [split.token_ids[i] for i in batch]
    offsets = [0, *itertools.accumulate(len(x) for x in ids[:-1])]
    flat = [token for x in ids for token in x]
    targets = [split.classes[i] for i in batch]
    return (
        torch.tensor(flat, dtype=torch.long, device=device),
        torch.tensor(offsets, dtype=torch.long, device=device),
        torch.tensor(targets, dtype=torch.long, device=device),
    )


def _rng_state(device: torch.device) -> dict[str, torch.Tensor | None]:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return {"cpu": torch.get_rng_state(), "cuda": cuda}


def _fingerprint(
    cfg: TrainConfig, prepared: Prepared, cluster: distributed.Cluster
) -> dict[str, Any]:
    """What must match for a checkpoint to continue this run. EPOCHS may grow between runs:
    nothing before the last epoch depends on it."""
    return {
        "algorithm": ALGORITHM,
        "code_version": artifacts.code_version(),
        "data_sha256": prepared.dataset.sha256,
        "lr": cfg.lr,
        "batch_size": cfg.batch_size,
        "fc_size": cfg.fc_size,
        "seed": cfg.seed,
        "world_size": cluster.world_size,  # each rank's shard and RNG stream depend on it
        "device": cluster.device.type,
    }


def _resume(
    cfg: TrainConfig,
    cluster: distributed.Cluster,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    fingerprint: dict[str, Any],
) -> tuple[int, list[dict[str, Any]], EpochProgress]:
    """Restores the last checkpoint, if any: (epochs already done, their metrics, this rank's
    progress through the next epoch)."""
    payload, error = None, None
    if cluster.is_main:
        try:
            payload = checkpoint.load(cfg.checkpoint_dir)
            if payload is not None:
                checkpoint.check_belongs(payload, fingerprint, cfg.epochs)
        except CheckpointError as err:
            # Sent to every rank, so the workers exit with the master instead of hanging.
            payload, error = None, str(err)
    payload, error = distributed.broadcast_from_main(cluster, (payload, error))
    if error is not None:
        raise CheckpointError(error)
    if payload is None:
        return 0, [], EpochProgress()
    net.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    own = payload["ranks"][cluster.rank]
    torch.set_rng_state(own["rng"]["cpu"])
    if own["rng"]["cuda"] is not None:
        torch.cuda.set_rng_state(own["rng"]["cuda"], cluster.device)
    if cluster.is_main:
        path = checkpoint.path_in(cfg.checkpoint_dir)
        within = f", step {payload['step']} of the next" if payload["step"] else ""
        print(
            f"resumed from checkpoint at epoch {payload['epoch']}/{cfg.epochs}{within} ({path})",
            flush=True,
        )
    return payload["epoch"], list(payload["history"]), EpochProgress(**own["progress"])


def _write_outputs(
    cfg: TrainConfig,
    prepared: Prepared,
    cluster: distributed.Cluster,
    net: nn.Module,
    history: list[dict[str, Any]],
    fingerprint: dict[str, Any],
    reporter: Reporter,
) -> None:
    test_accuracy = accuracy(net, prepared.splits["test"], cluster.device)
    predicted, truth = evaluate.predictions(net, prepared.splits["test"], cluster.device, _collate)
    test = evaluate.scores(predicted, truth, len(prepared.dataset.labels))
    sha256 = artifacts.write_weights(cfg.model_dir, net.state_dict())
    artifacts.write_vocab(cfg.model_dir, prepared.vocab.tokens)
    artifacts.write_metrics(cfg.model_dir, history)
    last = history[-1]
    manifest = {
        "algorithm": ALGORITHM,
        "model_name": cfg.model_name,
        "job_id": cfg.job_id,
        "framework": "pytorch",
        "framework_version": torch.__version__,
        "code_version": fingerprint["code_version"],
        "classes": {str(i): name for i, name in enumerate(prepared.dataset.class_names())},
        "hyperparameters": {**cfg.hyperparameters(), "optimizer": OPTIMIZER},
        "architecture": {
            **architecture(),
            "vocab_size": len(prepared.vocab),
            "fc_size": cfg.fc_size,
            "num_classes": len(prepared.dataset.labels),
        },
        "dataset": {
            "id": cfg.dataset_id,
            "version_hash": cfg.dataset_version_hash,
            "sha256": prepared.dataset.sha256,
            "split": {name: len(part) for name, part in prepared.splits.items()},
            "split_rule": f"sha256 of the utterance: {TEST_PERCENT}% test, {VAL_PERCENT}% val",
        },
        "distributed": {
            "world_size": cluster.world_size,
            "backend": cluster.backend,
            "device": cluster.device.type,
        },
        "weights": {"file": artifacts.WEIGHTS_FILE, "format": "safetensors", "sha256": sha256},
        "vocabulary": {"file": artifacts.VOCAB_FILE, "size": len(prepared.vocab)},
        "metrics": {
            "test_accuracy": round(test_accuracy, 6),
            "test_precision_macro": test["precision_macro"],
            "test_recall_macro": test["recall_macro"],
            "test_f1_macro": test["f1_macro"],
            "val_accuracy": last["val_accuracy"],
            "train_loss": last["train_loss"],
            "epochs": last["epoch"],
            "training_seconds": round(sum(entry["seconds"] for entry in history), 3),
        },
    }
    artifacts.write_manifest(cfg.model_dir, manifest)
    reporter.final(history, manifest["metrics"], sha256, manifest["hyperparameters"])
    print(
        f"done: test_accuracy={test_accuracy:.4f} weights_sha256={sha256} "
        f"model_dir={cfg.model_dir}",
        flush=True,
    )
