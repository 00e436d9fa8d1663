"""Typed, versioned records of the platform's telemetry.

Every event carries a timezone-aware timestamp, a unique ``event_id``, the acting
``account`` and, where they exist, the source ``ip`` and ``user_agent``. The
``type`` field tags the record; :data:`Event` is the union of all of them.
Records are immutable :class:`msgspec.Struct` values, so decoding a JSON line
costs about a microsecond.

``SCHEMA_VERSION`` is written into each record as ``v``. A reader accepts every
version up to the current one; a record from a newer writer is a dead letter
with reason ``"schema"``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeAlias

import msgspec

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "AccountCreated",
    "ApiTokenCreated",
    "EmailChanged",
    "Event",
    "EventBase",
    "FileDownloaded",
    "FileShared",
    "FileUploaded",
    "LinkAccessed",
    "LinkCreated",
    "Login",
    "Logout",
    "MfaChanged",
    "PasswordChanged",
    "UrlPosted",
    "type_name",
]

SCHEMA_VERSION = 1

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
#: URLs get room: real phishing URLs run to thousands of characters.
UrlText = Annotated[str, msgspec.Meta(min_length=1, max_length=32_768)]
#: Content hashes, hex digits in either case (readers lowercase them). No
#: description here: a described type has no Arrow column type.
Sha256Hex = Annotated[str, msgspec.Meta(pattern="^[0-9A-Fa-f]{64}$")]
Sha1Hex = Annotated[str, msgspec.Meta(pattern="^[0-9A-Fa-f]{40}$")]
Md5Hex = Annotated[str, msgspec.Meta(pattern="^[0-9A-Fa-f]{32}$")]
TlshDigest = Annotated[str, msgspec.Meta(pattern="^(?:[Tt]1)?[0-9A-Fa-f]{70,72}$")]
SsdeepDigest = Annotated[
    str,
    msgspec.Meta(pattern="^[0-9]{1,10}:[0-9A-Za-z+/]*:[0-9A-Za-z+/]*$", max_length=512),
]


class EventBase(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    tag_field="type",
    forbid_unknown_fields=False,
    omit_defaults=True,
):
    """Fields every event has."""

    event_id: NonEmpty
    ts: AwareDatetime
    account: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    device_id: str | None = None
    session_id: str | None = None
    v: int = SCHEMA_VERSION


LoginMethod: TypeAlias = Literal[
    "password", "sso", "oauth", "passkey", "token", "publickey", "other"
]


class Login(EventBase, tag="login", frozen=True):
    """A login attempt, successful or not.

    ``username`` is the name the client presented; it differs from ``account``
    when the name does not exist (``account`` is then ``None``).
    """

    success: bool
    method: LoginMethod = "password"
    mfa: bool = False
    username: str | None = None
    failure_reason: str | None = None


class Logout(EventBase, tag="logout", frozen=True):
    """A session ended."""


class AccountCreated(EventBase, tag="account_created", frozen=True):
    """A new account signed up."""

    email: str | None = None


class PasswordChanged(EventBase, tag="password_changed", frozen=True):
    """The account's password was changed or reset."""

    via_recovery: bool = False


class EmailChanged(EventBase, tag="email_changed", frozen=True):
    """The account's email address was changed."""

    new_email: str | None = None


class MfaChanged(EventBase, tag="mfa_changed", frozen=True):
    """A second factor was added, removed or reset."""

    change: Literal["enabled", "disabled", "reset", "device_added"] = "enabled"


class ApiTokenCreated(EventBase, tag="api_token_created", frozen=True):
    """An API token was minted for the account."""

    token_id: str | None = None
    scopes: tuple[str, ...] = ()


class FileUploaded(EventBase, tag="file_uploaded", frozen=True):
    """A file landed on the platform.

    ``sha256``, ``sha1`` and ``md5`` are hex digits of the right length in
    either case, when present. ``tlsh`` and ``ssdeep`` are fuzzy hashes of
    the content, when the platform computes them at upload: near-identical
    files have near hashes. A hash of the wrong form makes the record a dead
    letter with reason ``"schema"``.
    """

    file_id: NonEmpty
    name: str | None = None
    size: Annotated[int, msgspec.Meta(ge=0)] | None = None
    mime_type: str | None = None
    sha256: Sha256Hex | None = None
    sha1: Sha1Hex | None = None
    md5: Md5Hex | None = None
    tlsh: TlshDigest | None = None
    ssdeep: SsdeepDigest | None = None


class FileShared(EventBase, tag="file_shared", frozen=True):
    """A file was shared directly with other accounts or addresses."""

    file_id: NonEmpty
    recipients: tuple[str, ...] = ()


class LinkCreated(EventBase, tag="link_created", frozen=True):
    """A shared link to a file or folder was created."""

    link_id: NonEmpty
    file_id: str | None = None
    url: UrlText | None = None
    public: bool = True


class LinkAccessed(EventBase, tag="link_accessed", frozen=True):
    """Somebody opened a shared link (``account`` is ``None`` when anonymous)."""

    link_id: NonEmpty
    file_id: str | None = None


class FileDownloaded(EventBase, tag="file_downloaded", frozen=True):
    """A file was downloaded, directly or through a link."""

    file_id: NonEmpty
    link_id: str | None = None


class UrlPosted(EventBase, tag="url_posted", frozen=True):
    """A URL appeared in user content: a comment, a preview or a document."""

    url: UrlText
    context: Literal["comment", "preview", "document", "link", "other"] = "comment"
    file_id: str | None = None


Event: TypeAlias = (
    Login
    | Logout
    | AccountCreated
    | PasswordChanged
    | EmailChanged
    | MfaChanged
    | ApiTokenCreated
    | FileUploaded
    | FileShared
    | LinkCreated
    | LinkAccessed
    | FileDownloaded
    | UrlPosted
)

EVENT_TYPES: dict[str, type[EventBase]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (
        Login,
        Logout,
        AccountCreated,
        PasswordChanged,
        EmailChanged,
        MfaChanged,
        ApiTokenCreated,
        FileUploaded,
        FileShared,
        LinkCreated,
        LinkAccessed,
        FileDownloaded,
        UrlPosted,
    )
}


def type_name(event: EventBase) -> str:
    """Return the ``type`` tag of an event (``"login"``, ``"file_uploaded"``...)."""
    return str(type(event).__struct_config__.tag)
