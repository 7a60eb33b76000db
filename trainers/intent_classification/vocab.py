"""Word-level tokeniser and the vocabulary built from the training split.

The seed fed `' '.join(utterance)` to its vocabulary, i.e. characters; words carry the meaning.
"""

import re
from collections import Counter
from collections.abc import Iterable

UNKNOWN = "<unk>"
# Runs of letters or digits in any script, keeping inner apostrophes ("what's", "don't") whole.
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def tokenize(text: str) -> list[str]:
    """Lower-cased words; punctuation, symbols and spacing are dropped."""
    return _WORD.findall(text.translate(_APOSTROPHES).casefold())


class Vocabulary:
    """Token ↔ id mapping; id 0 is the unknown token, the rest ordered by frequency then text."""

    def __init__(self, tokens: list[str]) -> None:
        if not tokens or tokens[0] != UNKNOWN:
            raise ValueError(f"a vocabulary starts with {UNKNOWN!r}")
        self.tokens = tokens
        self._ids = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(cls, texts: Iterable[str]) -> "Vocabulary":
        counts = Counter(token for text in texts for token in tokenize(text))
        # Sorting by (-count, token) makes the ids a function of the data alone, not of set order.
        ordered = sorted(counts, key=lambda token: (-counts[token], token))
        return cls([UNKNOWN, *ordered])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids of the text; an utterance with no words becomes [unknown], never []."""
        ids = [self._ids.get(token, 0) for token in tokenize(text)]
        return ids or [0]
