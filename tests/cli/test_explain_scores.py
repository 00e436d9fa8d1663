"""Scores in `alerts explain` and `alerts list` keep their side of a threshold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.console import Console

from trustwatch.cli.render import explain_tree, score_text, verdict_table
from trustwatch.decisions.model import Action, RuleHit, Verdict
from trustwatch.detectors.base import Signal


@pytest.mark.parametrize(
    ("score", "shown"),
    [
        (0.99939, "0.9993"),
        (0.99949, "0.9994"),
        (0.9995, "0.9995"),
        (0.99999, "0.9999"),
        (1.0, "1.00"),
        (0.5, "0.50"),
        (0.0, "0.00"),
    ],
)
def test_a_score_is_cut_to_four_decimals_never_rounded_up(score, shown):
    assert score_text(score) == shown


@pytest.mark.parametrize("threshold", [0.9995, 0.9999, 0.5, 0.95])
@pytest.mark.parametrize("score", [0.99939, 0.99949, 0.99951, 0.99989, 0.49999, 0.95])
def test_a_shown_score_falls_on_the_same_side_of_a_threshold(score, threshold):
    assert (float(score_text(score)) >= threshold) == (score >= threshold)


def _rendered(renderable) -> str:
    console = Console(width=400, record=True, file=None)
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


def test_explain_shows_a_score_just_under_the_threshold_as_under_it():
    signal = Signal(
        detector="url_reputation",
        detector_version="1",
        kind="malicious_url",
        score=0.99939,
        entity_type="url",
        entity="http://lure.example.net/",
        event_id="e1",
    )
    hit = RuleHit(
        rule_id="r",
        action="send_to_review",
        mode="enforce",
        signal_kind="malicious_url",
        score=0.99939,
        target_type="url",
        target="http://lure.example.net/",
    )
    verdict = Verdict(
        verdict_id="vrd-1",
        event_id="e1",
        event_type="url_posted",
        ts=datetime(2026, 11, 2, tzinfo=UTC),
        account="alice",
        ip=None,
        decision="send_to_review",
        score=0.99939,
        signals=(signal,),
        rules=(hit,),
        policy="p@1",
    )
    text = _rendered(explain_tree(verdict, []))
    assert "(score 0.9993)" in text
    assert "malicious_url 0.9993 on url" in text
    assert "1.00" not in text
    assert "0.9993" in _rendered(verdict_table([verdict]))


def test_explain_names_the_analyst_who_took_an_action():
    verdict = Verdict(
        verdict_id="vrd-2",
        event_id="e2",
        event_type="login",
        ts=datetime(2026, 11, 2, tzinfo=UTC),
        account="alice",
        ip=None,
        decision="challenge",
        score=0.9,
        signals=(),
        rules=(),
        policy="p@1",
    )

    def action(actor: str) -> Action:
        return Action(
            action_id=f"act-{actor[:6]}",
            verdict_id="vrd-2",
            event_id="e2",
            type="lock_account",
            target_type="account",
            target="alice",
            mode="enforce",
            actor=actor,
            reason="r",
            created_at=datetime(2026, 11, 2, tzinfo=UTC),
        )

    text = _rendered(
        explain_tree(verdict, [action("policy:p@1#lock"), action("analyst:carol")])
    )
    assert "(enforce) by analyst:carol" in text
    assert "by policy:" not in text
