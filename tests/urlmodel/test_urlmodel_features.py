"""Features: stable hashes, parts kept apart, named values that mean what they say."""

import numpy as np
import pytest

from trustwatch.brands import find_impersonation
from trustwatch.enrichment.urls import parse_url
from trustwatch.urlmodel.features import (
    DENSE_FEATURES,
    NGRAM_SIZES,
    dense_feature_matrix,
    dense_features,
    document,
    hash_ngrams,
    part_of,
)


def _named(url: str) -> dict[str, float]:
    values = dense_features(parse_url(url))
    return {
        spec.name: value for spec, value in zip(DENSE_FEATURES, values, strict=True)
    }


def test_document_keeps_parts_apart_and_folds_escape_runs():
    doc = document(
        parse_url("https://Login.Example.com/A%20B%2Fc/Path?Q=%E3%81%82%E3%81%84")
    )
    assert doc == b"login.example.com\x01/a%b%c/path\x02q=%"
    assert part_of(doc, 0) == "host"
    assert part_of(doc, doc.index(b"/a")) == "path"
    assert part_of(doc, doc.index(b"q=")) == "query"


def test_document_is_bounded():
    doc = document(parse_url("https://example.com/" + "a" * 5000))
    assert len(doc) == 256


def test_hashes_are_stable_and_depend_on_the_part():
    docs = [b"login\x01/\x02", b"x\x01/login\x02", b"login\x01/\x02"]
    grams = hash_ngrams(docs, bits=20)
    first = set(grams.indices[0][grams.mask[0]].tolist())
    second = set(grams.indices[1][grams.mask[1]].tolist())
    third = set(grams.indices[2][grams.mask[2]].tolist())
    assert first == third
    # "log", "ogi", "gin" in a host are not the same features as in a path
    assert len(first & second) <= 1


def _reference_hash(gram: bytes, part: int, bits: int) -> int:
    """The n-gram hash written out in plain Python, one byte at a time."""
    mask = 0xFFFFFFFF
    value = 0
    for byte in gram:
        value = ((value * 0x01000193) & mask) ^ byte
    value ^= (part * 0x9E3779B1 + len(gram) * 0x85EBCA6B) & mask
    value ^= value >> 16
    value = (value * 0x85EBCA6B) & mask
    value ^= value >> 13
    value = (value * 0xC2B2AE35) & mask
    value ^= value >> 16
    return value >> (32 - bits)


def test_vectorised_hash_matches_the_plain_definition():
    doc = b"pay.example\x01/login\x02a=1"
    grams = hash_ngrams([doc], bits=20)
    for slot in np.flatnonzero(grams.mask[0]):
        start, size = int(grams.starts[slot]), int(grams.sizes[slot])
        part = sum(1 for byte in doc[: start + 1] if byte in (1, 2))
        expected = _reference_hash(doc[start : start + size], part, 20)
        assert grams.indices[0, slot] == expected


def test_ngram_counts_and_weights():
    grams = hash_ngrams([b"abcdef", b"ab"], bits=16)
    expected = sum(max(0, 6 - n + 1) for n in NGRAM_SIZES)
    assert grams.mask[0].sum() == expected
    assert grams.mask[1].sum() == 0
    assert grams.weight[0] == pytest.approx(1 / np.sqrt(expected))
    assert grams.indices.max() < 2**16


def test_empty_batch():
    grams = hash_ngrams([], bits=16)
    assert grams.indices.shape[0] == 0


@pytest.mark.parametrize(
    ("url", "feature", "value"),
    [
        ("http://198.51.100.7:8080/bin.sh", "ip_host", 1.0),
        ("http://198.51.100.7:8080/bin.sh", "port", 1.0),
        ("http://198.51.100.7:8080/bin.sh", "payload", 1.0),
        ("http://198.51.100.7:8080/bin.sh", "plain_http", 1.0),
        ("https://a.b.c.example.com/", "subdomain_depth", 3.0),
        ("https://secure-login-paypal.weeblysite.com/", "free_hosting", 1.0),
        ("https://bit.ly/3xYz", "shortener", 1.0),
        ("https://me.duckdns.org/", "dynamic_dns", 1.0),
        ("https://linktr.ee/someone", "link_in_bio", 1.0),
        ("https://paypal.com.secure-login.example/", "brand_elsewhere", 1.0),
        ("https://www.paypal.com/signin", "brand_elsewhere", 0.0),
        ("https://example.com/login/verify-account", "credential_words", 3.0),
        ("https://example.com/r?u=https://evil.example/", "redirect_parameter", 1.0),
        ("https://example.com/", "home_page", 1.0),
        ("https://example.com/a", "home_page", 0.0),
        ("https://xn--pypal-4ve.com/", "idn", 1.0),
        ("https://www.example.com@evil.example/", "userinfo", 1.0),
        ("https://example.top/", "risky_tld", 1.0),
        ("https://ex4mple-22.com/", "domain_digits", 3.0),
    ],
)
def test_named_features(url, feature, value):
    assert _named(url)[feature] == value


_BATCH = [
    "https://paypal.com.secure-login.example/webscr/login?next=https://x.example",
    "http://198.51.100.4:8080/bins/mozi.m",
    "https://www.example.com/",
    "https://sites.example/accounts/verify/update?u=%68%74%74%70",
    "https://paypal.com.secure-login.example/a/b/c/invoice.zip",
    "https://xn--pypal-4ve.com/signin",
    "https://www.example.com/news/2016/",
    "http://user@bank.example@203.0.113.9/",
]


def test_a_batch_gives_each_url_the_row_it_has_alone():
    parsed = [parse_url(url) for url in _BATCH]
    matrix = dense_feature_matrix(parsed)
    assert matrix.shape == (len(_BATCH), len(DENSE_FEATURES))
    for row, url in zip(matrix, _BATCH, strict=True):
        assert row.tolist() == dense_features(parse_url(url))
    assert dense_feature_matrix([]).shape == (0, len(DENSE_FEATURES))


def test_batched_counts_and_brand_column_agree_with_their_definitions():
    parsed = [parse_url(url) for url in _BATCH]
    named = {spec.name: i for i, spec in enumerate(DENSE_FEATURES)}
    matrix = dense_feature_matrix(parsed)
    brand = [bool(find_impersonation(p)) for p in parsed]
    assert matrix[:, named["brand_elsewhere"]].astype(bool).tolist() == brand
    assert brand == [True, False, False, False, True, True, False, False]
    assert matrix[:, named["credential_words"]].tolist() == [4, 0, 0, 3, 3, 1, 0, 0]
    assert matrix[:, named["path_depth"]].tolist() == [2, 2, 1, 3, 4, 1, 3, 1]
    assert matrix[:, named["payload"]].tolist() == [0, 1, 0, 0, 1, 0, 0, 0]
    assert matrix[:, named["redirect_parameter"]].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
