"""Scores on a split, computed with torch: accuracy and macro-averaged precision, recall and F1
(over the classes that occur in the labels or the predictions; a class never predicted has
precision 0, as scikit-learn's zero_division=0 gives)."""

import torch
from torch import nn

from .data import EncodedSplit

EVAL_BATCH = 1024


@torch.no_grad()
def predictions(net: nn.Module, split: EncodedSplit, device: torch.device,
                collate) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(predicted classes, true classes) over the whole split."""
    net.eval()
    predicted, truth = [], []
    for start in range(0, len(split), EVAL_BATCH):
        batch = list(range(start, min(start + EVAL_BATCH, len(split))))
        token_ids, offsets, targets = collate(split, batch, device)
        predicted.append(net(token_ids, offsets).argmax(dim=1).cpu())
        truth.append(targets.cpu())
    return torch.cat(predicted), torch.cat(truth)


def scores(predicted: torch.Tensor, truth: torch.Tensor, num_classes: int) -> dict[str, float]:
    cells = torch.bincount(truth * num_classes + predicted, minlength=num_classes * num_classes)
    confusion = cells.reshape(num_classes, num_classes).to(torch.float64)  # [true, predicted]
    hits = confusion.diagonal()
    predicted_per_class, true_per_class = confusion.sum(dim=0), confusion.sum(dim=1)
    present = (predicted_per_class + true_per_class) > 0
    precision = torch.where(predicted_per_class > 0, hits / predicted_per_class.clamp(min=1), 0)
    recall = torch.where(true_per_class > 0, hits / true_per_class.clamp(min=1), 0)
    denominator = precision + recall
    f1 = torch.where(denominator > 0, 2 * precision * recall / denominator.clamp(min=1e-12), 0)

    def macro(values: torch.Tensor) -> float:
        return round(float(values[present].mean()), 6) if bool(present.any()) else 0.0

    return {
        "accuracy": round(float(hits.sum() / max(len(truth), 1)), 6),
        "precision_macro": macro(precision),
        "recall_macro": macro(recall),
        "f1_macro": macro(f1),
    }
