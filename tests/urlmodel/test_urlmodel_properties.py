"""Property tests: no string crashes the model, scores stay probabilities."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidUrlError
from trustwatch.urlmodel.features import MAX_DOCUMENT_BYTES, document, hash_ngrams
from trustwatch.urlmodel.model import load_default_model

hosts = st.from_regex(
    r"[a-z0-9\-\u0430-\u044f\u4e00-\u4e10.]{1,60}\.(com|net|top|xn--p1ai)"
)
paths = st.text(min_size=0, max_size=300)
raw_urls = st.one_of(
    st.text(max_size=300),
    st.builds(lambda h, p: f"https://{h}/{p}", hosts, paths),
    st.builds(lambda h, p: f"http://user@{h}\\{p}?next=https://{h}", hosts, paths),
    st.builds(lambda p: f"http://[2001:db8::1]:8080/{p}", paths),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(raw_urls, min_size=1, max_size=8))
def test_model_scores_every_url_a_browser_would_load(raws):
    parsed = []
    for raw in raws:
        try:
            parsed.append(parse_url(raw))
        except InvalidUrlError:
            continue
    if not parsed:
        return
    model = load_default_model()
    scores = model.score(parsed)
    assert scores.shape == (len(parsed),)
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    for one, batch_score in zip(parsed, scores, strict=True):
        probability, reasons = model.explain(one)
        assert math.isclose(probability, batch_score, abs_tol=1e-9)
        assert len(reasons) <= 4
        assert all(r.text and math.isfinite(r.contribution) for r in reasons)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=400), max_size=6), st.integers(10, 22))
def test_hashing_accepts_any_bytes(docs, bits):
    grams = hash_ngrams(docs, bits)
    assert grams.indices.shape[0] == len(docs)
    if grams.mask.size:
        assert grams.indices[grams.mask].max(initial=0) < 2**bits
        assert grams.indices[grams.mask].min(initial=0) >= 0


@settings(max_examples=200, deadline=None)
@given(raw_urls)
def test_documents_are_bounded(raw):
    try:
        parsed = parse_url(raw)
    except InvalidUrlError:
        return
    assert len(document(parsed)) <= MAX_DOCUMENT_BYTES
