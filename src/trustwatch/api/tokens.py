"""API tokens: random, shown once, kept only as SHA-256 digests.

The token file is JSON: ``{"tokens": [{"name", "role", "sha256",
"created_at"}]}``. A token is ``tw_`` and 43 URL-safe characters (256 random
bits), so a digest without salt is safe to keep: nobody can guess back from
it. The file is written atomically with mode 0600. Changes hold an exclusive
lock on a ``.lock`` file beside it and read the file again inside the lock,
so that two changes at once (API requests on several threads, or the command
line beside a running server) never undo each other.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeAlias, get_args

from trustwatch.errors import ConfigError
from trustwatch.text import name_key

__all__ = [
    "ROLES",
    "LastAdminToken",
    "Role",
    "StoredToken",
    "TokenExists",
    "TokenFile",
    "check_name",
    "principal_key",
    "token_digest",
]

Role: TypeAlias = Literal["viewer", "analyst", "admin"]
#: Roles from least to most allowed.
ROLES: tuple[Role, ...] = get_args(Role)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_PREFIX = "tw_"


class TokenExists(ConfigError):
    """A token of that name is already in the file."""


class LastAdminToken(ConfigError):
    """Removing the token would leave no admin token."""


def principal_key(name: str) -> str:
    """Return the form two principal names are compared in
    (:func:`~trustwatch.text.name_key`): names that look alike on screen get
    one key."""
    return name_key(name)


def check_name(name: str) -> str:
    """Return ``name`` if it may name a token, else raise :class:`ConfigError`."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"token name {name[:80]!r} is not usable; hint: 1-64 letters, digits, "
            "'_', '.', '@' or '-', starting with a letter or digit"
        )
    return name


def check_role(role: str) -> Role:
    """Return ``role`` as a :data:`Role`, else raise :class:`ConfigError`."""
    if role not in ROLES:
        raise ConfigError(f"role {role[:40]!r} is unknown; hint: one of {ROLES}")
    return role


def token_digest(token: str) -> str:
    """Return the hex SHA-256 of a token, the only form that is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredToken:
    """One token as the file keeps it: never the token itself."""

    name: str
    role: Role
    sha256: str
    created_at: str


class TokenFile:
    """The API tokens of one service, in one JSON file.

    Parameters
    ----------
    path
        The file; a missing file holds no tokens until one is added.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._cached: tuple[tuple[int, int, int, int], list[StoredToken]] | None = None

    def tokens(self) -> list[StoredToken]:
        """Return the stored tokens (names, roles, digests), oldest first.

        The file is read again whenever it changed (every write replaces it),
        so a revoked token is refused from the next request on.
        """
        stamp = self._stamp()
        if stamp is None:
            return []
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return list(cached[1])
        found = self._read()
        self._cached = (stamp, found)
        return list(found)

    def _stamp(self) -> tuple[int, int, int, int] | None:
        """The file's identity and change time; ``None`` when it is missing."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read token file {self.path}: {exc}") from exc
        return (status.st_ino, status.st_mtime_ns, status.st_ctime_ns, status.st_size)

    def _read(self) -> list[StoredToken]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigError(f"cannot read token file {self.path}: {exc}") from exc
        try:
            rows = json.loads(text)["tokens"]
            found = [
                StoredToken(
                    name=check_name(str(row["name"])),
                    role=check_role(str(row["role"])),
                    sha256=str(row["sha256"]),
                    created_at=str(row["created_at"]),
                )
                for row in rows
            ]
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            # RecursionError: nesting deeper than the parser goes
            raise ConfigError(
                f"token file {self.path} is damaged ({type(exc).__name__}); hint: "
                "create a new one with `trustwatch serve token add`"
            ) from exc
        if any(len(t.sha256) != 64 for t in found):
            raise ConfigError(
                f"token file {self.path} holds a digest that is not SHA-256; "
                "hint: create a new one with `trustwatch serve token add`"
            )
        return found

    def add(self, name: str, role: str, now: datetime | None = None) -> str:
        """Create a token, store its digest, and return the token (shown once).

        Raises
        ------
        TokenExists
            When a token of that name is in the file.
        ConfigError
            When the name is not usable, the role is unknown, or the file
            cannot be written.
        """
        return self.issue(name, role, now)[0]

    def issue(
        self, name: str, role: str, now: datetime | None = None
    ) -> tuple[str, StoredToken]:
        """:meth:`add`, returning the token and what the file keeps of it."""
        check_name(name)
        checked_role = check_role(role)
        key = principal_key(name)
        with self._changing() as stored:
            taken = next((t.name for t in stored if principal_key(t.name) == key), None)
            if taken is not None:
                alike = "" if taken == name else f" ({taken!r} differs only in case)"
                raise TokenExists(
                    f"a token named {name!r} exists{alike}; hint: revoke it first "
                    f"with `trustwatch serve token revoke {taken}`"
                )
            token = _PREFIX + secrets.token_urlsafe(32)
            created = (now or datetime.now(UTC)).isoformat(timespec="seconds")
            kept = StoredToken(name, checked_role, token_digest(token), created)
            self._write([*stored, kept])
        return token, kept

    def revoke(self, name: str, *, keep_an_admin: bool = False) -> bool:
        """Remove the token ``name``; return whether there was one.

        With ``keep_an_admin``, the last admin token is not removed (checked
        under the file's lock, so two admins revoking each other at once
        cannot both succeed).

        Raises
        ------
        LastAdminToken
            When ``keep_an_admin`` is set and ``name`` is the last admin token.
        """
        with self._changing() as stored:
            kept = [t for t in stored if t.name != name]
            if len(kept) == len(stored):
                return False
            admins_left = any(t.role == "admin" for t in kept)
            if keep_an_admin and not admins_left:
                raise LastAdminToken(
                    f"{name} is the last admin token; hint: add another admin "
                    "token first"
                )
            self._write(kept)
        return True

    @contextmanager
    def _changing(self) -> Iterator[list[StoredToken]]:
        """Hold the file's lock; yield its tokens as they are now."""
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot lock token file {self.path}: {exc}") from exc
        try:
            # one open file each: threads of one process exclude each other too
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield self._read()
        finally:
            os.close(handle)  # closing releases the lock

    def verify(self, token: str) -> StoredToken | None:
        """Return the stored token that ``token`` is, or ``None``.

        Every stored digest is compared in constant time, so the time taken
        says nothing about which digest came close.
        """
        digest = token_digest(token)
        found: StoredToken | None = None
        for stored in self.tokens():
            if hmac.compare_digest(digest, stored.sha256):
                found = stored
        return found

    def _write(self, tokens: list[StoredToken]) -> None:
        body = {
            "tokens": [
                {
                    "name": t.name,
                    "role": t.role,
                    "sha256": t.sha256,
                    "created_at": t.created_at,
                }
                for t in tokens
            ]
        }
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".tokens-", dir=folder)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(body, out, indent=2)
                    out.write("\n")
                os.chmod(temporary, 0o600)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise ConfigError(f"cannot write token file {self.path}: {exc}") from exc
        stamp = self._stamp()
        self._cached = (stamp, list(tokens)) if stamp is not None else None
