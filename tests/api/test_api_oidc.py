"""OIDC JWT bearer tokens: checked offline against a JWKS file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from trustwatch.api.app import create_app
from trustwatch.api.settings import OidcSettings, ServeSettings
from trustwatch.errors import ConfigError

ISSUER = "https://idp.example.test/"
AUDIENCE = "trustwatch"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def oidc_client(world, tmp_path, signing_key):
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    public.update(kid="k1", use="sig", alg="RS256")
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [public]}))
    settings = ServeSettings(
        db=world.settings.db,
        review_db=world.settings.review_db,
        oidc=OidcSettings(
            issuer=ISSUER, audience=AUDIENCE, jwks_file=tmp_path / "jwks.json"
        ),
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield client


def _token(key, **overrides) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "dana@example.test",
        "trustwatch_role": "analyst",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


def _whoami(client, token: str):
    return client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})


def test_valid_jwt_signs_in_with_its_role(oidc_client, signing_key) -> None:
    response = _whoami(oidc_client, _token(signing_key))
    assert response.json() == {"name": "dana@example.test", "role": "analyst"}
    highest = _token(signing_key, trustwatch_role=["viewer", "admin"])
    assert _whoami(oidc_client, highest).json()["role"] == "admin"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "someone-else"},
        {"iss": "https://evil.example/"},
        {"exp": datetime(2020, 1, 1, tzinfo=UTC)},
        {"exp": None},
        {"trustwatch_role": "root"},
        {"trustwatch_role": None},
        {"sub": None},
        # exp beyond any date: refused, not a server error
        {"exp": 10**20},
        {"exp": 1e300},
        # names that would forge lines or hide text in the audit log
        {"sub": "mallory\r\nanalyst assigned to: admin"},
        {"sub": "mallory\u202egnp.exe"},
        {"sub": "mallory\x1b[31m"},
        {"sub": "   "},
        {"sub": " dana@example.test"},
        {"sub": "d" * 129},
    ],
)
def test_jwts_with_bad_claims_are_refused(oidc_client, signing_key, overrides) -> None:
    assert _whoami(oidc_client, _token(signing_key, **overrides)).status_code == 401


def test_jwts_signed_otherwise_are_refused(oidc_client, signing_key) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _whoami(oidc_client, _token(other)).status_code == 401
    claims = jwt.decode(_token(signing_key), options={"verify_signature": False})
    hmac_token = jwt.encode(claims, "secret" * 6, algorithm="HS256")
    assert _whoami(oidc_client, hmac_token).status_code == 401
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert _whoami(oidc_client, unsigned).status_code == 401


def test_jwks_urls_in_tokens_are_never_followed(
    oidc_client, signing_key, no_outbound
) -> None:
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "trustwatch_role": "admin"},
        signing_key,
        algorithm="RS256",
        headers={"kid": "unknown", "jku": "http://198.51.100.9/keys.json"},
    )
    assert _whoami(oidc_client, token).status_code == 401
    assert no_outbound == []


def test_oidc_settings_refuse_unsafe_algorithms(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not accepted"):
        OidcSettings(ISSUER, AUDIENCE, tmp_path / "j.json", algorithms=("HS256",))
    with pytest.raises(ConfigError, match="JWKS"):
        create_app(
            ServeSettings(
                db=":memory:",
                review_db=str(tmp_path / "r.sqlite"),
                oidc=OidcSettings(ISSUER, AUDIENCE, tmp_path / "missing.json"),
            )
        )


def test_with_oidc_a_case_goes_to_a_name_as_written(oidc_client, signing_key) -> None:
    # the provider's subjects cannot be listed, so names pass as they are;
    # joiners and direction marks are part of scripts and emoji
    admin = {"Authorization": f"Bearer {_token(signing_key, trustwatch_role='admin')}"}
    case_id = oidc_client.get("/api/v1/cases", headers=admin).json()["items"][0][
        "case_id"
    ]
    for assignee in (
        "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627",
        "dev\U0001f469\u200d\U0001f4bb",
    ):
        taken = oidc_client.post(
            f"/api/v1/cases/{case_id}/assign",
            json={"assignee": assignee},
            headers=admin,
        )
        assert taken.is_success and taken.json()["assignee"] == assignee
