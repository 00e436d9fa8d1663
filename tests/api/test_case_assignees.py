"""Cases go to analysts: names fold as sign-in folds them, and a case never
goes to a name that cannot work it."""

from __future__ import annotations

import pytest


def _open_case(world) -> str:
    listed = world.client.get(
        "/api/v1/cases", params={"status": "open"}, headers=world.auth("viewer")
    ).json()
    return listed["items"][0]["case_id"]


def _assign(world, case_id: str, assignee: str | None, role: str = "analyst"):
    return world.client.post(
        f"/api/v1/cases/{case_id}/assign",
        json={"assignee": assignee},
        headers=world.auth(role),
    )


@pytest.mark.parametrize("written", ["ANALYST-1", "Analyst-1", "analyst-1\u200b"])
def test_a_name_that_folds_to_a_token_is_recorded_as_that_token(world, written) -> None:
    case_id = _open_case(world)
    given = _assign(world, case_id, written)
    assert given.status_code == 200, given.text
    assert given.json()["assignee"] == "analyst-1"
    # and the analyst can work it: no one is locked out by a look-alike name
    resolved = world.client.post(
        f"/api/v1/cases/{case_id}/resolve",
        json={"label": "benign"},
        headers=world.auth("analyst"),
    )
    assert resolved.status_code == 200, resolved.text


@pytest.mark.parametrize("assignee", ["ghost", "viewer-1"])
def test_a_name_no_analyst_has_is_refused(world, assignee) -> None:
    case_id = _open_case(world)
    refused = _assign(world, case_id, assignee)
    assert refused.status_code == 422
    # one answer for both: an analyst may not tell token names apart
    assert refused.json()["detail"].startswith("no analyst or admin has that name")
    case = world.client.get(
        f"/api/v1/cases/{case_id}", headers=world.auth("viewer")
    ).json()["case"]
    assert (case["status"], case["assignee"]) == ("open", None)


def test_the_console_refuses_the_same_names(world) -> None:
    csrf = world.client.post("/login", data={"token": world.tokens["analyst"]}).json()[
        "csrf_token"
    ]
    case_id = _open_case(world)
    sent = world.client.post(
        f"/console/cases/{case_id}/assign",
        data={"assignee": "ghost", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"].endswith("error=assignee")
    taken = world.client.post(
        f"/console/cases/{case_id}/assign",
        data={"assignee": "ADMIN-1", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert taken.status_code == 303
    case = world.client.get(
        f"/api/v1/cases/{case_id}", headers=world.auth("viewer")
    ).json()["case"]
    assert case["assignee"] == "admin-1"
