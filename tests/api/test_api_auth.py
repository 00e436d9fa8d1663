"""Sign-in for the analyst API: every route, roles, sessions, CSRF, limits."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from trustwatch.api import auth as auth_module
from trustwatch.api.app import create_app
from trustwatch.api.auth import CSRF_HEADER, SESSION_COOKIE, Authenticator
from trustwatch.api.headers import SECURITY_HEADERS
from trustwatch.api.tokens import TokenFile

#: The only routes reachable without credentials: the sign-in form, the
#: sign-in itself, the console's sign-in page with the static files it needs,
#: and the front page, which only redirects to the console.
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/console/login"),
    ("GET", "/console/static/{name}"),
    ("GET", "/"),
}


def _concrete(path: str) -> str:
    """A request path for a route template: each parameter filled with ``x``."""
    return re.sub(r"\{[^}]+\}", "x", path)


def _routes(app):
    """Every (method, path) the app serves, routers included.

    FastAPI keeps an included router as one entry of ``app.routes`` and
    expands it lazily; ``effective_route_contexts`` yields its routes with
    their full paths.
    """
    for route in app.routes:
        expand = getattr(route, "effective_route_contexts", None)
        found = (
            [(c.path, c.original_route) for c in expand()]
            if expand is not None
            else [(getattr(route, "path", ""), route)]
        )
        for path, original in found:
            assert isinstance(original, APIRoute | Route), original
            for method in sorted(original.methods or ()):
                if method != "HEAD":
                    yield method, path


def test_every_route_but_sign_in_refuses_anonymous_requests(world) -> None:
    seen = list(_routes(world.app))
    assert ("GET", "/openapi.json") in seen
    assert ("POST", "/api/v1/cases/{case_id}/resolve") in seen
    for method, path in seen:
        if (method, path) in PUBLIC:
            continue
        response = world.client.request(method, _concrete(path), follow_redirects=False)
        if response.status_code == 303:
            # a console page sends a browser to the sign-in form instead
            assert response.headers["location"] == "/console/login", path
            continue
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert {r for r in seen if r in PUBLIC} <= PUBLIC
    document = world.client.get("/openapi.json", headers=world.auth("viewer")).json()
    for path, operations in document["paths"].items():
        for method in operations:
            assert (method.upper(), path) in seen


def test_public_pages_reveal_nothing(world) -> None:
    front = world.client.get("/", follow_redirects=False)
    assert front.status_code in (302, 303, 307) and front.headers["location"][0] == "/"
    assert "set-cookie" not in front.headers
    for path in ("/login", "/console/login"):
        page = world.client.get(path)
        assert page.status_code == 200
        assert "case" not in page.text.lower() and "alice" not in page.text
    missing = world.client.get("/console/static/..%2Fconsole.py")
    assert missing.status_code == 404


def test_no_interactive_docs_are_served(world) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert world.client.get(path, headers=world.auth("admin")).status_code == 404


def test_openapi_document_is_served_to_signed_in_principals(world) -> None:
    response = world.client.get("/openapi.json", headers=world.auth("viewer"))
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/cases/{case_id}/resolve" in paths
    assert "/api/v1/rings/{ring_id}/picture.svg" in paths


def test_security_headers_are_on_every_response(world) -> None:
    for response in (
        world.client.get("/api/v1/whoami", headers=world.auth("viewer")),
        world.client.get("/api/v1/whoami"),
        world.client.get("/login", follow_redirects=False),
        world.client.get("/nowhere"),
    ):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp


def test_bad_and_missing_bearer_tokens_get_401(world) -> None:
    for header in (
        "Bearer tw_wrong",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 5000,
        world.auth("admin")["Authorization"].replace("Bearer", "Token"),
    ):
        response = world.client.get("/api/v1/whoami", headers={"Authorization": header})
        assert response.status_code == 401
        assert "WWW-Authenticate" in response.headers


def test_each_role_signs_in_with_its_token(world) -> None:
    for role in ("viewer", "analyst", "admin"):
        response = world.client.get("/api/v1/whoami", headers=world.auth(role))
        assert response.json() == {"name": f"{role}-1", "role": role}


def test_viewer_cannot_change_cases_and_analyst_cannot_read_the_audit_log(
    world,
) -> None:
    case_id = world.client.get("/api/v1/cases", headers=world.auth("viewer")).json()[
        "items"
    ][0]["case_id"]
    resolve = world.client.post(
        f"/api/v1/cases/{case_id}/resolve",
        json={"label": "benign"},
        headers=world.auth("viewer"),
    )
    assert resolve.status_code == 403
    assign = world.client.post(
        f"/api/v1/cases/{case_id}/assign",
        json={"assignee": "viewer-1"},
        headers=world.auth("viewer"),
    )
    assert assign.status_code == 403
    audit = world.client.get("/api/v1/audit", headers=world.auth("analyst"))
    assert audit.status_code == 403
    tokens = world.client.get("/api/v1/tokens", headers=world.auth("analyst"))
    assert tokens.status_code == 403
    assert world.client.get("/api/v1/audit", headers=world.auth("admin")).is_success


def _sign_in(client: TestClient, token: str) -> str:
    response = client.post("/login", data={"token": token})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def test_login_sets_a_strict_http_only_session_cookie(world) -> None:
    response = world.client.post("/login", data={"token": world.tokens["analyst"]})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert world.tokens["analyst"] not in cookie and len(session_id) >= 40
    assert world.client.get("/api/v1/whoami").json()["role"] == "analyst"


def test_session_cookie_is_secure_when_served_over_https(world) -> None:
    with TestClient(world.app, base_url="https://127.0.0.1") as client:
        response = client.post("/login", data={"token": world.tokens["viewer"]})
    assert "Secure" in response.headers["set-cookie"]


def test_cookie_requests_need_the_csrf_token_for_changes(world) -> None:
    csrf = _sign_in(world.client, world.tokens["analyst"])
    case_id = world.client.get("/api/v1/cases").json()["items"][0]["case_id"]
    url = f"/api/v1/cases/{case_id}/assign"
    assert world.client.post(url, json={"assignee": "analyst-1"}).status_code == 403
    wrong = world.client.post(
        url, json={"assignee": "analyst-1"}, headers={CSRF_HEADER: "no"}
    )
    assert wrong.status_code == 403
    right = world.client.post(
        url, json={"assignee": "analyst-1"}, headers={CSRF_HEADER: csrf}
    )
    assert right.status_code == 200
    logout = world.client.post("/logout", data={"csrf_token": csrf})
    assert logout.status_code == 200


def test_bearer_requests_are_exempt_from_csrf(world) -> None:
    case_id = world.client.get("/api/v1/cases", headers=world.auth("viewer")).json()[
        "items"
    ][0]["case_id"]
    response = world.client.post(
        f"/api/v1/cases/{case_id}/assign",
        json={"assignee": "analyst-1"},
        headers=world.auth("analyst"),
    )
    assert response.status_code == 200


def test_logout_ends_the_session_server_side(world) -> None:
    csrf = _sign_in(world.client, world.tokens["viewer"])
    session_id = world.client.cookies[SESSION_COOKIE]
    assert world.client.post("/logout", headers={CSRF_HEADER: csrf}).status_code == 200
    world.client.cookies.set(SESSION_COOKIE, session_id)
    assert world.client.get("/api/v1/whoami").status_code == 401


def test_sessions_expire(world, tmp_path) -> None:
    now = [datetime(2026, 5, 1, tzinfo=UTC)]
    app = create_app(world.settings, clock=lambda: now[0])
    with TestClient(app, base_url="http://127.0.0.1") as client:
        _sign_in(client, world.tokens["viewer"])
        assert client.get("/api/v1/whoami").status_code == 200
        now[0] += world.settings.session_ttl + timedelta(seconds=1)
        assert client.get("/api/v1/whoami").status_code == 401


def test_cross_origin_sign_in_is_refused(world) -> None:
    response = world.client.post(
        "/login",
        data={"token": world.tokens["viewer"]},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_browser_sign_in_redirects_only_to_local_paths(world) -> None:
    for target, expected in (
        ("/api/v1/cases", "/api/v1/cases"),
        ("//evil.example/x", None),
        ("https://evil.example/", None),
    ):
        response = world.client.post(
            "/login",
            data={"token": world.tokens["viewer"], "next": target},
            headers={"Accept": "text/html"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        location = response.headers["location"]
        assert location == expected if expected else location.startswith("/")
        assert not location.startswith("//") and "evil" not in location


def test_failed_sign_ins_are_rate_limited_per_address(world) -> None:
    for _ in range(world.settings.max_failed_logins):
        assert world.client.post("/login", data={"token": "nope"}).status_code == 401
    limited = world.client.post("/login", data={"token": "nope"})
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers
    bearer = world.client.get("/api/v1/whoami", headers={"Authorization": "Bearer x"})
    assert bearer.status_code == 429


def test_failed_bearer_tokens_count_toward_the_limit(world) -> None:
    bad = {"Authorization": "Bearer tw_guess"}
    for _ in range(world.settings.max_failed_logins):
        assert world.client.get("/api/v1/whoami", headers=bad).status_code == 401
    assert world.client.post("/login", data={"token": "x"}).status_code == 429


def test_failure_window_passes(world) -> None:
    now = [datetime(2026, 5, 1, tzinfo=UTC)]
    app = create_app(world.settings, clock=lambda: now[0])
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for _ in range(world.settings.max_failed_logins):
            client.post("/login", data={"token": "nope"})
        assert client.post("/login", data={"token": "nope"}).status_code == 429
        now[0] += world.settings.failed_login_window + timedelta(seconds=1)
        assert client.post("/login", data={"token": "nope"}).status_code == 401


def test_one_ipv6_64_counts_as_one_client(world) -> None:
    auth = Authenticator(world.settings)
    for n in range(world.settings.max_failed_logins):
        auth.note_failure(f"2001:db8:0:7::{n + 1:x}")  # a fresh address each time
    assert auth.blocked("2001:db8:0:7::ffff")
    assert not auth.blocked("2001:db8:0:8::1")  # the next /64 is another client
    assert not auth.blocked("198.51.100.7")
    for _ in range(world.settings.max_failed_logins):
        auth.note_failure("::ffff:198.51.100.7")  # an IPv4 address, mapped
    assert auth.blocked("198.51.100.7")


def test_ipv6_forms_of_one_ipv4_client_count_as_it_and_no_more() -> None:
    from trustwatch.api.auth import _client_key

    assert _client_key("64:ff9b::c633:6407") == "198.51.100.7"  # NAT64
    assert _client_key("64:ff9b::c633:6408") == "198.51.100.8"  # another client
    assert _client_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert _client_key("::1") == "::1"  # not ::/64 with every other client
    assert _client_key("fe80::1%eth0") != _client_key("fe80::2%eth0")
    assert _client_key("2001:db8:0:7::1") == "2001:db8:0:7::/64"
    assert _client_key("unknown") == "unknown"


def test_failing_clients_are_forgotten_once_their_window_passes(world) -> None:
    now = [datetime(2026, 5, 1, tzinfo=UTC)]
    auth = Authenticator(world.settings, clock=lambda: now[0])
    for n in range(2_000):
        auth.note_failure(f"2001:db8:{n:x}::1")
    assert auth.failing_clients == 2_000
    now[0] += world.settings.failed_login_window + timedelta(seconds=1)
    auth.note_failure("198.51.100.7")
    assert auth.failing_clients == 1
    assert not auth.blocked("2001:db8:1::1")


def test_failing_clients_are_bounded(world, monkeypatch) -> None:
    monkeypatch.setattr(auth_module, "MAX_FAILING_CLIENTS", 100)
    auth = Authenticator(world.settings)
    for _ in range(world.settings.max_failed_logins):
        auth.note_failure("203.0.113.5")
    for n in range(99):
        auth.note_failure(f"2001:db8:{n:x}::1")
    assert auth.failing_clients == 100 and auth.blocked("203.0.113.5")
    auth.note_failure("2001:db8:ffff::1")  # one more: the least recent goes
    assert auth.failing_clients == 100 and not auth.blocked("203.0.113.5")


def test_sign_in_and_out_are_audited(world) -> None:
    csrf = _sign_in(world.client, world.tokens["analyst"])
    world.client.post("/logout", headers={CSRF_HEADER: csrf})
    entries = world.client.get("/api/v1/audit", headers=world.auth("admin")).json()
    actions = [(e["action"], e["actor"], e["role"]) for e in entries]
    assert ("login", "analyst-1", "analyst") in actions
    assert ("logout", "analyst-1", "analyst") in actions
    assert all(e["source"] == "testclient" for e in entries)


def test_token_file_keeps_only_digests(world) -> None:
    text = world.settings.tokens.read_text()
    for token in world.tokens.values():
        assert token not in text
    stored = json.loads(text)["tokens"]
    assert {t["role"] for t in stored} == {"viewer", "analyst", "admin"}
    assert all(len(t["sha256"]) == 64 for t in stored)
    assert world.settings.tokens.stat().st_mode & 0o077 == 0


def test_revoked_tokens_are_refused_at_once(world) -> None:
    assert world.client.get("/api/v1/whoami", headers=world.auth("viewer")).is_success
    assert TokenFile(world.settings.tokens).revoke("viewer-1")
    response = world.client.get("/api/v1/whoami", headers=world.auth("viewer"))
    assert response.status_code == 401


def test_admin_manages_tokens_without_seeing_secrets(world) -> None:
    listed = world.client.get("/api/v1/tokens", headers=world.auth("admin")).json()
    assert {t["name"] for t in listed} == {"viewer-1", "analyst-1", "admin-1"}
    assert all(set(t) == {"name", "role", "created_at"} for t in listed)
    created = world.client.post(
        "/api/v1/tokens",
        json={"name": "bot", "role": "viewer"},
        headers=world.auth("admin"),
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert world.client.get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}
    ).json() == {"name": "bot", "role": "viewer"}
    gone = world.client.delete("/api/v1/tokens/bot", headers=world.auth("admin"))
    assert gone.status_code == 204
    entries = world.client.get("/api/v1/audit", headers=world.auth("admin")).json()
    assert {"token.add", "token.revoke"} <= {e["action"] for e in entries}
    assert token not in json.dumps(entries)


@pytest.mark.parametrize("name", ["", "-lead", "a b", "x" * 65, "a/b", "é"])
def test_token_names_are_checked(tmp_path, name) -> None:
    from trustwatch.errors import ConfigError

    with pytest.raises(ConfigError):
        TokenFile(tmp_path / "t.json").add(name, "viewer")
