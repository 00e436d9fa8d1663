"""Platform telemetry: typed events, their schema, and readers."""

from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    AccountCreated,
    ApiTokenCreated,
    EmailChanged,
    Event,
    EventBase,
    FileDownloaded,
    FileShared,
    FileUploaded,
    LinkAccessed,
    LinkCreated,
    Login,
    Logout,
    MfaChanged,
    PasswordChanged,
    UrlPosted,
    type_name,
)
from trustwatch.events.parquet import arrow_schema
from trustwatch.events.readers import (
    read_events,
    resolve_inputs,
    write_events_jsonl,
    write_events_parquet,
)
from trustwatch.events.schema import json_schema
from trustwatch.events.sshlog import (
    AuthLogParser,
    AuthLogStats,
    parse_auth_log,
    read_auth_log,
)
from trustwatch.events.timestamps import parse_timestamp, parse_timestamp_flags

__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "AccountCreated",
    "ApiTokenCreated",
    "AuthLogParser",
    "AuthLogStats",
    "DeadLetter",
    "EmailChanged",
    "Event",
    "EventBase",
    "EventDecoder",
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
    "arrow_schema",
    "json_schema",
    "parse_auth_log",
    "parse_timestamp",
    "parse_timestamp_flags",
    "read_auth_log",
    "read_events",
    "resolve_inputs",
    "type_name",
    "write_events_jsonl",
    "write_events_parquet",
]
