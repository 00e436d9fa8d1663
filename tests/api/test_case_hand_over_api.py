"""Through the API and the console, only an admin takes over a held case."""

from __future__ import annotations


def _held_case(world) -> str:
    """A case the analyst token (``analyst-1``) does not hold: carol does."""
    listed = world.client.get("/api/v1/cases", headers=world.auth("viewer")).json()
    case_id = listed["items"][0]["case_id"]
    world.add_token("carol")
    given = world.client.post(
        f"/api/v1/cases/{case_id}/assign",
        json={"assignee": "carol"},
        headers=world.auth("analyst"),
    )
    assert given.is_success  # an open case is anyone's to give
    return case_id


def _case(world, case_id: str) -> dict:
    return world.client.get(
        f"/api/v1/cases/{case_id}", headers=world.auth("viewer")
    ).json()["case"]


def test_an_analyst_gets_409_naming_the_holder(world) -> None:
    case_id = _held_case(world)
    analyst = world.auth("analyst")

    for verb, body in (
        ("assign", {"assignee": "analyst-1"}),
        ("assign", {"assignee": None}),
        ("resolve", {"label": "benign"}),
    ):
        response = world.client.post(
            f"/api/v1/cases/{case_id}/{verb}", json=body, headers=analyst
        )
        assert response.status_code == 409, (verb, body)
        assert "assigned to carol" in response.json()["detail"]
    assert (_case(world, case_id)["status"], _case(world, case_id)["assignee"]) == (
        "assigned",
        "carol",
    )


def test_an_admin_takes_over_and_the_audit_says_from_whom(world) -> None:
    case_id = _held_case(world)
    admin = world.auth("admin")

    taken = world.client.post(
        f"/api/v1/cases/{case_id}/resolve", json={"label": "benign"}, headers=admin
    )

    assert taken.is_success and taken.json()["status"] == "resolved"
    entries = world.client.get("/api/v1/audit", headers=admin).json()
    resolved = [e for e in entries if e["action"] == "resolve"]
    assert resolved[0]["detail"]["taken_from"] == "carol"
    assigned = [e for e in entries if e["action"] == "assign"]
    assert "taken_from" not in assigned[0]["detail"]


def test_the_console_sends_an_analyst_back_with_the_reason(world) -> None:
    case_id = _held_case(world)
    csrf = world.client.post("/login", data={"token": world.tokens["analyst"]}).json()[
        "csrf_token"
    ]

    response = world.client.post(
        f"/console/cases/{case_id}/assign",
        data={"assignee": "", "csrf_token": csrf},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"].endswith("error=held")
    assert _case(world, case_id)["assignee"] == "carol"
    page = world.client.get(response.headers["location"])
    assert "Another analyst holds this case" in page.text


def test_resolving_a_resolved_case_says_by_whom_and_how_to_correct(world) -> None:
    listed = world.client.get("/api/v1/cases", headers=world.auth("viewer")).json()
    case_id = listed["items"][0]["case_id"]
    url = f"/api/v1/cases/{case_id}/resolve"
    analyst = world.auth("analyst")
    assert world.client.post(url, json={"label": "benign"}, headers=analyst).is_success

    again = world.client.post(url, json={"label": "spam"}, headers=analyst)

    assert again.status_code == 409
    detail = again.json()["detail"]
    assert "already resolved (benign, by analyst-1" in detail
    assert "/correction" in detail
