from decimal import Decimal

import pytest

from wrapper.validation import k8s_names as kubenames


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", Decimal("0.5")), ("2", Decimal(2)), ("1Gi", Decimal(2**30)), ("1.5k", Decimal(1500)),
     ("1e3", Decimal(1000))],
)  # fmt: skip
def test_quantities(text, value):
    assert kubenames.quantity(text) == value


@pytest.mark.parametrize("text", ["", "1GB", "abc", "1.2.3", "Gi", " 1"])
def test_bad_quantities(text):
    with pytest.raises(ValueError):
        kubenames.quantity(text)


def test_quantity_memo_keeps_answers_and_refusals():
    # Memoised parses answer as a fresh parse; a refusal is raised again each time (never
    # cached), a non-string is a ValueError (not the memo's TypeError for unhashable values),
    # and a long string is parsed without entering the memo.
    assert kubenames.quantity("750m") == kubenames.quantity("750m") == Decimal("0.75")
    for _ in range(2):
        with pytest.raises(ValueError):
            kubenames.quantity("1GB")
    with pytest.raises(ValueError):
        kubenames.quantity(["1"])
    long = "1" + "0" * 40
    before = kubenames._memo_quantity.cache_info().currsize
    assert kubenames.quantity(long) == Decimal(long)
    assert kubenames._memo_quantity.cache_info().currsize == before


def test_names():
    assert kubenames.dns1035_label("tq-12") is None
    assert kubenames.dns1035_label("1tq") is not None
    assert kubenames.dns1123_label("1tq") is None
    assert kubenames.dns1035_label("a" * 21, max_len=20) is not None
    assert kubenames.qualified_name("example.com/a.b_c-d") is None
    assert kubenames.qualified_name("/x") is not None
    assert kubenames.qualified_name("Bad_Domain/x") is not None
    assert kubenames.label_value("") is None
    assert kubenames.env_name("my.var-1") is None
    assert kubenames.env_name("9x") is not None
