"""``trustwatch serve``: the analyst API and console; ``serve token``: API tokens."""

from __future__ import annotations

import getpass
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from trustwatch.api.settings import (
    DEFAULT_MAX_BODY,
    OidcSettings,
    ServeSettings,
    is_loopback_host,
)
from trustwatch.cli.options import DEFAULT_DB
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.errors import ConfigError

__all__ = ["serve", "serve_settings"]

console = output_console()
errors = error_console()

F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_INTERVAL = re.compile(r"(\d{1,12})\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest case build interval: a week.
MAX_BUILD_INTERVAL_DAYS = 7


class BuildInterval(click.ParamType):  # type: ignore[type-arg]
    """A case build interval: ``30s``, ``5m``, ``1h`` or plain seconds; ``0`` is off."""

    name = "interval"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        text = str(value).strip()
        matched = _INTERVAL.fullmatch(text)
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif text.isascii() and text.isdigit() and len(text) <= 12:
            seconds = float(text)
        elif text == "off":
            seconds = 0.0
        elif matched is not None and text.isascii():
            seconds = float(int(matched.group(1)) * _UNIT_SECONDS[matched.group(2)])
        else:
            self.fail(
                f"{text[:40]!r} is not a case build interval; hint: use e.g. "
                "30s, 5m, 1h or 0 (off)",
                param,
                ctx,
            )
        if not 0 <= seconds <= MAX_BUILD_INTERVAL_DAYS * 86400:
            self.fail(
                f"{text[:40]!r} is out of range; hint: --build-cases-every takes "
                f"0 (off) or from 1s to {MAX_BUILD_INTERVAL_DAYS}d",
                param,
                ctx,
            )
        return seconds


def _tokens_option(required: bool) -> Callable[[F], F]:
    return click.option(
        "--tokens",
        type=click.Path(dir_okay=False, path_type=Path),
        required=required,
        envvar="TRUSTWATCH_TOKENS",
        show_envvar=True,
        help="The API token file (names, roles and SHA-256 digests only).",
    )


@click.group(invoke_without_command=True)
@click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    envvar="TRUSTWATCH_DB",
    show_envvar=True,
    help="The decision store: a SQLite file or postgresql://user@host/db.",
)
@click.option(
    "--review-db",
    envvar="TRUSTWATCH_REVIEW_DB",
    show_envvar=True,
    help="The review store (cases, labels, audit log): a file or postgresql://...",
)
@click.option(
    "--intel-db",
    type=_FILE,
    envvar="TRUSTWATCH_INTEL_DB",
    show_envvar=True,
    help="An intel database kept by `trustwatch intel sync`, for indicator search.",
)
@click.option(
    "--policy",
    type=_FILE,
    envvar="TRUSTWATCH_POLICY",
    show_envvar=True,
    help="The policy file to show; the shipped default otherwise.",
)
@click.option(
    "--ledger",
    type=_FILE,
    envvar="TRUSTWATCH_LEDGER",
    show_envvar=True,
    help="The store file `trustwatch dispatch` keeps dispatch state in: "
    "actions show their state and can be reversed.",
)
@_tokens_option(required=False)
@click.option(
    "--oidc-issuer",
    envvar="TRUSTWATCH_OIDC_ISSUER",
    show_envvar=True,
    help="Accept JWT bearer tokens from this issuer (iss).",
)
@click.option(
    "--oidc-audience",
    envvar="TRUSTWATCH_OIDC_AUDIENCE",
    show_envvar=True,
    help="The audience (aud) JWTs must be for.",
)
@click.option(
    "--oidc-jwks",
    type=_FILE,
    envvar="TRUSTWATCH_OIDC_JWKS",
    show_envvar=True,
    help="The issuer's JSON Web Key Set, saved to a file (never fetched).",
)
@click.option(
    "--oidc-role-claim",
    default="trustwatch_role",
    show_default=True,
    envvar="TRUSTWATCH_OIDC_ROLE_CLAIM",
    show_envvar=True,
    help="The JWT claim holding viewer, analyst or admin.",
)
@click.option(
    "--oidc-name-claim",
    default="sub",
    show_default=True,
    envvar="TRUSTWATCH_OIDC_NAME_CLAIM",
    show_envvar=True,
    help="The JWT claim that names the person in the audit log.",
)
@click.option(
    "--db-schema",
    default="trustwatch",
    show_default=True,
    envvar="TRUSTWATCH_DB_SCHEMA",
    show_envvar=True,
    help="PostgreSQL schema of the decision store.",
)
@click.option(
    "--review-schema",
    default="trustwatch",
    show_default=True,
    envvar="TRUSTWATCH_REVIEW_SCHEMA",
    show_envvar=True,
    help="PostgreSQL schema of the review store.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="TRUSTWATCH_HOST",
    show_envvar=True,
    help="Address to bind.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    envvar="TRUSTWATCH_PORT",
    show_envvar=True,
    help="Port to bind (0: a free one, printed when serving starts).",
)
@click.option(
    "--tls-cert",
    type=_FILE,
    envvar="TRUSTWATCH_TLS_CERT",
    show_envvar=True,
    help="TLS certificate (PEM) to serve HTTPS.",
)
@click.option(
    "--tls-key",
    type=_FILE,
    envvar="TRUSTWATCH_TLS_KEY",
    show_envvar=True,
    help="The certificate's private key (PEM).",
)
@click.option(
    "--insecure-bind",
    is_flag=True,
    help="Serve plain HTTP on a non-loopback address (behind a TLS proxy only).",
)
@click.option(
    "--behind-tls-proxy",
    is_flag=True,
    envvar="TRUSTWATCH_BEHIND_TLS_PROXY",
    show_envvar=True,
    help="Browsers reach the service over HTTPS through a proxy: session "
    "cookies are Secure and responses carry HSTS.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    envvar="TRUSTWATCH_TRUSTED_PROXIES",
    show_envvar=True,
    help="A reverse proxy's address or network (repeatable; the variable is "
    "space-separated): its X-Forwarded-For names the client, and its "
    "X-Forwarded-Proto https makes cookies Secure.",
)
@click.option(
    "--max-body",
    type=click.IntRange(1024, 1 << 30),
    default=DEFAULT_MAX_BODY,
    show_default=True,
    envvar="TRUSTWATCH_MAX_BODY",
    show_envvar=True,
    help="The largest request body accepted, in bytes; larger ones get 413.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1, 100_000),
    default=512,
    show_default=True,
    envvar="TRUSTWATCH_MAX_CONNECTIONS",
    show_envvar=True,
    help="Connections and requests in flight, past which new ones get 503. A "
    "connection that has not sent a whole request head within 10 s, or its body "
    "within 30 s of its head, is closed.",
)
@click.option(
    "--build-cases-every",
    type=BuildInterval(),
    default="60s",
    show_default=True,
    envvar="TRUSTWATCH_BUILD_CASES_EVERY",
    show_envvar=True,
    help="Build review cases from the decision store's new alerts this often, "
    "in the background (30s, 5m...; 0 turns it off).",
)
@click.pass_context
def serve(ctx: click.Context, /, **options: object) -> None:
    """Serve the analyst API (/api/v1) and web console over HTTP(S).

    Every route needs a token (`serve token add`), a console sign-in, or an
    OIDC JWT. Binding anything but loopback needs --tls-cert and --tls-key,
    or --insecure-bind behind a TLS-terminating proxy. New alerts become
    cases every --build-cases-every, as `trustwatch cases build` would.

    Behind a reverse proxy, name it with --trusted-proxy so that failed
    sign-ins count per client rather than per proxy, and pass
    --behind-tls-proxy when the proxy terminates TLS.
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        from trustwatch.api.app import create_app
        from trustwatch.api.server import listen, serve_app
    except ImportError as exc:
        raise ConfigError(
            f"serve needs the api extra ({exc.name} is missing); hint: pip "
            'install "trustwatch[api]"'
        ) from exc

    settings = serve_settings(options)
    if settings.tokens is not None and not settings.tokens.exists():
        errors.print(
            f"warning: token file {clean(str(settings.tokens))} does not exist: no "
            "API token is accepted until `trustwatch serve token add` creates it"
        )
    host = _host(options)
    port = int(str(options["port"]))
    tls_cert, tls_key = _text(options.get("tls_cert")), _text(options.get("tls_key"))
    if tls_cert is not None and tls_key is not None:
        _check_tls(tls_cert, tls_key)
    app = create_app(
        settings, build_cases_every=float(str(options["build_cases_every"]))
    )
    scheme = "https" if settings.https else "http"
    try:
        sock = listen(host, port)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {clean(host)}:{port}: {exc.strerror or exc}; hint: "
            "another program may hold the port (--port 0 picks a free one), or the "
            "address is not this machine's"
        ) from exc
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    errors.print(f"serving on {scheme}://{clean(shown)}:{bound} (Ctrl-C stops)")
    serve_app(
        app,
        sock,
        tls_cert=tls_cert,
        tls_key=tls_key,
        max_connections=int(str(options["max_connections"])),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _host(options: dict[str, object]) -> str:
    """The address to bind, an IPv6 one given in brackets (``[::1]``) or not."""
    host = str(options["host"])
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or "[" in host or "]" in host or host.count(":") == 1:
        raise ConfigError(
            f"--host {clean(str(options['host']))!r} is not an address; hint: give "
            "the address alone (127.0.0.1, ::1, a host name) and the port with "
            "--port"
        )
    return host


def _check_tls(cert: str, key: str) -> None:
    """Load the certificate and key as the server will, before serving.

    Raises
    ------
    ConfigError
        When either is not PEM, or the key is not the certificate's.
    """
    import ssl

    def no_passphrase() -> str:
        raise ConfigError(
            f"the TLS key {clean(key)} is encrypted; hint: serve with an "
            "unencrypted key readable only by the serving user (openssl pkey -in "
            "KEY -out PLAIN)"
        )

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            cert, key, password=no_passphrase
        )
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        raise ConfigError(
            f"cannot serve TLS with {clean(cert)} and {clean(key)}: {reason}; "
            "hint: give the certificate chain and its own private key, both PEM, "
            "the key unencrypted"
        ) from exc


def serve_settings(options: dict[str, object]) -> ServeSettings:
    """Check the command's options and return the API's settings.

    Raises
    ------
    ConfigError
        When the review store is missing, the token file is damaged, TLS is
        half configured, OIDC is half configured, or a non-loopback address
        would serve plain HTTP.
    """

    review_db = options.get("review_db")
    if not review_db:
        raise ConfigError(
            "serve needs a review store; hint: pass --review-db review.sqlite "
            "(created when missing) or set TRUSTWATCH_REVIEW_DB"
        )
    cert, key = options.get("tls_cert"), options.get("tls_key")
    if (cert is None) != (key is None):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    host = _host(options)
    if not is_loopback_host(host) and cert is None and not options["insecure_bind"]:
        raise ConfigError(
            f"refusing to serve plain HTTP on {host}: tokens and session cookies "
            "would cross the network in clear; hint: pass --tls-cert and "
            "--tls-key, bind 127.0.0.1 behind a TLS proxy, or pass --insecure-bind "
            "if a proxy on this network terminates TLS"
        )
    oidc_parts = [options.get(k) for k in ("oidc_issuer", "oidc_audience", "oidc_jwks")]
    oidc = None
    if any(oidc_parts):
        if not all(oidc_parts):
            raise ConfigError(
                "OIDC needs --oidc-issuer, --oidc-audience and --oidc-jwks together"
            )
        oidc = OidcSettings(
            issuer=str(options["oidc_issuer"]),
            audience=str(options["oidc_audience"]),
            jwks_file=Path(str(options["oidc_jwks"])),
            role_claim=str(options["oidc_role_claim"]),
            name_claim=str(options["oidc_name_claim"]),
        )

    def path(name: str) -> Path | None:
        value = options.get(name)
        return None if value is None else Path(str(value))

    tokens = path("tokens")
    if tokens is not None:
        from trustwatch.api.tokens import TokenFile

        # a damaged file is refused now, not with a 503 on every request
        TokenFile(tokens).tokens()

    return ServeSettings(
        db=str(options["db"]),
        review_db=str(review_db),
        intel_db=path("intel_db"),
        policy=path("policy"),
        ledger=path("ledger"),
        tokens=tokens,
        oidc=oidc,
        db_schema=str(options["db_schema"]),
        review_schema=str(options["review_schema"]),
        https=cert is not None or bool(options.get("behind_tls_proxy")),
        trusted_proxies=_proxies(options.get("trusted_proxies")),
        max_body=int(str(options.get("max_body") or DEFAULT_MAX_BODY)),
    )


def _proxies(value: object) -> tuple[str, ...]:
    """The trusted proxies given, each option value split on spaces or commas."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, tuple | list):
        return ()
    return tuple(p for item in value for p in re.split(r"[\s,]+", str(item)) if p)


