"""Word-level tokeniser and vocabulary."""

import pytest

from trainers.intent_classification.vocab import UNKNOWN, Vocabulary, tokenize

pytestmark = pytest.mark.trainer


@pytest.mark.parametrize(
    "text, tokens",
    [
        (
            "how would you say fly in italian",
            ["how", "would", "you", "say", "fly", "in", "italian"],
        ),
        ("What's the WEATHER like?", ["what's", "the", "weather", "like"]),
        ("don\u2019t wake me", ["don't", "wake", "me"]),  # curly apostrophe from phones
        ("send $1,000 to sarah!", ["send", "1", "000", "to", "sarah"]),
        ("alarm at 7:15", ["alarm", "at", "7", "15"]),
        ("  lots\tof \n space ", ["lots", "of", "space"]),
        ("danke schön", ["danke", "schön"]),
        ("snake_case-and-dashes", ["snake", "case", "and", "dashes"]),
        ("?!...", []),
    ],
)
def test_tokenize_splits_words_not_characters(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_vocabulary_orders_by_frequency_then_text() -> None:
    vocab = Vocabulary.build(["b a", "a c", "a b"])
    assert vocab.tokens == [UNKNOWN, "a", "b", "c"]


def test_vocabulary_is_independent_of_row_order() -> None:
    texts = ["book a flight", "cancel my flight", "play a song", "book a table"]
    assert Vocabulary.build(texts).tokens == Vocabulary.build(reversed(texts)).tokens


def test_encode_maps_unseen_words_to_unknown() -> None:
    vocab = Vocabulary.build(["play some jazz"])
    assert vocab.encode("play some polka") == [
        vocab.tokens.index("play"),
        vocab.tokens.index("some"),
        0,
    ]


def test_encode_never_returns_an_empty_bag() -> None:
    assert Vocabulary.build(["hello"]).encode("!!!") == [0]


def test_the_word_unk_in_text_is_an_ordinary_word() -> None:
    vocab = Vocabulary.build(["<unk> unk word"])
    assert vocab.tokens.count(UNKNOWN) == 1
    assert vocab.encode("unk") != [0]
