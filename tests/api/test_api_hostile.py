"""Hostile input to the API: quotes, markup, NUL, very long ids, and data
that carries URLs, which the service must show and never fetch."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from tests.api.api_world import LURE_URL, RING_ID

HOSTILE = [
    "' OR '1'='1",
    '"; DROP TABLE cases; --',
    "<script>alert(1)</script>",
    "a\x00b",
    "line\nbreak",
    "x" * 10_000,
    "../../etc/passwd",
    "%00",
    "😈" * 50,
]

READS = [
    "/api/v1/cases/{}",
    "/api/v1/alerts/{}",
    "/api/v1/accounts/{}/timeline",
    "/api/v1/rings/{}",
    "/api/v1/rings/{}/picture.svg",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_ids_in_paths_are_refused_or_not_found(world, value) -> None:
    for template in READS:
        path = template.format(quote(value, safe=""))
        response = world.client.get(path, headers=world.auth("viewer"))
        assert response.status_code in (200, 404, 422), (template, response.text)
        assert response.headers["content-type"].split(";")[0] in (
            "application/json",
            "image/svg+xml",
        )
        if response.status_code != 200:
            assert "<script>" not in response.text
            assert value not in response.text or len(value) < 3
    changes = [
        (f"/api/v1/cases/{quote(value, safe='')}/assign", {"assignee": "a"}),
        (f"/api/v1/cases/{quote(value, safe='')}/resolve", {"label": "benign"}),
        (f"/api/v1/actions/{quote(value, safe='')}/reverse", {"reason": "r"}),
    ]
    for path, body in changes:
        response = world.client.post(path, json=body, headers=world.auth("analyst"))
        assert response.status_code in (404, 422), (path, response.status_code)


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_query_values_never_break_the_stores(world, value) -> None:
    viewer = world.auth("viewer")
    for path, name in (
        ("/api/v1/alerts", "account"),
        ("/api/v1/alerts", "ip"),
        ("/api/v1/alerts", "kind"),
        ("/api/v1/cases", "account"),
        ("/api/v1/cases", "assignee"),
        ("/api/v1/rings", "account"),
    ):
        response = world.client.get(path, params={name: value}, headers=viewer)
        assert response.status_code in (200, 422), (path, name, response.text)
        if response.status_code == 200:
            body = response.json()
            items = body["items"] if isinstance(body, dict) else body
            # only records that really hold the value come back (one ring
            # member is named with markup on purpose)
            for item in items:
                assert _holds(world, path, name, item, value), (path, name)


def _holds(world, path: str, name: str, item: dict, value: str) -> bool:
    if path == "/api/v1/alerts":
        return item[name] == value if name != "kind" else value in item["kinds"]
    if path == "/api/v1/cases":
        return value in item["accounts"] or item["assignee"] == value
    ring = world.client.get(
        f"/api/v1/rings/{item['ring_id']}", headers=world.auth("viewer")
    ).json()
    return value in ring["members"]


def test_hostile_bodies_are_validated(world) -> None:
    case_id = _first_case(world)
    analyst = world.auth("analyst")
    url = f"/api/v1/cases/{case_id}/assign"
    for assignee in ("a\x00b", "x" * 300, "tab\there"):
        response = world.client.post(url, json={"assignee": assignee}, headers=analyst)
        assert response.status_code == 422
    # cases go to analysts: a name no token has is refused, as JSON
    refused = world.client.post(
        url, json={"assignee": "<img src=x onerror=alert(1)>"}, headers=analyst
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/json"
    assert "no analyst or admin has that name" in refused.json()["detail"]
    for bad in ("\x00", "\x1b[2J", "paid \u202eevil", "a\u2028b"):
        note = world.client.post(
            f"/api/v1/cases/{case_id}/resolve",
            json={"label": "benign", "note": bad},
            headers=analyst,
        )
        assert note.status_code == 422, bad
    broken = world.client.post(
        url,
        content=b'{"assignee": "\xff\xfe"',
        headers={**analyst, "Content-Type": "application/json"},
    )
    assert broken.status_code in (400, 422)
    assert "\\xff" not in broken.text


def test_a_json_key_given_twice_is_refused(world) -> None:
    case_id = _first_case(world)
    analyst = {**world.auth("analyst"), "Content-Type": "application/json"}
    url = f"/api/v1/cases/{case_id}/assign"
    for body in (
        b'{"assignee": "x", "assignee": null}',
        b'{"assignee": {"a": 1, "a": 2}}',
    ):
        response = world.client.post(url, content=body, headers=analyst)
        assert response.status_code == 422, body
        [error] = response.json()["detail"]
        assert error["type"] == "json_invalid"
        assert error["msg"].endswith("is given twice"), error
        assert ("'assignee'" if body.count(b"assignee") == 2 else "'a'") in error["msg"]
    listed = world.client.get(f"/api/v1/cases/{case_id}", headers=analyst).json()
    assert listed["case"]["assignee"] is None  # nothing changed
    world.add_token("x")
    once = world.client.post(url, content=b'{"assignee": "x"}', headers=analyst)
    assert once.status_code == 200


@pytest.mark.parametrize(
    "blank",
    [
        "\u200b",
        "\ufeff",
        " \u200b\u2060 ",
        "\u3164",
        "\ufe0f",
        "\u034f\u034f",
        "\u17b4",
        "\U000e0100",
        "\u3164\u0301",
    ],
)
def test_names_and_reasons_that_show_nothing_are_refused(world, blank) -> None:
    analyst = world.auth("analyst")
    case_id = _first_case(world)
    assign = world.client.post(
        f"/api/v1/cases/{case_id}/assign", json={"assignee": blank}, headers=analyst
    )
    assert assign.status_code == 422
    enforced = next(a for a in world.actions if a.mode == "enforce")
    reverse = world.client.post(
        f"/api/v1/actions/{enforced.action_id}/reverse",
        json={"reason": blank},
        headers=analyst,
    )
    assert reverse.status_code == 422


def test_quoted_ids_are_looked_up_as_text(world) -> None:
    viewer = world.auth("viewer")
    injected = quote(f"{RING_ID}' OR '1'='1", safe="")
    assert (
        world.client.get(f"/api/v1/rings/{injected}", headers=viewer).status_code == 404
    )
    assert world.client.get(f"/api/v1/rings/{RING_ID}", headers=viewer).is_success


def test_url_bearing_data_is_shown_and_never_fetched(world, no_outbound) -> None:
    """Every read over data that names URLs runs with outbound sockets and name
    resolution blocked (``no_outbound``); none is attempted."""
    viewer = world.auth("viewer")
    alerts = world.client.get(
        "/api/v1/alerts", params={"kind": "intel_url"}, headers=viewer
    ).json()
    assert LURE_URL in str(alerts)
    for path in (
        f"/api/v1/alerts/{alerts[0]['verdict_id']}",
        "/api/v1/accounts/alice/timeline",
        f"/api/v1/rings/{RING_ID}",
        f"/api/v1/rings/{RING_ID}/picture.svg",
        "/api/v1/actions",
        "/api/v1/policies",
    ):
        assert world.client.get(path, headers=viewer).status_code == 200
    for case in world.client.get("/api/v1/cases", headers=viewer).json()["items"]:
        detail = world.client.get(f"/api/v1/cases/{case['case_id']}", headers=viewer)
        assert detail.status_code == 200
    assert no_outbound == []


def test_the_outbound_guard_itself_blocks_connections(no_outbound) -> None:
    import socket

    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("192.0.2.1", 80))
    assert no_outbound == [("192.0.2.1", 80)]


def test_names_and_reasons_must_read_as_written(world) -> None:
    case_id = _first_case(world)
    analyst = world.auth("analyst")
    url = f"/api/v1/cases/{case_id}/assign"
    for assignee in ("   ", "mallory\u202egnp", "mal\x1b[31mlory", "a\u2028b"):
        response = world.client.post(url, json={"assignee": assignee}, headers=analyst)
        assert response.status_code == 422, assignee
    # an empty body is a mistake, not a hand-back to the queue
    assert world.client.post(url, json={}, headers=analyst).status_code == 422
    assert world.client.post(url, json={"assignee": None}, headers=analyst).is_success
    for verb in ("reverse", "release", "drop"):
        blank = world.client.post(
            f"/api/v1/actions/act-x/{verb}", json={"reason": "   "}, headers=analyst
        )
        assert blank.status_code == 422, verb


def test_times_and_pages_out_of_range_are_refused_or_clamped(world) -> None:
    viewer = world.auth("viewer")
    for query in (
        {"since": "0001-01-01T00:00:00+14:00"},
        {"until": "9999-12-31T23:59:59-14:00"},
    ):
        response = world.client.get("/api/v1/alerts", params=query, headers=viewer)
        assert response.status_code == 422
        assert "years 1 to 9999" in response.json()["detail"]
    far = world.client.get("/console", params={"page": 10**20}, headers=viewer)
    assert far.status_code == 200


def test_a_fault_of_the_service_is_a_500_with_the_headers(
    world, monkeypatch, caplog
) -> None:
    import trustwatch.api.v1 as v1

    def broken(**_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(v1, "VerdictFilter", broken)
    with caplog.at_level("ERROR", logger="trustwatch.api.headers"):
        response = world.client.get(
            "/api/v1/alerts", params={"account": "alice"}, headers=world.auth("viewer")
        )
    assert response.status_code == 500
    assert response.json() == {
        "detail": "internal error; the service log has the details"
    }
    assert response.headers["Content-Security-Policy"].startswith("default-src")
    assert response.headers["Cache-Control"] == "no-store"
    (record,) = [r for r in caplog.records if r.name == "trustwatch.api.headers"]
    assert record.getMessage() == "request failed: GET /api/v1/alerts"
    assert "alice" not in record.getMessage()
    # the connection still serves the next request
    assert world.client.get("/api/v1/whoami", headers=world.auth("viewer")).is_success


def test_a_resolution_note_is_shown_defanged(world) -> None:
    case_id = _first_case(world)
    resolved = world.client.post(
        f"/api/v1/cases/{case_id}/resolve",
        json={"label": "phishing", "note": "see http://evil.example/login"},
        headers=world.auth("analyst"),
    )
    assert resolved.is_success
    page = world.client.get(f"/console/cases/{case_id}", headers=world.auth("viewer"))
    assert "hxxp" in page.text and "evil[.]example" in page.text
    assert "http://evil.example" not in page.text


@pytest.mark.parametrize("account", ["alice.smith", "api", "1"])
def test_a_fault_is_logged_without_the_values_in_its_path(
    world, monkeypatch, caplog, account
) -> None:
    import trustwatch.api.v1 as v1

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(v1, "_reader", broken)
    with caplog.at_level("ERROR", logger="trustwatch.api.headers"):
        response = world.client.get(
            f"/api/v1/accounts/{account}/timeline", headers=world.auth("viewer")
        )
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.name == "trustwatch.api.headers"]
    assert record.getMessage() == (
        "request failed: GET /api/v1/accounts/{account}/timeline"
    )


def _first_case(world) -> str:
    """The id of the first case the queue lists."""
    listed = world.client.get("/api/v1/cases", headers=world.auth("viewer")).json()
    return listed["items"][0]["case_id"]


def test_a_resolution_note_keeps_its_line_breaks(world) -> None:
    case_id = _first_case(world)
    resolved = world.client.post(
        f"/api/v1/cases/{case_id}/resolve",
        json={"label": "benign", "note": "called the owner\n<b>travelling</b>"},
        headers=world.auth("analyst"),
    )
    assert resolved.is_success
    page = world.client.get(f"/console/cases/{case_id}", headers=world.auth("viewer"))
    assert "called the owner<br>&lt;b&gt;travelling&lt;/b&gt;" in page.text
    assert "\\x0a" not in page.text


def test_a_body_sent_as_another_type_than_json_is_415(world) -> None:
    case_id = _first_case(world)
    url = f"/api/v1/cases/{case_id}/assign"
    headers = {**world.auth("analyst"), "Content-Type": "text/plain"}
    sent = world.client.post(url, content=b'{"assignee": null}', headers=headers)
    assert sent.status_code == 415
    assert "application/json" in sent.json()["detail"]
    # JSON that is wrong is still 422, with the field named
    wrong = world.client.post(url, json={"assignee": 7}, headers=world.auth("analyst"))
    assert wrong.status_code == 422