@serve.group("token")
def token_group() -> None:
    """API tokens: create (shown once), list and revoke."""


def _audit_option(func: F) -> F:
    func = click.option(
        "--review-schema",
        default="trustwatch",
        show_default=True,
        envvar="TRUSTWATCH_REVIEW_SCHEMA",
        show_envvar=True,
        help="PostgreSQL schema of the review store.",
    )(func)
    func = click.option(
        "--as",
        "--actor",
        "actor",
        default=None,
        help="Who makes the change, for the audit log (default: the OS user).",
    )(func)
    return click.option(
        "--review-db",
        "audit_db",
        envvar="TRUSTWATCH_REVIEW_DB",
        show_envvar=True,
        help="Write the change to this review store's audit log.",
    )(func)


def _audit(
    audit_db: str | None,
    review_schema: str,
    actor: str | None,
    action: str,
    name: str,
    role: str,
) -> None:
    """Write a token change to the review store's audit log, when one is named."""
    if not audit_db:
        return
    from trustwatch.decisions.model import stable_id
    from trustwatch.review.model import AuditEntry
    from trustwatch.review.store import open_review_store

    now = datetime.now(UTC)
    with open_review_store(audit_db, schema=review_schema) as review:
        review.audit(
            AuditEntry(
                entry_id=stable_id("audit", now.isoformat(), secrets.token_hex(8)),
                at=now,
                actor=actor or getpass.getuser(),
                role="admin",
                action=action,
                target_type="token",
                target=name,
                detail={"role": role} if role else {},
                source="cli",
            )
        )


