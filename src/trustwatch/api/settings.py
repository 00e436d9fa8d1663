"""Settings of the analyst API, checked once when ``trustwatch serve`` starts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from trustwatch.enrichment.ips import is_loopback_host
from trustwatch.errors import ConfigError

__all__ = ["DEFAULT_MAX_BODY", "OidcSettings", "ServeSettings", "is_loopback_host"]

#: The largest request body accepted by default: 1 MiB.
DEFAULT_MAX_BODY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """How JWT bearer tokens from an OpenID Connect provider are checked.

    Attributes
    ----------
    issuer, audience
        The ``iss`` and ``aud`` a token must carry.
    jwks_file
        A JSON Web Key Set saved to a local file. The service never fetches
        keys: a URL in a token or in the data is never followed, so keys are
        rotated by replacing the file and restarting.
    role_claim
        The claim that holds the role (``viewer``, ``analyst`` or ``admin``,
        or a list of them: the highest counts).
    name_claim
        The claim that names the person in the audit log.
    algorithms
        Signature algorithms accepted; ``none`` and HMAC are never accepted.
    """

    issuer: str
    audience: str
    jwks_file: Path
    role_claim: str = "trustwatch_role"
    name_claim: str = "sub"
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256", "EdDSA")

    def __post_init__(self) -> None:
        if not self.issuer.strip() or not self.audience.strip():
            raise ConfigError(
                "OIDC needs an issuer and an audience; hint: pass --oidc-issuer "
                "and --oidc-audience with --oidc-jwks"
            )
        unsafe = [a for a in self.algorithms if a.lower() == "none" or a[:2] == "HS"]
        if unsafe:
            raise ConfigError(
                f"OIDC algorithm {unsafe[0]!r} is not accepted; hint: use an "
                "asymmetric algorithm such as RS256 or ES256"
            )


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """Everything the API needs: stores, policy, who may sign in, and limits.

    Attributes
    ----------
    db
        The decision store: a SQLite file or a ``postgresql://`` DSN.
    review_db
        The review store (cases, labels, audit log): a file or a DSN.
    intel_db
        An intel database kept by ``trustwatch intel sync`` (optional).
    policy
        A policy file; the shipped policy when ``None``.
    ledger
        The store file that holds dispatch state (``trustwatch dispatch``);
        actions are listed without dispatch state and cannot be reversed
        when ``None``.
    tokens
        The API token file (``trustwatch serve token add``).
    oidc
        JWT bearer verification, when configured.
    db_schema, review_schema
        PostgreSQL schemas of the two stores.
    https
        Whether browsers reach the service over HTTPS (its own TLS, or a
        TLS-terminating proxy): session cookies then carry ``Secure`` and
        responses ``Strict-Transport-Security``.
    trusted_proxies
        Addresses or networks (``10.0.0.5``, ``10.0.0.0/24``) of reverse
        proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are
        believed; from any other peer they are ignored.
    max_body
        The largest request body accepted, in bytes; larger ones get 413
        before they are read.
    session_ttl
        How long a console session lasts after sign-in.
    max_failed_logins, failed_login_window
        Failed sign-ins (or bearer tokens) allowed per client address within
        the window; past it, further *failing* attempts from that address get
        429, while valid credentials still pass (a 256-bit token cannot be
        guessed; the limit keeps noise down and must not lock out colleagues
        behind one NAT or proxy).
    """

    db: str
    review_db: str
    intel_db: Path | None = None
    policy: Path | None = None
    ledger: Path | None = None
    tokens: Path | None = None
    oidc: OidcSettings | None = None
    db_schema: str = "trustwatch"
    review_schema: str = "trustwatch"
    https: bool = False
    trusted_proxies: tuple[str, ...] = ()
    max_body: int = DEFAULT_MAX_BODY
    session_ttl: timedelta = field(default=timedelta(hours=8))
    max_failed_logins: int = 10
    failed_login_window: timedelta = field(default=timedelta(minutes=5))

    def __post_init__(self) -> None:
        if not self.db.strip() or not self.review_db.strip():
            raise ConfigError(
                "serve needs a decision store and a review store; hint: pass "
                "--db STORE and --review-db REVIEW"
            )
        if self.tokens is None and self.oidc is None:
            raise ConfigError(
                "nobody could sign in: no token file and no OIDC settings; hint: "
                "create a token with `trustwatch serve token add NAME --role admin "
                "--tokens FILE` and pass --tokens FILE"
            )
        if self.max_body < 1024:
            raise ConfigError(
                f"max body {self.max_body} bytes is too small; hint: at least 1024 "
                f"(the default is {DEFAULT_MAX_BODY})"
            )
        self.trusted_networks()
        if self.max_failed_logins < 1:
            raise ConfigError(
                f"max failed logins {self.max_failed_logins} must be at least 1"
            )

    def trusted_networks(
        self,
    ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """Return :attr:`trusted_proxies` as networks.

        Raises
        ------
        ConfigError
            When one is neither an IP address nor a network.
        """
        networks = []
        for proxy in self.trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(proxy.strip(), strict=False))
            except ValueError as exc:
                raise ConfigError(
                    f"trusted proxy {proxy[:80]!r} is not an IP address or network; "
                    "hint: pass e.g. --trusted-proxy 10.0.0.5 or 10.0.0.0/24"
                ) from exc
        return tuple(networks)
