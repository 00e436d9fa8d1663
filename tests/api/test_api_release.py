"""Releasing and dropping actions the breaker held, through ``/api/v1``."""

from __future__ import annotations

from tests.api.api_world import T0

from trustwatch.api.auth import CSRF_HEADER
from trustwatch.response.ledger import DispatchLedger


def _hold(world, count: int) -> list[str]:
    """Hold the first ``count`` enforced actions, as the breaker would."""
    enforced = [a for a in world.actions if a.mode == "enforce"][:count]
    assert len(enforced) == count
    with DispatchLedger(world.settings.ledger) as ledger:
        for action in enforced:
            assert ledger.add(action.action_id, T0, state="held", last_error="budget")
    return [a.action_id for a in enforced]


def _audit(world, action: str) -> list[dict]:
    entries = world.client.get("/api/v1/audit", headers=world.auth("admin")).json()
    return [e for e in entries if e["action"] == action]


def test_an_analyst_releases_a_held_action_and_it_is_audited(world) -> None:
    [held] = _hold(world, 1)
    url = f"/api/v1/actions/{held}/release"
    viewer, analyst = world.auth("viewer"), world.auth("analyst")

    assert (
        world.client.post(url, json={"reason": "x"}, headers=viewer).status_code == 403
    )
    assert world.client.post(url, json={}, headers=analyst).status_code == 422
    released = world.client.post(
        url, json={"reason": "owner confirmed"}, headers=analyst
    )
    assert released.status_code == 200, released.text
    assert released.json()["state"] == "pending"
    assert "released" in released.json()["outcome"]
    again = world.client.post(url, json={"reason": "twice"}, headers=analyst)
    assert again.status_code == 409

    with DispatchLedger(world.settings.ledger) as ledger:
        record = ledger.record(held)
        [release] = ledger.releases(held)
    assert record is not None and record.state == "pending" and record.attempts == 0
    assert (release.actor, release.reason) == ("analyst-1", "owner confirmed")
    [entry] = _audit(world, "release")
    assert entry["target"] == held and entry["actor"] == "analyst-1"
    assert entry["detail"]["reason"] == "owner confirmed"


def test_an_analyst_drops_a_held_action_and_it_is_reversed_unsent(world) -> None:
    [held] = _hold(world, 1)
    url = f"/api/v1/actions/{held}/drop"
    dropped = world.client.post(
        url, json={"reason": "rule misfired"}, headers=world.auth("analyst")
    )
    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["state"] == "reversed"
    with DispatchLedger(world.settings.ledger) as ledger:
        reversal = ledger.reversal_of(held)
    assert reversal is not None
    assert (reversal.actor, reversal.reason) == ("analyst-1", "rule misfired")
    [entry] = _audit(world, "drop")
    assert entry["target"] == held and entry["detail"]["reason"] == "rule misfired"
    listed = world.client.get(
        "/api/v1/actions", params={"state": "reversed"}, headers=world.auth("viewer")
    ).json()
    assert held in {a["action_id"] for a in listed}


def test_release_and_drop_refuse_what_is_not_held(world) -> None:
    analyst = world.auth("analyst")
    pending = next(a for a in world.actions if a.mode == "enforce")
    for verb in ("release", "drop"):
        url = f"/api/v1/actions/{pending.action_id}/{verb}"
        response = world.client.post(url, json={"reason": "r"}, headers=analyst)
        assert response.status_code == 409
        missing = world.client.post(
            f"/api/v1/actions/act-none/{verb}", json={"reason": "r"}, headers=analyst
        )
        assert missing.status_code == 404
        assert "act-none" not in missing.text
    dry = next((a for a in world.actions if a.mode != "enforce"), None)
    if dry is not None:
        response = world.client.post(
            f"/api/v1/actions/{dry.action_id}/release",
            json={"reason": "r"},
            headers=analyst,
        )
        assert response.status_code == 409
    assert _audit(world, "release") == [] and _audit(world, "drop") == []


def test_a_cookie_session_needs_the_csrf_token_to_release(world) -> None:
    [held] = _hold(world, 1)
    signed_in = world.client.post("/login", data={"token": world.tokens["analyst"]})
    csrf = signed_in.json()["csrf_token"]
    url = f"/api/v1/actions/{held}/release"
    assert world.client.post(url, json={"reason": "ok"}).status_code == 403
    wrong = world.client.post(url, json={"reason": "ok"}, headers={CSRF_HEADER: "no"})
    assert wrong.status_code == 403
    right = world.client.post(url, json={"reason": "ok"}, headers={CSRF_HEADER: csrf})
    assert right.status_code == 200, right.text
