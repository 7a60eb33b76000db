"""The intent classifier: mean word embedding → a hidden ReLU layer of FC_SIZE units → logits."""

import torch
from torch import nn

EMBED_DIM = 64
DROPOUT = 0.2


class IntentClassifier(nn.Module):
    def __init__(self, vocab_size: int, num_classes: int, fc_size: int) -> None:
        super().__init__()
        # An embedding bag averages a variable number of words per utterance without padding.
        self.embedding = nn.EmbeddingBag(vocab_size, EMBED_DIM, mode="mean")
        self.hidden = nn.Linear(EMBED_DIM, fc_size)
        self.dropout = nn.Dropout(DROPOUT)
        self.output = nn.Linear(fc_size, num_classes)

    def forward(self, token_ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """token_ids: every utterance's ids concatenated; offsets: where each utterance starts."""
        bag = self.embedding(token_ids, offsets)
        return self.output(self.dropout(torch.relu(self.hidden(bag))))


def architecture() -> dict[str, object]:
    """What the manifest records so a server can rebuild the module before loading weights."""
    return {
        "class": "IntentClassifier",
        "embedding": "EmbeddingBag(mode=mean)",
        "embed_dim": EMBED_DIM,
        "dropout": DROPOUT,
    }
