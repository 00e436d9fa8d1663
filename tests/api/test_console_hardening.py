"""The console and the CLI beside it under attack: hostile account names, text
smuggled through URLs, audit records that must match the API's, and the
serve command's new options."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.api_world import T0, decided, make_tokens, serve_args

from trustwatch.api.app import create_app
from trustwatch.api.console import error_message
from trustwatch.api.settings import ServeSettings
from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.cli.render import clean
from trustwatch.response.ledger import DispatchLedger
from trustwatch.review.cases import build_cases
from trustwatch.review.store import open_review_store
from trustwatch.storage.sqlite import SqliteStore
from trustwatch.text import visible_text

NUL_ACCOUNT = "nul\x00byte"
BIDI_ACCOUNT = "admin\u202egnp.exe"


@pytest.fixture
def hostile(tmp_path: Path, no_outbound: list[Any]) -> Any:
    """A served app whose accounts hold a NUL and a bidi override."""
    db = tmp_path / "store.sqlite"
    with SqliteStore(db) as store:
        verdicts = []
        for i, account in enumerate([NUL_ACCOUNT, BIDI_ACCOUNT, "nul"]):
            verdict, _ = decided(i, account)
            verdicts.append(verdict)
        store.write_verdicts(verdicts)
        with open_review_store(tmp_path / "review.sqlite") as review:
            build_cases(store, review, clock=lambda: T0 + timedelta(hours=1))
    settings = ServeSettings(
        db=str(db), review_db=str(tmp_path / "review.sqlite"), tokens=tmp_path / "t"
    )
    tokens = make_tokens(tmp_path / "t")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8080") as client:
        client.post("/login", data={"token": tokens["viewer"]})
        yield client, tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- hostile text ------------------------------------------------------------------


def test_cli_and_console_share_one_visible_text_rule() -> None:
    assert clean(BIDI_ACCOUNT) == visible_text(BIDI_ACCOUNT) == "admin\\u202egnp.exe"
    assert visible_text(NUL_ACCOUNT) == "nul\\x00byte"
    assert visible_text("plain name") == "plain name"


@pytest.mark.parametrize("status", ["any", "open"])
def test_the_queue_shows_control_and_bidi_characters_as_escapes(
    hostile, status
) -> None:
    client, _ = hostile
    page = client.get("/console", params={"status": status, "size": 200}).text

    assert "\u202e" not in page and "\x00" not in page
    assert "admin\\u202egnp" in page
    assert "nul\\x00byte" in page


def test_the_account_page_shows_escapes_too(hostile) -> None:
    client, _ = hostile
    page = client.get("/console/accounts/admin%E2%80%AEgnp.exe")

    assert page.status_code == 200
    assert "\u202e" not in page.text and "admin\\u202egnp.exe" in page.text


def test_the_api_finds_a_nul_account_exactly(hostile) -> None:
    client, tokens = hostile
    headers = _bearer(tokens["viewer"])

    alerts = client.get(
        "/api/v1/alerts", params={"account": NUL_ACCOUNT}, headers=headers
    )
    cases = client.get(
        "/api/v1/cases", params={"account": NUL_ACCOUNT}, headers=headers
    )
    timeline = client.get("/api/v1/accounts/nul%00byte/timeline", headers=headers)

    assert alerts.status_code == 200, alerts.text
    assert [a["account"] for a in alerts.json()] == [NUL_ACCOUNT]
    assert cases.status_code == 200
    assert [c["accounts"] for c in cases.json()["items"]] == [[NUL_ACCOUNT]]
    assert timeline.status_code == 200 and timeline.json()


def test_the_api_still_limits_the_account_length(hostile) -> None:
    client, tokens = hostile
    response = client.get(
        "/api/v1/alerts",
        params={"account": "a" * 300},
        headers=_bearer(tokens["viewer"]),
    )
    assert response.status_code == 422


def test_an_error_in_the_url_shows_only_known_messages(world) -> None:
    world.client.post("/login", data={"token": world.tokens["viewer"]})
    case_id = world.client.get("/api/v1/cases", headers=world.auth("viewer")).json()[
        "items"
    ][0]["case_id"]

    forged = "Your session expired: call +1 555 0100 \u202e"
    page = world.client.get(f"/console/cases/{case_id}", params={"error": forged})
    known = world.client.get(f"/console/cases/{case_id}", params={"error": "assign"})
    actions = world.client.get("/console/actions", params={"error": forged})

    assert "555 0100" not in page.text and "The change could not be made." in page.text
    assert error_message("assign") in known.text
    assert "555 0100" not in actions.text


# -- the audit page ----------------------------------------------------------------


def test_the_audit_page_sends_an_anonymous_browser_to_sign_in(world) -> None:
    response = world.client.get("/console/audit", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


def test_the_audit_page_shows_a_viewer_a_403_page(world) -> None:
    world.client.post("/login", data={"token": world.tokens["analyst"]})
    response = world.client.get("/console/audit")

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "for admins" in response.text


# -- one audit vocabulary ----------------------------------------------------------


def test_the_console_audits_assignments_as_the_api_does(world) -> None:
    csrf = world.client.post("/login", data={"token": world.tokens["analyst"]}).json()[
        "csrf_token"
    ]
    cases = world.client.get("/api/v1/cases", headers=world.auth("viewer")).json()
    case_id = cases["items"][0]["case_id"]
    world.add_token("dana")
    world.client.post(
        f"/console/cases/{case_id}/assign",
        data={"assignee": "dana", "csrf_token": csrf},
        follow_redirects=False,
    )
    world.client.post(
        f"/api/v1/cases/{case_id}/assign",
        json={"assignee": "dana"},
        headers=world.auth("analyst"),
    )

    entries = world.client.get("/api/v1/audit", headers=world.auth("admin")).json()
    assigned = [
        (e["action"], e["detail"]) for e in entries if e["target_type"] == "case"
    ]
    assert assigned == [("assign", {"assignee": "dana"})] * 2


def test_cases_filter_by_signal_kind(hostile) -> None:
    client, tokens = hostile
    viewer = _bearer(tokens["viewer"])

    brute = client.get("/api/v1/cases", params={"kind": "brute_force"}, headers=viewer)
    lures = client.get("/api/v1/cases", params={"kind": "intel_url"}, headers=viewer)

    assert lures.status_code == brute.status_code == 200
    assert len(brute.json()["items"]) == 3
    assert lures.json()["items"] == []


# -- the command line ------------------------------------------------------------


def test_cli_reverse_writes_the_apis_audit_entry(world) -> None:
    target = next(a for a in world.actions if a.mode == "enforce").action_id
    review = world.settings.review_db
    args = ["actions", "reverse", target, "--actor", "ops", "--reason", "mistake"]

    assert main([*args, "--db", world.settings.db, "--review-db", review]) == 0

    with open_review_store(review) as store:
        entries = [e for e in store.audit_log() if e.target == target]
    assert [(e.action, e.actor, e.source, sorted(e.detail)) for e in entries] == [
        ("reverse", "ops", "cli", ["outcome", "reason"])
    ]


@pytest.mark.parametrize("command", ["release", "drop"])
def test_cli_release_and_drop_write_the_apis_audit_entries(world, command) -> None:
    held = next(a for a in world.actions if a.mode == "enforce").action_id
    with DispatchLedger(world.settings.ledger) as ledger:
        assert ledger.add(held, T0, state="held", last_error="budget")
    review = world.settings.review_db
    args = ["actions", command, held, "--as", "ops", "--reason", "checked"]

    assert main([*args, "--db", world.settings.db, "--review-db", review]) == 0

    with open_review_store(review) as store:
        entries = [e for e in store.audit_log() if e.target == held]
    assert [(e.action, e.actor, e.detail["reason"]) for e in entries] == [
        (command, "ops", "checked")
    ]


@pytest.mark.parametrize("command", ["release", "drop"])
def test_a_refused_cli_release_or_drop_writes_no_audit_entry(world, command) -> None:
    pending = next(a for a in world.actions if a.mode == "enforce").action_id
    review = world.settings.review_db
    args = ["actions", command, pending, "--as", "ops", "--reason", "r"]

    code = main([*args, "--db", world.settings.db, "--review-db", review])

    assert code == ExitCode.BAD_CONFIG
    with open_review_store(review) as store:
        assert [e for e in store.audit_log() if e.target == pending] == []


def test_cli_action_changes_without_a_review_store_write_no_audit(world) -> None:
    target = next(a for a in world.actions if a.mode == "enforce").action_id
    args = ["actions", "reverse", target, "--actor", "ops", "--reason", "r"]

    assert main([*args, "--db", world.settings.db]) == ExitCode.OK
    with open_review_store(world.settings.review_db) as store:
        assert [e for e in store.audit_log() if e.target == target] == []


@pytest.fixture
def serve_calls(fake_serving: list[dict[str, Any]], tmp_path: Path) -> list[Any]:
    SqliteStore(tmp_path / "store.sqlite").close()
    make_tokens(tmp_path / "tokens.json")
    return fake_serving


def _serve(tmp_path: Path, *extra: str) -> int:
    return main([*serve_args(tmp_path), *extra])


def test_serve_takes_proxy_tls_and_body_options(serve_calls, tmp_path) -> None:
    code = _serve(
        tmp_path,
        "--trusted-proxy",
        "10.0.0.5",
        "--trusted-proxy",
        "10.1.0.0/16",
        "--behind-tls-proxy",
        "--max-body",
        "65536",
    )

    assert code == ExitCode.OK
    settings = serve_calls[0]["app"].state.settings
    assert settings.trusted_proxies == ("10.0.0.5", "10.1.0.0/16")
    assert settings.https and settings.max_body == 65536


def test_serve_reads_trusted_proxies_from_the_environment(
    serve_calls, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("TRUSTWATCH_TRUSTED_PROXIES", "10.0.0.5 10.0.0.6")

    assert _serve(tmp_path) == ExitCode.OK
    settings = serve_calls[0]["app"].state.settings
    assert settings.trusted_proxies == ("10.0.0.5", "10.0.0.6")


def test_a_huge_build_interval_names_its_own_option(
    serve_calls, tmp_path, capsys
) -> None:
    assert _serve(tmp_path, "--build-cases-every", "99999d") == ExitCode.BAD_INPUT

    err = capsys.readouterr().err
    assert "--build-cases-every" in err and "expires" not in err
    assert serve_calls == []


def test_token_commands_honour_the_review_schema_option(tmp_path, capsys) -> None:
    review = str(tmp_path / "review.sqlite")
    args = ["--tokens", str(tmp_path / "t.json"), "--review-db", review]
    args += ["--review-schema", "tw_other", "--actor", "ops"]

    assert main(["serve", "token", "add", "bot", "--role", "viewer", *args]) == 0
    assert main(["serve", "token", "revoke", "bot", *args]) == 0

    with open_review_store(review) as store:
        actions = [(e.action, e.target) for e in store.audit_log()]
    assert actions == [("token.revoke", "bot"), ("token.add", "bot")]


def test_a_console_address_with_a_bad_value_gets_a_console_page(world) -> None:
    world.client.post("/login", data={"token": world.tokens["viewer"]})
    page = world.client.get("/console", params={"page": "<b>abc</b>"})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "page:" in page.text and "Back to the queue" in page.text
    assert "<b>abc" not in page.text and "&lt;b&gt;abc" not in page.text
    # the API keeps answering JSON
    api = world.client.get(
        "/api/v1/cases", params={"limit": "x"}, headers=world.auth("viewer")
    )
    assert api.status_code == 422 and api.headers["content-type"] == "application/json"
