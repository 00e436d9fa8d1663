"""The URL and domain hard cases: every one is scored or refused, never a crash."""

from __future__ import annotations

import pytest

from trustwatch.cli.url import score_url


@pytest.mark.datasets
def test_every_url_and_domain_case_is_scored_or_refused(hardcases) -> None:
    cases = {k: v for k, v in hardcases.items() if k.startswith(("URL-", "DOM-"))}
    assert len(cases) >= 10
    for case_id, case in cases.items():
        raw = case["input"]
        raw = raw if "://" in raw else f"http://{raw}/"
        result = score_url(raw)
        if result.error is None:
            assert 0.0 <= result.score <= 1.0, case_id
            assert result.reasons, case_id
        else:
            assert result.score is None and result.error, case_id


@pytest.mark.datasets
def test_confusable_apple_scores_above_the_real_apple(hardcases) -> None:
    lookalike = score_url(f"http://{hardcases['DOM-04']['input']}/")
    real = score_url("https://www.apple.com/")
    assert lookalike.brands and lookalike.brands[0].startswith("apple")
    assert lookalike.score > real.score
