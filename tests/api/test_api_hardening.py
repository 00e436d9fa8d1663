"""The analyst API under attack: sessions that outlive their credentials, huge
bodies, lockouts of valid users, proxies, damaged token files and JWK algs."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from trustwatch.api.app import create_app
from trustwatch.api.auth import SESSION_COOKIE, forwarded_client
from trustwatch.api.limits import BodyLimit
from trustwatch.api.settings import OidcSettings, ServeSettings
from trustwatch.api.tokens import TokenFile
from trustwatch.errors import ConfigError

ISSUER = "https://idp.example.test/"
AUDIENCE = "trustwatch"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(path: Path, key: rsa.RSAPrivateKey, alg: str | None = "RS256") -> Path:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid="k1", use="sig")
    if alg is not None:
        public["alg"] = alg
    path.write_text(json.dumps({"keys": [public]}))
    return path


def _jwt(
    key: rsa.RSAPrivateKey,
    *,
    expires: datetime,
    sub: str = "dana@example.test",
    algorithm: str = "RS256",
) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "trustwatch_role": "analyst",
        "exp": expires,
    }
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": "k1"})


def _with_oidc(settings: ServeSettings, jwks: Path, **changes: Any) -> ServeSettings:
    values = {
        "db": settings.db,
        "review_db": settings.review_db,
        "tokens": settings.tokens,
        "oidc": OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=jwks),
    }
    values.update(changes)
    return ServeSettings(**values)  # type: ignore[arg-type]


def _sign_in(client: TestClient, token: str) -> str:
    response = client.post("/login", data={"token": token})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


# -- sessions end with their credentials --------------------------------------


def test_a_session_ends_when_its_token_leaves_the_token_file(world) -> None:
    _sign_in(world.client, world.tokens["viewer"])
    assert world.client.get("/api/v1/whoami").status_code == 200

    # revoked the way `trustwatch serve token revoke` does: the file changes
    assert TokenFile(world.settings.tokens).revoke("viewer-1")

    assert world.client.get("/api/v1/whoami").status_code == 401
    assert world.client.get("/console", follow_redirects=False).status_code == 303


def test_a_session_ends_when_a_token_of_that_name_is_made_anew(world) -> None:
    _sign_in(world.client, world.tokens["viewer"])
    tokens = TokenFile(world.settings.tokens)
    tokens.revoke("viewer-1")
    tokens.add("viewer-1", "viewer")

    assert world.client.get("/api/v1/whoami").status_code == 401


def test_revoking_through_the_api_ends_the_tokens_sessions_at_once(world) -> None:
    viewer = TestClient(world.app, base_url="http://127.0.0.1:8080")
    _sign_in(viewer, world.tokens["viewer"])
    gone = world.client.delete("/api/v1/tokens/viewer-1", headers=world.auth("admin"))

    assert gone.status_code == 204
    assert world.app.state.auth._sessions == {}
    assert viewer.get("/api/v1/whoami").status_code == 401
    entries = world.client.get("/api/v1/audit", headers=world.auth("admin")).json()
    revoked = next(e for e in entries if e["action"] == "token.revoke")
    assert revoked["detail"] == {"sessions": 1}


def test_a_session_opened_with_a_jwt_ends_when_the_jwt_expires(
    world, tmp_path, signing_key
) -> None:
    now = [datetime.now(UTC)]
    settings = _with_oidc(world.settings, _jwks(tmp_path / "jwks.json", signing_key))
    token = _jwt(signing_key, expires=now[0] + timedelta(minutes=5))
    app = create_app(settings, clock=lambda: now[0])
    with TestClient(app, base_url="http://127.0.0.1") as client:
        _sign_in(client, token)
        assert client.get("/api/v1/whoami").json()["name"] == "dana@example.test"

        now[0] += timedelta(minutes=6)

        assert client.get("/api/v1/whoami").status_code == 401


def test_a_jwt_whose_subject_is_a_token_name_is_refused(
    world, tmp_path, signing_key
) -> None:
    settings = _with_oidc(world.settings, _jwks(tmp_path / "jwks.json", signing_key))
    expires = datetime.now(UTC) + timedelta(minutes=5)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        posing = _jwt(signing_key, expires=expires, sub="admin-1")
        own = _jwt(signing_key, expires=expires)
        headers = {"Authorization": f"Bearer {posing}"}
        assert client.get("/api/v1/whoami", headers=headers).status_code == 401
        headers = {"Authorization": f"Bearer {own}"}
        assert client.get("/api/v1/whoami", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "sub",
    [
        "Admin-1",
        "admin-1\u200b",
        "ad\u200dmin-1",
        "\ufeffadmin-1",
        "ＡＤＭＩＮ-1",
        "admin-1\ufe0f",
        "admin-1\u034f",
        "admin-1\u3164",
        "admin-1\u2800",
        "admin-1\U000e0100",
        "admin-1\u17b4",
    ],
)
def test_a_jwt_whose_subject_only_looks_like_a_token_name_is_refused(
    world, tmp_path, signing_key, sub
) -> None:
    settings = _with_oidc(world.settings, _jwks(tmp_path / "jwks.json", signing_key))
    expires = datetime.now(UTC) + timedelta(minutes=5)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        posing = _jwt(signing_key, expires=expires, sub=sub)
        headers = {"Authorization": f"Bearer {posing}"}
        assert client.get("/api/v1/whoami", headers=headers).status_code == 401


def test_a_jwt_session_ends_when_a_token_takes_its_name(
    world, tmp_path, signing_key
) -> None:
    settings = _with_oidc(world.settings, _jwks(tmp_path / "jwks.json", signing_key))
    expires = datetime.now(UTC) + timedelta(minutes=5)
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        _sign_in(client, _jwt(signing_key, expires=expires, sub="dave"))
        assert client.get("/api/v1/whoami").json()["name"] == "dave"
        admin = {"Authorization": f"Bearer {world.tokens['admin']}"}
        taken = client.post(
            "/api/v1/tokens", json={"name": "dave", "role": "viewer"}, headers=admin
        )
        # the API refuses while the JWT user is signed in ...
        assert taken.status_code == 409
        assert "signed in" in taken.json()["detail"]
        assert client.get("/api/v1/whoami").status_code == 200
        # ... and a token made beside the server ends that session
        TokenFile(world.settings.tokens).add("Dave", "viewer")
        assert client.get("/api/v1/whoami").status_code == 401


def test_token_names_that_differ_only_in_case_are_one_name(world) -> None:
    tokens = TokenFile(world.settings.tokens)
    with pytest.raises(ConfigError, match="differs only in case"):
        tokens.add("ADMIN-1", "viewer")
    taken = world.client.post(
        "/api/v1/tokens",
        json={"name": "Admin-1", "role": "viewer"},
        headers=world.auth("admin"),
    )
    assert taken.status_code == 409


def test_token_changes_at_once_never_undo_each_other(world) -> None:
    """Requests run on several threads: every add and revoke must hold."""
    from concurrent.futures import ThreadPoolExecutor

    admin = world.auth("admin")
    victim = world.client.post(
        "/api/v1/tokens", json={"name": "victim", "role": "admin"}, headers=admin
    ).json()["token"]

    def change(i: int) -> int:
        if i == 3:
            gone = world.client.delete("/api/v1/tokens/victim", headers=admin)
            return gone.status_code
        body = {"name": f"filler-{i}", "role": "viewer"}
        return world.client.post("/api/v1/tokens", json=body, headers=admin).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(change, range(12)))

    assert codes[3] == 204 and codes.count(201) == 11, codes
    names = {t.name for t in TokenFile(world.settings.tokens).tokens()}
    assert "victim" not in names
    assert {f"filler-{i}" for i in range(12) if i != 3} <= names
    whoami = world.client.get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {victim}"}
    )
    assert whoami.status_code == 401
    entries = world.client.get("/api/v1/audit?limit=500", headers=admin).json()
    added = {e["target"] for e in entries if e["action"] == "token.add"}
    assert added == {"victim"} | {f"filler-{i}" for i in range(12) if i != 3}


def test_a_jwk_with_an_alg_verifies_that_alg_only(world, tmp_path, signing_key) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    pss = _jwt(signing_key, expires=expires, algorithm="PS256")
    pinned = _with_oidc(world.settings, _jwks(tmp_path / "a.json", signing_key))
    free = _with_oidc(world.settings, _jwks(tmp_path / "b.json", signing_key, None))
    headers = {"Authorization": f"Bearer {pss}"}

    with TestClient(create_app(pinned), base_url="http://127.0.0.1") as client:
        assert client.get("/api/v1/whoami", headers=headers).status_code == 401
    with TestClient(create_app(free), base_url="http://127.0.0.1") as client:
        assert client.get("/api/v1/whoami", headers=headers).status_code == 200


# -- request bodies -------------------------------------------------------------


def test_a_declared_huge_body_gets_413_before_it_is_read() -> None:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append("app")

    async def receive() -> dict[str, Any]:
        reached.append("receive")
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/cases/x/assign",
        "headers": [(b"content-length", str(1 << 40).encode())],
    }
    asyncio.run(BodyLimit(app, max_body=1024 * 1024)(scope, receive, send))

    assert sent[0]["status"] == 413
    assert reached == []


def test_an_anonymous_chunked_body_past_the_limit_gets_413(world) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    response = world.client.post(
        "/api/v1/cases/x/assign",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_bodies_under_the_limit_pass_and_the_limit_is_configurable(world) -> None:
    body = {"assignee": "x" * 3000}
    anonymous = world.client.post("/api/v1/cases/x/assign", json=body)
    assert anonymous.status_code == 401

    settings = ServeSettings(
        db=world.settings.db,
        review_db=world.settings.review_db,
        tokens=world.settings.tokens,
        max_body=2048,
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        assert client.post("/api/v1/cases/x/assign", json=body).status_code == 413


def test_a_limit_under_a_kibibyte_is_refused(world) -> None:
    with pytest.raises(ConfigError, match="max body"):
        ServeSettings(db="a", review_db="b", tokens=Path("t"), max_body=10)


# -- failure limits and proxies ---------------------------------------------------


def test_valid_credentials_pass_while_the_address_is_blocked(world) -> None:
    bad = {"Authorization": "Bearer tw_guess"}
    for _ in range(world.settings.max_failed_logins):
        assert world.client.get("/api/v1/whoami", headers=bad).status_code == 401

    assert world.client.get("/api/v1/whoami", headers=bad).status_code == 429
    assert world.client.post("/login", data={"token": "nope"}).status_code == 429
    valid = world.client.get("/api/v1/whoami", headers=world.auth("viewer"))
    assert valid.status_code == 200
    assert world.client.post("/login", data={"token": world.tokens["admin"]}).is_success


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("10.0.0.5", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.5", ["198.51.100.1, 203.0.113.9"], "203.0.113.9"),
        ("10.0.0.5", ["198.51.100.1, 203.0.113.9, 10.0.0.7"], "203.0.113.9"),
        ("10.0.0.5", ["198.51.100.1", "203.0.113.9"], "203.0.113.9"),
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", ["10.0.0.6"], "10.0.0.5"),
        ("10.0.0.5", ["not-an-address"], "unknown"),
        ("192.0.2.50", ["203.0.113.9"], "192.0.2.50"),
    ],
)
def test_the_client_is_the_right_most_address_no_trusted_proxy_wrote(
    peer, forwarded, client
) -> None:
    trusted = ServeSettings(
        db="a", review_db="b", tokens=Path("t"), trusted_proxies=("10.0.0.0/24",)
    ).trusted_networks()

    assert forwarded_client(peer, forwarded, trusted) == client


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    assert forwarded_client("10.0.0.5", ["203.0.113.9"], ()) == "10.0.0.5"


def test_an_unusable_trusted_proxy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="trusted proxy"):
        ServeSettings(
            db="a", review_db="b", tokens=Path("t"), trusted_proxies=("proxy.lan",)
        )


def _behind_proxy(world, **changes: Any) -> TestClient:
    settings = ServeSettings(
        db=world.settings.db,
        review_db=world.settings.review_db,
        tokens=world.settings.tokens,
        max_failed_logins=2,
        trusted_proxies=("10.0.0.5",),
        **changes,
    )
    return TestClient(
        create_app(settings), base_url="http://127.0.0.1", client=("10.0.0.5", 4000)
    )


def test_behind_a_trusted_proxy_failures_count_per_forwarded_client(world) -> None:
    with _behind_proxy(world) as client:
        attacker = {"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer x"}
        for _ in range(2):
            client.get("/api/v1/whoami", headers=attacker)
        assert client.get("/api/v1/whoami", headers=attacker).status_code == 429

        colleague = {"X-Forwarded-For": "198.51.100.20", "Authorization": "Bearer y"}
        assert client.get("/api/v1/whoami", headers=colleague).status_code == 401
        entries = client.get(
            "/api/v1/audit",
            headers={"X-Forwarded-For": "198.51.100.21", **world.auth("admin")},
        )
        assert entries.status_code == 200


def test_https_from_a_trusted_proxy_marks_cookies_secure_and_sends_hsts(
    world,
) -> None:
    with _behind_proxy(world) as client:
        plain = client.post("/login", data={"token": world.tokens["viewer"]})
        assert "secure" not in plain.headers["set-cookie"].lower()
        assert "strict-transport-security" not in plain.headers

        secure = client.post(
            "/login",
            data={"token": world.tokens["viewer"]},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert "secure" in secure.headers["set-cookie"].lower()
        assert secure.headers["strict-transport-security"].startswith("max-age=")


def test_forwarded_proto_from_an_untrusted_peer_is_ignored(world) -> None:
    response = world.client.post(
        "/login",
        data={"token": world.tokens["viewer"]},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    )
    assert "secure" not in response.headers["set-cookie"].lower()
    assert "strict-transport-security" not in response.headers


def test_behind_a_tls_proxy_every_cookie_is_secure(world) -> None:
    with _behind_proxy(world, https=True) as client:
        response = client.post("/login", data={"token": world.tokens["viewer"]})
        assert f"{SESSION_COOKIE}=" in response.headers["set-cookie"]
        assert "secure" in response.headers["set-cookie"].lower()
        assert "strict-transport-security" in response.headers


# -- a damaged token file ---------------------------------------------------------


def test_a_damaged_token_file_answers_503_without_internals(world, caplog) -> None:
    _sign_in(world.client, world.tokens["viewer"])
    Path(world.settings.tokens).write_text("{not json", encoding="utf-8")

    with caplog.at_level(logging.ERROR, logger="trustwatch.api.app"):
        bearer = world.client.get("/api/v1/whoami", headers=world.auth("viewer"))
        session = world.client.get("/api/v1/whoami")
        login = world.client.post("/login", data={"token": world.tokens["viewer"]})

    for response in (bearer, session, login):
        assert response.status_code == 503
        assert response.json() == {"detail": "a store is unavailable"}
        assert "tokens.json" not in response.text
    logged = [r for r in caplog.records if r.name == "trustwatch.api.app"]
    assert logged and all(r.exc_info is None for r in logged)
    assert all("\n" not in r.getMessage() for r in logged)


def test_a_jwt_still_signs_in_while_the_token_file_is_damaged(
    world, tmp_path, signing_key
) -> None:
    settings = _with_oidc(world.settings, _jwks(tmp_path / "jwks.json", signing_key))
    token = _jwt(signing_key, expires=datetime.now(UTC) + timedelta(minutes=5))
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        Path(world.settings.tokens).write_text("[1, 2", encoding="utf-8")
        assert client.post("/login", data={"token": token}).status_code == 200
        assert client.get("/api/v1/whoami").json()["role"] == "analyst"


def test_the_sign_in_form_still_opens_while_the_token_file_is_damaged(world) -> None:
    _sign_in(world.client, world.tokens["viewer"])
    Path(world.settings.tokens).write_text("{not json", encoding="utf-8")

    assert world.client.get("/console/login").status_code == 200


def test_the_last_admin_token_is_not_revoked_through_the_api(world) -> None:
    admin = world.auth("admin")
    refused = world.client.delete("/api/v1/tokens/admin-1", headers=admin)
    assert refused.status_code == 409
    assert "last admin token" in refused.json()["detail"]
    assert world.client.get("/api/v1/whoami", headers=admin).status_code == 200
    world.add_token("second-admin", "admin")
    gone = world.client.delete("/api/v1/tokens/admin-1", headers=admin)
    assert gone.status_code == 204
    assert world.client.get("/api/v1/whoami", headers=admin).status_code == 401


def test_two_admins_revoking_each_other_at_once_leave_one(world, monkeypatch) -> None:
    import threading

    from trustwatch.api.tokens import TokenFile

    second = world.add_token("admin-2", "admin")
    both_checked = threading.Barrier(2)
    real = TokenFile._changing

    def changing(self):  # both requests reach the file before either writes
        both_checked.wait(timeout=5)
        return real(self)

    monkeypatch.setattr(TokenFile, "_changing", changing)
    answers: dict[str, int] = {}

    def revoke(who: str, token: str, target: str) -> None:
        answers[who] = world.client.delete(
            f"/api/v1/tokens/{target}", headers={"Authorization": f"Bearer {token}"}
        ).status_code

    threads = [
        threading.Thread(target=revoke, args=("a", world.tokens["admin"], "admin-2")),
        threading.Thread(target=revoke, args=("b", second, "admin-1")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers.values()) == [204, 409]
    left = TokenFile(world.settings.tokens).tokens()
    assert [t.role for t in left].count("admin") == 1
