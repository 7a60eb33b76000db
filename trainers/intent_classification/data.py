"""Reads and checks the training data set and splits it deterministically.

Format (the seed's data service, versionedDatasets/<id>/<hash>/): `examples.csv` rows
`"utterance","<label index>"` with 1-based indices, and `labels.csv` rows `"<index>","<label>"`,
no header. Every problem is a DataError naming the file and line, raised before training starts.
"""

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError
from .vocab import Vocabulary

EXAMPLES_FILE = "examples.csv"
LABELS_FILE = "labels.csv"
SPLITS = ("train", "val", "test")
# Percent of utterances per split; the rest is train. Fixed, so the test set is the same for every
# SEED and hyperparameter choice and their results compare.
TEST_PERCENT = 10
VAL_PERCENT = 10
_SPLIT_SALT = b"trainq-intent-split-v1\0"


@dataclass(frozen=True)
class Example:
    text: str
    label_index: int  # as written in the file (1-based); classes are numbered later


@dataclass(frozen=True)
class DataSet:
    labels: dict[int, str]  # label index → name, as in labels.csv
    examples: list[Example]
    sha256: str  # over both files' bytes: what was trained on, for the manifest and checkpoints

    def class_names(self) -> list[str]:
        """Class id i is the i-th smallest label index (index - 1 when indices run 1..n)."""
        return [self.labels[index] for index in sorted(self.labels)]

    def class_ids(self) -> dict[int, int]:
        return {index: i for i, index in enumerate(sorted(self.labels))}


def load(directory: Path) -> DataSet:
    if not directory.is_dir():
        raise DataError(f"TRAINING_DATA_PATH={str(directory)!r} is not a directory")
    labels_path, examples_path = directory / LABELS_FILE, directory / EXAMPLES_FILE
    labels_bytes, examples_bytes = _read(labels_path), _read(examples_path)
    labels = parse_labels(labels_bytes, labels_path.name)
    examples = parse_examples(examples_bytes, examples_path.name, labels)
    digest = hashlib.sha256()
    for blob in (labels_bytes, examples_bytes):
        digest.update(len(blob).to_bytes(8, "big"))
        digest.update(blob)
    return DataSet(labels=labels, examples=examples, sha256=digest.hexdigest())


def parse_labels(blob: bytes, name: str = LABELS_FILE) -> dict[int, str]:
    labels: dict[int, str] = {}
    for line, row in _rows(blob, name):
        index = _label_index(row[0], name, line)
        label = row[1].strip()
        if not label:
            raise DataError(f"{name} line {line}: empty label name for index {index}")
        if index in labels:
            raise DataError(f"{name} line {line}: label index {index} appears twice")
        if label in labels.values():
            raise DataError(f"{name} line {line}: label {label!r} appears twice")
        labels[index] = label
    if len(labels) < 2:
        raise DataError(f"{name}: needs at least 2 labels, found {len(labels)}")
    return labels


def parse_examples(blob: bytes, name: str, labels: dict[int, str]) -> list[Example]:
    examples = []
    for line, row in _rows(blob, name):
        text = row[0].strip()
        if not text:
            raise DataError(f"{name} line {line}: empty utterance")
        if ";" in row[1]:
            # The seed's raw format allows "1;2"; one label per utterance is what this model learns.
            raise DataError(f"{name} line {line}: multi-label row {row[1]!r} is not supported")
        index = _label_index(row[1], name, line)
        if index not in labels:
            raise DataError(f"{name} line {line}: label index {index} is not in {LABELS_FILE}")
        examples.append(Example(text, index))
    if not examples:
        raise DataError(f"{name}: no examples")
    return examples


def split_of(text: str) -> str:
    """The split an utterance belongs to: a salted hash of its normalised text.

    Hashing the text (not the row number) keeps duplicates and case variants in one split, so
    the test set never holds an utterance the model trained on, and appending rows moves none.
    """
    normalised = " ".join(text.casefold().split()).encode("utf-8")
    bucket = int.from_bytes(hashlib.sha256(_SPLIT_SALT + normalised).digest()[:8], "big") % 100
    if bucket < TEST_PERCENT:
        return "test"
    if bucket < TEST_PERCENT + VAL_PERCENT:
        return "val"
    return "train"


def split(examples: list[Example]) -> dict[str, list[Example]]:
    """Examples per split, in file order; every split must be non-empty."""
    parts: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for example in examples:
        parts[split_of(example.text)].append(example)
    empty = [name for name in SPLITS if not parts[name]]
    if empty:
        raise DataError(
            f"{EXAMPLES_FILE}: {len(examples)} examples leave the {'/'.join(empty)} split empty; "
            "the data set is too small"
        )
    return parts


@dataclass(frozen=True)
class EncodedSplit:
    token_ids: list[list[int]]
    classes: list[int]

    def __len__(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Prepared:
    """What training needs: the vocabulary (from train only) and every split as ids."""

    dataset: DataSet
    vocab: Vocabulary
    splits: dict[str, EncodedSplit]


def prepare(dataset: DataSet) -> Prepared:
    parts = split(dataset.examples)
    # Built from train alone so validation and test words the model never saw stay unknown.
    vocab = Vocabulary.build(example.text for example in parts["train"])
    class_ids = dataset.class_ids()
    splits = {
        name: EncodedSplit(
            token_ids=[vocab.encode(example.text) for example in examples],
            classes=[class_ids[example.label_index] for example in examples],
        )
        for name, examples in parts.items()
    }
    return Prepared(dataset=dataset, vocab=vocab, splits=splits)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None


def _rows(blob: bytes, name: str):
    """(line number, [field, field]) for each non-blank row."""
    try:
        text = blob.decode("utf-8-sig")  # tolerate a byte-order mark from spreadsheet exports
    except UnicodeDecodeError as err:
        raise DataError(f"{name}: not UTF-8 (byte {err.start})") from None
    # newline="" lets the csv module see line ends itself, so quoted multi-line fields work.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != 2:
                raise DataError(f"{name} line {reader.line_num}: expected 2 fields, got {len(row)}")
            yield reader.line_num, row
    except csv.Error as err:
        raise DataError(f"{name} line {reader.line_num}: malformed CSV ({err})") from None


def _label_index(raw: str, name: str, line: int) -> int:
    value = raw.strip()
    if not value.isdigit() or not value.isascii():
        raise DataError(f"{name} line {line}: label index {raw!r} is not a positive integer")
    index = int(value)
    if index < 1:
        raise DataError(f"{name} line {line}: label index {index} must be 1 or more")
    return index
