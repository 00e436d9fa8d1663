"""JWT bearer tokens from an OpenID Connect provider, checked offline.

Keys come from a JSON Web Key Set *file* named in the settings. Nothing is
fetched: not the provider's discovery document, not a ``jku`` or ``x5u``
named in a token (such headers are ignored), so a token cannot make the
service open a connection. A key whose JWK names an ``alg`` verifies
tokens signed with that algorithm only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from trustwatch.api.schemas import reads_as_written
from trustwatch.api.settings import OidcSettings
from trustwatch.api.tokens import ROLES, Role
from trustwatch.errors import ConfigError

__all__ = ["JwtIdentity", "JwtVerifier", "looks_like_jwt"]

log = logging.getLogger(__name__)


def looks_like_jwt(token: str) -> bool:
    """Return whether ``token`` has a JWT's shape: three dot-separated parts."""
    return token.count(".") == 2 and not token.startswith("tw_")


@dataclass(frozen=True, slots=True)
class JwtIdentity:
    """What a valid JWT says: the person's name, role, and when it expires."""

    name: str
    role: Role
    expires: datetime


class JwtVerifier:
    """Checks signature, issuer, audience and expiry, and reads the role.

    Parameters
    ----------
    settings
        Issuer, audience, key file and claims.

    Raises
    ------
    ConfigError
        When PyJWT is missing or the key file cannot be read.
    """

    def __init__(self, settings: OidcSettings) -> None:
        try:
            import jwt
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ConfigError(
                "OIDC tokens need PyJWT; hint: pip install 'pyjwt[crypto]'"
            ) from exc
        self._jwt = jwt
        self.settings = settings
        try:
            keys = json.loads(settings.jwks_file.read_text(encoding="utf-8"))
            self._keys = jwt.PyJWKSet.from_dict(keys)
            self._key_algs = _key_algorithms(keys)
        except (OSError, ValueError, TypeError, AttributeError, jwt.PyJWTError) as exc:
            raise ConfigError(
                f"cannot read the JWKS file {settings.jwks_file}: "
                f"{type(exc).__name__}; hint: save the provider's JWKS document "
                "to a file and pass it with --oidc-jwks"
            ) from exc

    def verify(self, token: str) -> JwtIdentity | None:
        """Return who a valid token names, else ``None``."""
        jwt = self._jwt
        try:
            header = jwt.get_unverified_header(token)
            key = self._key(header.get("kid"))
            if key is None:
                return None
            algorithms = list(self.settings.algorithms)
            pinned = self._key_algs.get(key.key_id)
            if pinned is not None:
                algorithms = [a for a in algorithms if a == pinned]
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iss", "aud"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            log.info("JWT refused: %s", type(exc).__name__)
            return None
        name = claims.get(self.settings.name_claim)
        role = _highest_role(claims.get(self.settings.role_claim))
        expires = claims.get("exp")
        if not _usable_name(name) or role is None:
            log.info("JWT refused: no usable name or role claim")
            return None
        if not isinstance(expires, int | float) or isinstance(expires, bool):
            log.info("JWT refused: its exp is not a number")
            return None
        try:
            until = datetime.fromtimestamp(expires, UTC)
        except (OverflowError, OSError, ValueError):
            log.info("JWT refused: its exp is out of range")
            return None
        return JwtIdentity(name, role, until)

    def _key(self, kid: object) -> Any:
        keys = list(self._keys.keys)
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        return next((k for k in keys if k.key_id == kid), None)


def _key_algorithms(jwks: dict[str, Any]) -> dict[str | None, str]:
    """The ``alg`` each key of a JWKS document names, by key id."""
    pinned: dict[str | None, str] = {}
    for key in jwks.get("keys", []):
        if isinstance(key, dict) and isinstance(key.get("alg"), str):
            kid = key.get("kid")
            pinned[kid if isinstance(kid, str) else None] = key["alg"]
    return pinned


def _usable_name(name: object) -> TypeGuard[str]:
    """Whether a name claim can stand as an actor in the audit log and on
    cases: 1 to 128 characters, no space at either end, and text that reads
    as it is written (:func:`~trustwatch.api.schemas.reads_as_written`)."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= _MAX_NAME
        and name == name.strip()
        and reads_as_written(name)
    )


_MAX_NAME = 128


def _highest_role(claim: object) -> Role | None:
    """The highest known role in a claim that is one role or a list of them."""
    values = claim if isinstance(claim, list) else [claim]
    ranks = [ROLES.index(v) for v in values if isinstance(v, str) and v in ROLES]
    return ROLES[max(ranks)] if ranks else None
