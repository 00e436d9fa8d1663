"""Resolving a case with an action through the API and the console records
the action in the decision store, as ``trustwatch cases resolve`` does."""

from __future__ import annotations

import sqlite3
import typing

import msgspec

from trustwatch.api import console
from trustwatch.api.schemas import ResolveRequest
from trustwatch.decisions.model import Action
from trustwatch.review.actions import ANALYST_ACTIONS


def _open_case(world, **filters) -> dict:
    response = world.client.get(
        "/api/v1/cases",
        params={"status": "open", **filters},
        headers=world.auth("viewer"),
    )
    assert response.status_code == 200, response.text
    return response.json()["items"][0]


def _analyst_actions(world) -> list[tuple[str, str, str, str, str]]:
    with sqlite3.connect(f"file:{world.settings.db}?mode=ro", uri=True) as db:
        bodies = [row[0] for row in db.execute("SELECT body FROM actions")]
    found = [msgspec.json.decode(body, type=Action) for body in bodies]
    return sorted(
        (a.action_id, a.type, a.target, a.mode, a.actor)
        for a in found
        if a.actor.startswith("analyst:")
    )


def _audit(world) -> list[dict]:
    return world.client.get("/api/v1/audit", headers=world.auth("admin")).json()


def test_api_resolve_records_the_enforced_action_and_audits_its_id(world) -> None:
    case = _open_case(world)
    response = world.client.post(
        f"/api/v1/cases/{case['case_id']}/resolve",
        json={"label": "account_takeover", "action": "lock_account"},
        headers=world.auth("analyst"),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "resolved"
    recorded = _analyst_actions(world)
    assert sorted(r[1:] for r in recorded) == sorted(
        ("lock_account", account, "enforce", "analyst:analyst-1")
        for account in case["accounts"]
    )
    assert sorted(body["action_ids"]) == [r[0] for r in recorded]
    entry = next(e for e in _audit(world) if e["target"] == case["case_id"])
    assert entry["action"] == "resolve"
    assert entry["detail"]["actions"] == body["action_ids"]
    assert entry["detail"]["action"] == "lock_account"
    assert entry["detail"]["label"] == "account_takeover"
    assert entry["detail"]["label_id"]


def test_api_refuses_an_action_that_does_not_fit_the_subject_first(world) -> None:
    case = _open_case(world)
    response = world.client.post(
        f"/api/v1/cases/{case['case_id']}/resolve",
        json={"label": "malware", "action": "quarantine_file"},
        headers=world.auth("analyst"),
    )

    assert response.status_code == 422
    assert "quarantine_file acts on file targets" in response.json()["detail"]
    assert _audit(world) == []
    again = world.client.get(
        f"/api/v1/cases/{case['case_id']}", headers=world.auth("viewer")
    )
    assert again.json()["case"]["status"] == "open"
    assert _analyst_actions(world) == []


def test_api_resolve_without_action_records_none(world) -> None:
    case = _open_case(world)
    response = world.client.post(
        f"/api/v1/cases/{case['case_id']}/resolve",
        json={"label": "benign"},
        headers=world.auth("analyst"),
    )

    assert response.status_code == 200, response.text
    assert response.json()["action_ids"] == []
    assert _analyst_actions(world) == []


def test_console_resolve_records_the_action_and_shows_form_errors(world) -> None:
    signed_in = world.client.post("/login", data={"token": world.tokens["analyst"]})
    csrf = signed_in.json()["csrf_token"]
    case = _open_case(world)
    url = f"/console/cases/{case['case_id']}/resolve"

    refused = world.client.post(
        url,
        data={"label": "malware", "action": "quarantine_file", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.status_code in (302, 303)
    assert "error=" in refused.headers["location"]
    assert refused.headers["location"].endswith("error=action_subject")
    assert _analyst_actions(world) == []
    reordered = world.client.post(
        url,
        data={"label": "benign", "note": "ok \u202eevil", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert reordered.headers["location"].endswith("error=note")
    assert console.error_message("note") and "control" in console.error_message("note")

    done = world.client.post(
        url,
        data={
            "label": "account_takeover",
            "action": "lock_account",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert done.status_code in (302, 303)
    recorded = _analyst_actions(world)
    assert sorted(r[2] for r in recorded) == sorted(case["accounts"])
    assert {r[1] for r in recorded} == {"lock_account"}
    entry = next(e for e in _audit(world) if e["target"] == case["case_id"])
    assert entry["action"] == "resolve"
    assert sorted(entry["detail"]["actions"]) == [r[0] for r in recorded]


def test_one_list_of_analyst_actions_everywhere() -> None:
    from trustwatch.cli.cases import resolve

    action_option = next(p for p in resolve.params if p.name == "action")
    api_choices = typing.get_args(ResolveRequest.model_fields["action"].annotation)
    assert set(api_choices) == {"none", *ANALYST_ACTIONS}
    assert set(console._RESOLUTION_ACTIONS) == set(ANALYST_ACTIONS)
    assert set(action_option.type.choices) == {"none", *ANALYST_ACTIONS}


def test_a_resolve_whose_action_cannot_be_recorded_is_taken_back(
    world, monkeypatch
) -> None:
    from trustwatch.api import v1
    from trustwatch.errors import StorageError

    case = _open_case(world)
    url = f"/api/v1/cases/{case['case_id']}"
    body = {"label": "account_takeover", "action": "lock_account"}

    def locked(request, actions) -> None:
        raise StorageError("cannot write to store: database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(v1, "_write_actions", locked)
        failed = world.client.post(
            f"{url}/resolve", json=body, headers=world.auth("analyst")
        )
    assert failed.status_code == 503
    # the case is back in the queue with no label, and nothing was recorded
    after = world.client.get(url, headers=world.auth("viewer")).json()
    assert after["case"]["status"] == "open"
    assert after["case"]["label"] is None
    assert _analyst_actions(world) == []
    assert [e for e in _audit(world) if e["target"] == case["case_id"]] == []

    # once the store takes writes again, resolving again records the action
    retried = world.client.post(
        f"{url}/resolve", json=body, headers=world.auth("analyst")
    )
    assert retried.status_code == 200, retried.text
    assert len(_analyst_actions(world)) == len(case["accounts"])


def test_api_corrects_a_resolved_case_s_label_for_analysts_only(world) -> None:
    case = _open_case(world)
    url = f"/api/v1/cases/{case['case_id']}"
    analyst = world.auth("analyst")
    early = world.client.post(
        f"{url}/correction", json={"label": "benign"}, headers=analyst
    )
    assert early.status_code == 409
    assert "not resolved" in early.json()["detail"]
    resolved = world.client.post(
        f"{url}/resolve", json={"label": "account_takeover"}, headers=analyst
    )
    assert resolved.status_code == 200, resolved.text
    viewer = world.client.post(
        f"{url}/correction", json={"label": "benign"}, headers=world.auth("viewer")
    )
    assert viewer.status_code == 403
    bad = world.client.post(
        f"{url}/correction", json={"label": "nope"}, headers=analyst
    )
    assert bad.status_code == 422
    corrected = world.client.post(
        f"{url}/correction", json={"label": "benign", "note": "owner"}, headers=analyst
    )
    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["label"], corrected.json()["status"]) == (
        "benign",
        "resolved",
    )
    assert corrected.json()["note"] == "owner"
    again = world.client.post(
        f"{url}/correction", json={"label": "benign"}, headers=analyst
    )
    assert (again.status_code, again.json()["detail"]) == (
        409,
        "the case has that label already",
    )
    missing = world.client.post(
        "/api/v1/cases/case-nope/correction", json={"label": "benign"}, headers=analyst
    )
    assert missing.status_code == 404
    entry = next(e for e in _audit(world) if e["action"] == "correct")
    assert (entry["target"], entry["detail"]["label"]) == (case["case_id"], "benign")


def test_a_benign_label_with_an_action_is_refused_everywhere(world) -> None:
    case = _open_case(world)
    response = world.client.post(
        f"/api/v1/cases/{case['case_id']}/resolve",
        json={"label": "benign", "action": "lock_account"},
        headers=world.auth("analyst"),
    )
    assert response.status_code == 422
    assert "labelled benign" in response.json()["detail"]
    csrf = world.client.post("/login", data={"token": world.tokens["analyst"]}).json()[
        "csrf_token"
    ]
    refused = world.client.post(
        f"/console/cases/{case['case_id']}/resolve",
        data={"label": "benign", "action": "lock_account", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert refused.headers["location"].endswith("error=benign_action")
    assert _analyst_actions(world) == []
    # "none" is no action, in the console as in the API
    resolved = world.client.post(
        f"/console/cases/{case['case_id']}/resolve",
        data={"label": "benign", "action": "none", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert "error=" not in resolved.headers["location"]
    again = world.client.get(
        f"/api/v1/cases/{case['case_id']}", headers=world.auth("viewer")
    )
    assert again.json()["case"]["status"] == "resolved"


def test_a_ring_members_timeline_shows_the_lock_an_analyst_put_on_it(world) -> None:
    viewer = world.auth("viewer")
    case = _open_case(world, subject_type="ring")
    last = world.client.get(
        f"/api/v1/alerts/{case['verdict_ids'][-1]}", headers=viewer
    ).json()["verdict"]
    others = [m for m in case["accounts"] if m != last["account"]]
    assert others, "the test needs a member other than the last alert's account"
    resolved = world.client.post(
        f"/api/v1/cases/{case['case_id']}/resolve",
        json={"label": "coordinated_ring", "action": "lock_account"},
        headers=world.auth("analyst"),
    )
    assert resolved.status_code == 200, resolved.text

    member = others[0]
    timeline = world.client.get(
        f"/api/v1/accounts/{member}/timeline", headers=viewer
    ).json()
    locks = [
        e
        for e in timeline
        if e["kind"] == "action" and e["detail"]["actor"] == "analyst:analyst-1"
    ]
    assert [e["detail"]["target"] for e in locks] == [member]
    labels = [e for e in timeline if e["kind"] == "label"]
    assert [e["detail"]["kind"] for e in labels] == ["coordinated_ring"]
    page = world.client.get(f"/console/accounts/{member}", headers=viewer)
    assert f"{case['case_id']} resolved as coordinated_ring by analyst-1" in page.text
