"""The ``/api/v1`` routes over SQLite stores: cases, alerts, timelines, rings,
indicators, policy, actions and the audit log."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from tests.api.api_world import LURE_URL, RING_ID, T0

from trustwatch.api.app import create_app
from trustwatch.api.settings import ServeSettings
from trustwatch.intel.feedlist import parse_feed_list
from trustwatch.intel.sync import IntelDatabase, sync_feeds


def _first_case(world, **filters) -> dict:
    response = world.client.get(
        "/api/v1/cases", params=filters, headers=world.auth("viewer")
    )
    assert response.status_code == 200, response.text
    return response.json()["items"][0]


def _audit(world) -> list[dict]:
    return world.client.get("/api/v1/audit", headers=world.auth("admin")).json()


def test_cases_list_by_priority_with_filters_and_paging(world) -> None:
    viewer = world.auth("viewer")
    page = world.client.get("/api/v1/cases", headers=viewer).json()
    subjects = {(c["subject_type"], c["subject"]) for c in page["items"]}
    assert ("account", "alice") in subjects or ("ring", RING_ID) in subjects
    priorities = [c["priority"] for c in page["items"]]
    assert priorities == sorted(priorities, reverse=True)
    one = world.client.get("/api/v1/cases", params={"limit": 1}, headers=viewer)
    two = world.client.get(
        "/api/v1/cases", params={"limit": 1, "offset": 1}, headers=viewer
    )
    if len(page["items"]) > 1:
        assert one.json()["items"][0] != two.json()["items"][0]
    for bad in ({"status": "closed"}, {"limit": 0}, {"limit": 10_000}):
        response = world.client.get("/api/v1/cases", params=bad, headers=viewer)
        assert response.status_code == 422


def test_case_detail_carries_its_evidence(world) -> None:
    case = _first_case(world)
    response = world.client.get(
        f"/api/v1/cases/{case['case_id']}", headers=world.auth("viewer")
    )
    body = response.json()
    assert body["case"]["case_id"] == case["case_id"]
    evidence = body["evidence"]
    assert {v["verdict_id"] for v in evidence["verdicts"]} <= set(case["verdict_ids"])
    assert evidence["verdicts"] and "signals" in evidence["verdicts"][0]
    assert "actions" in evidence and "rings" in evidence


def test_assign_and_resolve_a_case_are_audited(world) -> None:
    case = _first_case(world, status="open")
    url = f"/api/v1/cases/{case['case_id']}"
    analyst = world.auth("analyst")
    assigned = world.client.post(
        f"{url}/assign", json={"assignee": "analyst-1"}, headers=analyst
    )
    assert assigned.status_code == 200
    assert assigned.json()["assignee"] == "analyst-1"
    resolved = world.client.post(
        f"{url}/resolve",
        json={"label": "credential_attack", "action": "lock_account", "note": "ok"},
        headers=analyst,
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["label"] == "credential_attack"
    again = world.client.post(
        f"{url}/resolve", json={"label": "benign"}, headers=analyst
    )
    assert again.status_code == 409
    entries = [e for e in _audit(world) if e["target"] == case["case_id"]]
    assert {e["action"] for e in entries} == {"assign", "resolve"}
    assert all(e["actor"] == "analyst-1" and e["role"] == "analyst" for e in entries)
    assert all(e["source"] == "testclient" for e in entries)
    resolve = next(e for e in entries if e["action"] == "resolve")
    assert resolve["detail"]["label"] == "credential_attack"


def test_resolve_checks_its_enums(world) -> None:
    case = _first_case(world)
    url = f"/api/v1/cases/{case['case_id']}/resolve"
    analyst = world.auth("analyst")
    for body in (
        {"label": "evil"},
        {"label": "benign", "action": "delete_everything"},
        {"label": "benign", "extra": 1},
        {},
    ):
        assert world.client.post(url, json=body, headers=analyst).status_code == 422
    assert _audit(world) == []


def test_unknown_case_is_404_and_not_audited(world) -> None:
    response = world.client.post(
        "/api/v1/cases/nope/assign",
        json={"assignee": None},
        headers=world.auth("analyst"),
    )
    assert response.status_code == 404
    assert _audit(world) == []


def test_alerts_list_newest_first_with_filters(world) -> None:
    viewer = world.auth("viewer")
    alerts = world.client.get("/api/v1/alerts", headers=viewer).json()
    assert alerts and all(a["decision"] != "allow" for a in alerts)
    times = [a["ts"] for a in alerts]
    assert times == sorted(times, reverse=True)
    bob = world.client.get(
        "/api/v1/alerts", params={"account": "bob"}, headers=viewer
    ).json()
    assert bob and {a["account"] for a in bob} == {"bob"}
    everything = world.client.get(
        "/api/v1/alerts", params={"include_allow": True}, headers=viewer
    ).json()
    assert any(a["decision"] == "allow" for a in everything)
    kind = world.client.get(
        "/api/v1/alerts", params={"kind": "intel_url"}, headers=viewer
    ).json()
    assert [a["kinds"] for a in kind] == [["intel_url"]]
    since = world.client.get(
        "/api/v1/alerts",
        params={"since": (T0 + timedelta(minutes=2)).isoformat()},
        headers=viewer,
    ).json()
    assert since and all(a["ts"] >= "2026-05-01T12:02" for a in since)
    naive = world.client.get(
        "/api/v1/alerts", params={"since": "2026-05-01T12:00:00"}, headers=viewer
    )
    assert naive.status_code == 422
    bad = world.client.get(
        "/api/v1/alerts", params={"decision": "nuke"}, headers=viewer
    )
    assert bad.status_code == 422


def test_alert_detail_lists_its_actions_with_dispatch_state(world) -> None:
    action = world.actions[0]
    response = world.client.get(
        f"/api/v1/alerts/{action.verdict_id}", headers=world.auth("viewer")
    )
    body = response.json()
    assert body["verdict"]["verdict_id"] == action.verdict_id
    ids = [a["action_id"] for a in body["actions"]]
    assert action.action_id in ids


def test_account_timeline_is_in_time_order_and_includes_allow_verdicts(
    world,
) -> None:
    case = _first_case(world, account="alice")
    world.client.post(
        f"/api/v1/cases/{case['case_id']}/resolve",
        json={"label": "account_takeover"},
        headers=world.auth("analyst"),
    )
    timeline = world.client.get(
        "/api/v1/accounts/alice/timeline", headers=world.auth("viewer")
    ).json()
    kinds = {e["kind"] for e in timeline}
    assert {"verdict", "action", "case"} <= kinds
    if case["subject_type"] == "account":
        assert "label" in kinds
    assert any("allow" in e["summary"] for e in timeline if e["kind"] == "verdict")
    times = [datetime.fromisoformat(e["at"]) for e in timeline]
    assert times == sorted(times)
    nobody = world.client.get(
        "/api/v1/accounts/nobody/timeline", headers=world.auth("viewer")
    )
    assert nobody.json() == []


def test_rings_list_detail_and_picture(world) -> None:
    viewer = world.auth("viewer")
    rings = world.client.get("/api/v1/rings", headers=viewer).json()
    assert [r["ring_id"] for r in rings] == [RING_ID]
    detail = world.client.get(f"/api/v1/rings/{RING_ID}", headers=viewer).json()
    assert "alice" in detail["members"] and detail["evidence"][0][1] == 3
    assert (
        world.client.get(
            "/api/v1/rings", params={"min_risk": 0.95}, headers=viewer
        ).json()
        == []
    )
    picture = world.client.get(f"/api/v1/rings/{RING_ID}/picture.svg", headers=viewer)
    assert picture.status_code == 200
    assert picture.headers["content-type"].startswith("image/svg+xml")
    svg = picture.text
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert LURE_URL not in svg and "href" not in svg
    assert (
        world.client.get("/api/v1/rings/none/picture.svg", headers=viewer).status_code
        == 404
    )


def _intel_db(tmp_path) -> IntelDatabase:
    (tmp_path / "list.txt").write_text(f"{LURE_URL}\nbad.example.org\n")
    feeds = parse_feed_list(
        '[[feeds]]\nname = "local"\npath = "list.txt"\n', base=tmp_path
    )
    db = IntelDatabase(tmp_path / "intel.sqlite")
    sync_feeds(feeds, db, now=datetime.now(UTC))
    return db


def test_indicators_are_searched_in_the_synced_database(world, tmp_path) -> None:
    _intel_db(tmp_path).close()
    settings = ServeSettings(
        db=world.settings.db,
        review_db=world.settings.review_db,
        intel_db=tmp_path / "intel.sqlite",
        tokens=world.settings.tokens,
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        found = client.get(
            "/api/v1/indicators",
            params={"value": "hxxp://login-check[.]example[.]net/verify?u=alice"},
            headers=world.auth("viewer"),
        ).json()
        assert [(r["feed"], r["type"], r["live"]) for r in found] == [
            ("local", "url", True)
        ]
        none = client.get(
            "/api/v1/indicators",
            params={"value": "good.example.com"},
            headers=world.auth("viewer"),
        )
        assert none.json() == []
    without = world.client.get(
        "/api/v1/indicators", params={"value": "x"}, headers=world.auth("viewer")
    )
    assert without.status_code == 404


def test_policy_shows_rules_modes_and_version(world) -> None:
    policy = world.client.get("/api/v1/policies", headers=world.auth("viewer")).json()
    assert policy["ref"] == f"{policy['name']}@{policy['version']}"
    assert policy["rules"] and sum(policy["modes"].values()) == len(policy["rules"])
    assert {"id", "signals", "mode", "action"} <= set(policy["rules"][0])


def test_actions_list_with_dispatch_state_and_reverse(world) -> None:
    viewer, analyst = world.auth("viewer"), world.auth("analyst")
    listed = world.client.get("/api/v1/actions", headers=viewer).json()
    enforced = [a for a in listed if a["mode"] == "enforce"]
    assert enforced and all(a["dispatch"]["state"] == "pending" for a in enforced)
    target = enforced[0]["action_id"]
    url = f"/api/v1/actions/{target}/reverse"
    assert (
        world.client.post(url, json={"reason": "x"}, headers=viewer).status_code == 403
    )
    assert world.client.post(url, json={}, headers=analyst).status_code == 422
    reversed_ = world.client.post(
        url, json={"reason": "false positive"}, headers=analyst
    )
    assert reversed_.status_code == 200, reversed_.text
    assert "nothing was sent" in reversed_.json()["outcome"]
    again = world.client.post(url, json={"reason": "twice"}, headers=analyst)
    assert again.status_code == 409
    states = world.client.get(
        "/api/v1/actions", params={"state": "reversed"}, headers=viewer
    ).json()
    assert target in {a["action_id"] for a in states}
    entry = next(e for e in _audit(world) if e["action"] == "reverse")
    assert entry["target"] == target and entry["detail"]["reason"] == "false positive"


def test_a_queued_reversal_is_listed_under_its_own_dispatch_id(world) -> None:
    from trustwatch.response.ledger import DispatchLedger

    sent = next(a for a in world.actions if a.mode == "enforce")
    ledger = DispatchLedger(world.settings.ledger)
    try:
        assert ledger.add(sent.action_id, sent.created_at, state="dispatched")
    finally:
        ledger.close()
    reversed_ = world.client.post(
        f"/api/v1/actions/{sent.action_id}/reverse",
        json={"reason": "false positive"},
        headers=world.auth("analyst"),
    )
    assert reversed_.status_code == 200, reversed_.text
    reversal_id = reversed_.json()["reversal_id"]
    assert reversal_id and reversal_id != sent.action_id
    rows = [
        a["dispatch"]
        for a in world.client.get(
            "/api/v1/actions", params={"limit": 500}, headers=world.auth("viewer")
        ).json()
        if a["action_id"] == sent.action_id
    ]
    by_id = {row["dispatch_id"]: row for row in rows}
    assert set(by_id) == {sent.action_id, reversal_id}
    assert by_id[reversal_id]["reversal_of"] == sent.action_id
    assert by_id[sent.action_id]["reversal_of"] is None


def test_reverse_needs_an_enforced_action(world) -> None:
    dry = next((a for a in world.actions if a.mode != "enforce"), None)
    if dry is None:
        return
    response = world.client.post(
        f"/api/v1/actions/{dry.action_id}/reverse",
        json={"reason": "x"},
        headers=world.auth("analyst"),
    )
    assert response.status_code == 409


def test_audit_log_filters_by_actor(world) -> None:
    case = _first_case(world)
    world.add_token("someone")
    world.client.post(
        f"/api/v1/cases/{case['case_id']}/assign",
        json={"assignee": "someone"},
        headers=world.auth("analyst"),
    )
    admin = world.auth("admin")
    mine = world.client.get(
        "/api/v1/audit", params={"actor": "analyst-1"}, headers=admin
    )
    assert [e["action"] for e in mine.json()] == ["assign"]
    other = world.client.get(
        "/api/v1/audit", params={"actor": "admin-1"}, headers=admin
    )
    assert other.json() == []
