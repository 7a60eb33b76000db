"""Data set parsing, validation and the deterministic split; the bundled data set's properties."""

import csv
import importlib.util
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from trainers.intent_classification import data
from trainers.intent_classification.config import BUNDLED_DATA_DIR
from trainers.intent_classification.errors import EXIT_DATA, DataError
from trainers.intent_classification.vocab import tokenize

pytestmark = pytest.mark.trainer

LABELS = b'"1","cancel"\n"2","book_flight"\n"3","weather"\n'


def write_dataset(directory: Path, examples: bytes, labels: bytes = LABELS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "labels.csv").write_bytes(labels)
    (directory / "examples.csv").write_bytes(examples)
    return directory


def test_parses_the_seed_format(tmp_path: Path) -> None:
    examples = b'"cancel my order","1"\n"fly me to rome, please","2"\n\n"is it cold out","3"\n'
    dataset = data.load(write_dataset(tmp_path, examples))
    assert dataset.labels == {1: "cancel", 2: "book_flight", 3: "weather"}
    assert [(e.text, e.label_index) for e in dataset.examples] == [
        ("cancel my order", 1),
        ("fly me to rome, please", 2),  # a comma inside quotes is part of the utterance
        ("is it cold out", 3),
    ]
    assert dataset.class_names() == ["cancel", "book_flight", "weather"]
    assert dataset.class_ids() == {1: 0, 2: 1, 3: 2}  # the seed's int(x) - 1


def test_unquoted_rows_and_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    dataset = data.load(write_dataset(tmp_path, b"\xef\xbb\xbfcancel it,1\r\nrain today,3\r\n"))
    assert [(e.text, e.label_index) for e in dataset.examples] == [
        ("cancel it", 1),
        ("rain today", 3),
    ]


def test_label_indices_need_not_be_contiguous(tmp_path: Path) -> None:
    labels = b'"10","b"\n"2","a"\n'
    dataset = data.load(write_dataset(tmp_path, b'"x","10"\n"y","2"\n', labels))
    assert dataset.class_names() == ["a", "b"]
    assert dataset.class_ids() == {2: 0, 10: 1}


def test_sha256_changes_with_content(tmp_path: Path) -> None:
    one = data.load(write_dataset(tmp_path / "a", b'"x","1"\n')).sha256
    same = data.load(write_dataset(tmp_path / "b", b'"x","1"\n')).sha256
    other = data.load(write_dataset(tmp_path / "c", b'"x","2"\n')).sha256
    assert one == same != other


@pytest.mark.parametrize(
    "examples, labels, message",
    [
        (b'"a","1","extra"\n', LABELS, "examples.csv line 1: expected 2 fields, got 3"),
        (b'"ok","1"\n"only one field"\n', LABELS, "examples.csv line 2: expected 2 fields, got 1"),
        (b'"ok","1"\n"bad "quote","1"\n', LABELS, "examples.csv line 2: malformed CSV"),
        (
            b'"a","one"\n',
            LABELS,
            "examples.csv line 1: label index 'one' is not a positive integer",
        ),
        (b'"a","-1"\n', LABELS, "label index '-1' is not a positive integer"),
        (b'"a","0"\n', LABELS, "examples.csv line 1: label index 0 must be 1 or more"),
        (b'"a","1;2"\n', LABELS, "examples.csv line 1: multi-label row '1;2' is not supported"),
        (b'"a","1"\n"b","9"\n', LABELS, "examples.csv line 2: label index 9 is not in labels.csv"),
        (b'"  ","1"\n', LABELS, "examples.csv line 1: empty utterance"),
        (b"", LABELS, "examples.csv: no examples"),
        (b'"caf\xe9","1"\n', LABELS, "examples.csv: not UTF-8"),
        (b'"a","1"\n', b'"1","x"\n"1","y"\n', "labels.csv line 2: label index 1 appears twice"),
        (b'"a","1"\n', b'"1","x"\n"2","x"\n', "labels.csv line 2: label 'x' appears twice"),
        (b'"a","1"\n', b'"1","x"\n"2"," "\n', "labels.csv line 2: empty label name for index 2"),
        (b'"a","1"\n', b'"1","only"\n', "labels.csv: needs at least 2 labels, found 1"),
        (b'"a","1"\n', b'"first","x"\n', "labels.csv line 1: label index 'first'"),
    ],
)
def test_bad_data_names_file_line_and_problem(
    tmp_path: Path, examples: bytes, labels: bytes, message: str
) -> None:
    with pytest.raises(DataError) as raised:
        data.load(write_dataset(tmp_path, examples, labels))
    assert message in str(raised.value)
    assert raised.value.exit_code == EXIT_DATA