@token_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["viewer", "analyst", "admin"]),
    required=True,
    help="viewer reads; analyst also assigns, resolves and reverses; admin also "
    "reads the audit log and manages tokens.",
)
@_tokens_option(required=True)
@_audit_option
def token_add(
    name: str,
    role: str,
    tokens: Path,
    audit_db: str | None,
    review_schema: str,
    actor: str | None,
) -> None:
    """Create a token NAME with a role and print it (shown this once only)."""
    from trustwatch.api.tokens import TokenFile

    token = TokenFile(tokens).add(name, role)
    _audit(audit_db, review_schema, actor, "token.add", name, role)
    errors.print(
        f"token {clean(name)} ({role}) added to {clean(str(tokens))}; "
        "it is shown once, store it now:"
    )
    click.echo(token)


@token_group.command("list")
@_tokens_option(required=True)
def token_list(tokens: Path) -> None:
    """List tokens by name, role and creation time (never the tokens)."""
    from trustwatch.api.tokens import TokenFile

    for stored in TokenFile(tokens).tokens():
        console.print(f"{clean(stored.name)}\t{stored.role}\t{stored.created_at}")


@token_group.command("revoke")
@click.argument("name")
@_tokens_option(required=True)
@_audit_option
def token_revoke(
    name: str,
    tokens: Path,
    audit_db: str | None,
    review_schema: str,
    actor: str | None,
) -> None:
    """Revoke the token NAME; requests carrying it are refused at once."""
    from trustwatch.api.tokens import TokenFile

    if not TokenFile(tokens).revoke(name):
        raise ConfigError(
            f"no token named {name[:80]!r}; hint: `trustwatch serve token list`"
        )
    _audit(audit_db, review_schema, actor, "token.revoke", name, "")
    errors.print(f"token {clean(name)} revoked")
