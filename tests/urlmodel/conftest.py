"""A small labelled corpus and a model trained on it, shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

import pytest

from trustwatch.urlmodel.corpus import LabelledUrl
from trustwatch.urlmodel.model import UrlModel
from trustwatch.urlmodel.training import TrainingSettings, fit_url_model, parse_corpus

_WORDS = "news blog shop docs help about team photos recipes travel music store".split()
_BAD = "login verify secure account update wallet signin billing confirm".split()
_BRANDS = "paypal microsoft apple netflix amazon".split()


def small_corpus(size: int = 600, seed: int = 7) -> list[LabelledUrl]:
    """Benign and malicious URLs with the shapes of the real thing, dated."""
    rng = Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    for index in range(size):
        when = start + timedelta(days=index * 300 / size)
        if index % 2:
            host = f"{rng.choice(_WORDS)}{rng.randrange(1000)}.com"
            path = "/".join(rng.choice(_WORDS) for _ in range(rng.randrange(0, 3)))
            rows.append(LabelledUrl(f"https://{host}/{path}", 0, None, "benign"))
        else:
            brand, word = rng.choice(_BRANDS), rng.choice(_BAD)
            host = rng.choice(
                [
                    f"{brand}-{word}-{rng.randrange(99)}.weeblysite.com",
                    f"{brand}.com.{word}-{rng.randrange(999)}.top",
                    f"198.51.100.{rng.randrange(1, 250)}:8080",
                ]
            )
            rows.append(
                LabelledUrl(
                    f"http://{host}/{word}/{rng.choice(_BAD)}.php", 1, when, "bad"
                )
            )
    return rows


@pytest.fixture(scope="session")
def make_corpus():
    """The :func:`small_corpus` builder, for tests that need their own sizes."""
    return small_corpus


@pytest.fixture(scope="session")
def small_model() -> UrlModel:
    corpus = parse_corpus(small_corpus())
    return fit_url_model(
        corpus, TrainingSettings(bits=16, epochs=10, trees=40), {"name": "test"}
    )