def test_missing_directory_and_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is not a directory"):
        data.load(tmp_path / "nowhere")
    (tmp_path / "labels.csv").write_bytes(LABELS)
    with pytest.raises(DataError, match=r"examples\.csv: file not found"):
        data.load(tmp_path)


def test_split_is_deterministic_and_keeps_duplicates_together() -> None:
    assert data.split_of("Book a flight to Rome") == data.split_of("book  a flight to rome")
    texts = [f"utterance number {i}" for i in range(2000)]
    first = [data.split_of(t) for t in texts]
    assert first == [data.split_of(t) for t in texts]
    shares = Counter(first)
    # 10% / 10% / 80% by design; a hash over 2000 texts lands within a few points of that.
    assert 150 < shares["test"] < 250 and 150 < shares["val"] < 250


def test_tiny_data_set_is_rejected_rather_than_split_empty(tmp_path: Path) -> None:
    parsed = data.load(write_dataset(tmp_path, b'"cancel my order","1"\n"rain?","3"\n'))
    with pytest.raises(DataError, match="split empty"):
        data.split(parsed.examples)


def test_vocabulary_comes_from_the_training_split_only() -> None:
    prepared = data.prepare(data.load(BUNDLED_DATA_DIR))
    train_words = {
        w
        for e in prepared.dataset.examples
        if data.split_of(e.text) == "train"
        for w in tokenize(e.text)
    }
    assert set(prepared.vocab.tokens[1:]) == train_words
    unseen = {w for e in prepared.dataset.examples for w in tokenize(e.text)} - train_words
    assert unseen, "val/test should hold some words train lacks, or 'train only' is untested"


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, str]]:
    with (BUNDLED_DATA_DIR / "examples.csv").open(encoding="utf-8", newline="") as f:
        return [(text, label) for text, label in csv.reader(f)]


class TestBundledDataSet:
    """The data set shipped in trainers/intent_classification/data."""

    def test_size_and_balance(self, rows: list[tuple[str, str]]) -> None:
        counts = Counter(label for _, label in rows)
        assert len(rows) >= 600 and len(counts) >= 8
        assert len({text for text, _ in rows}) == len(rows), "utterances are unique"
        assert min(counts.values()) >= 50

    def test_every_class_is_in_every_split(self) -> None:
        prepared = data.prepare(data.load(BUNDLED_DATA_DIR))
        for name, part in prepared.splits.items():
            assert set(part.classes) == set(range(len(prepared.dataset.labels))), name

    def test_no_single_word_separates_an_intent(self, rows: list[tuple[str, str]]) -> None:
        per_label = Counter(label for _, label in rows)
        by_word: dict[str, Counter[str]] = defaultdict(Counter)
        for text, label in rows:
            for word in set(tokenize(text)):
                by_word[word][label] += 1
        for label, total in per_label.items():
            # A word that is >= 90% precise for this intent covers well under its examples.
            coverage = max(
                (c[label] / total for c in by_word.values() if c[label] / c.total() >= 0.9),
                default=0.0,
            )
            assert coverage < 0.6, f"label {label}: one word covers {coverage:.0%}"

    def test_generator_reproduces_the_committed_files(self, tmp_path: Path) -> None:
        script = BUNDLED_DATA_DIR / "make_dataset.py"
        spec = importlib.util.spec_from_file_location("make_dataset", script)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.write(tmp_path)
        for name in ("examples.csv", "labels.csv"):
            assert (tmp_path / name).read_bytes() == (BUNDLED_DATA_DIR / name).read_bytes(), name
