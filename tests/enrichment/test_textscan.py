"""One scan over many texts gives each text the matches it would have alone."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustwatch.enrichment.textscan import literal_alternation, match_counts

_TEXTS = st.lists(st.text(alphabet="abgilno-\n.", max_size=30), max_size=12)
_WORDS = ["login", "logon", "log-in", "bill", "a-b", "nil"]


@given(_TEXTS)
def test_counts_equal_findall_text_by_text(texts: list[str]) -> None:
    pattern = re.compile("login|logon|ab|b-a")
    counts = match_counts(pattern, texts)
    assert counts.tolist() == [len(pattern.findall(text)) for text in texts]


def test_counts_of_no_texts_and_of_empty_texts() -> None:
    pattern = re.compile("a")
    assert match_counts(pattern, []).tolist() == []
    assert match_counts(pattern, ["", "a", "", "aa"]).tolist() == [0, 1, 0, 2]


def test_a_match_never_spans_two_texts() -> None:
    assert match_counts(re.compile("log"), ["lo", "g", "log"]).tolist() == [0, 0, 1]


@given(st.text(alphabet="abgilno-.", max_size=60))
def test_factored_words_match_like_the_plain_alternation(text: str) -> None:
    plain = re.compile("|".join(re.escape(word) for word in _WORDS))
    factored = literal_alternation(_WORDS)
    assert factored.findall(text) == plain.findall(text)
    assert [m.span() for m in factored.finditer(text)] == [
        m.span() for m in plain.finditer(text)
    ]


def test_factoring_shares_prefixes() -> None:
    assert literal_alternation(["logon", "login", "wallet"]).pattern == (
        "log(?:in|on)|wallet"
    )
    assert literal_alternation(["a.b", "a+c"]).pattern == r"a(?:\+c|\.b)"


@pytest.mark.parametrize(
    ("words", "message"),
    [([], "non-empty"), ([""], "non-empty"), (["log", "login"], "prefix")],
)
def test_unfit_word_lists_are_refused(words: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        literal_alternation(words)
