"""Readers for the third-party files under ``shared/datasets``, read in place.

Each reader returns plain values (URL strings, hash records, session rows) and
never keeps a copy of the data. A missing or unreadable file raises
:class:`~trustwatch.errors.ConfigError` naming it. The malicious entries are
live indicators: they are read as text and never fetched or resolved.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, TypeAlias

from trustwatch.errors import ConfigError

__all__ = [
    "BENIGN_URLS",
    "COWRIE_SESSIONS",
    "HASH_IOCS",
    "LEGIT_SESSIONS",
    "OPENPHISH",
    "OPENSSH_LOG",
    "PHISHTANK_2020",
    "PHISHTANK_2021",
    "URLHAUS",
    "HashAlgorithm",
    "HashIoc",
    "SshSession",
    "open_text",
    "read_hash_iocs",
    "read_openphish",
    "read_phishtank",
    "read_sessions",
    "read_url_lines",
    "read_urlhaus",
]

logger = logging.getLogger(__name__)

OPENSSH_LOG = "loghub-auth/OpenSSH_OpenSSH_2k.log"
COWRIE_SESSIONS = "honeypot-auth-uqo/datasets_cowrie_sessions_20k.csv"
LEGIT_SESSIONS = "honeypot-auth-uqo/datasets_ssh_legitimate_20k.csv"
URLHAUS = "urlhaus-2025-04-21/urlhaus.csv"
PHISHTANK_2021 = "phishtank-2021-03/verified_online.csv"
PHISHTANK_2020 = "phishtank-2020-05/DataFiles_2.online-valid.csv"
OPENPHISH = "openphish-archive/openphish_2024H2.json"
BENIGN_URLS = "iscx-url2016-benign/benign_urls_dev_hosts.csv"
HASH_IOCS = "hashes-signature-base/iocs_hash-iocs.txt"

HashAlgorithm: TypeAlias = Literal["md5", "sha1", "sha256"]
"""Digest algorithms of file-hash indicators."""

_HASH_KINDS: dict[int, HashAlgorithm] = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class HashIoc:
    """One malicious file hash: lowercase hex and its algorithm."""

    value: str
    algorithm: HashAlgorithm


@dataclass(frozen=True)
class SshSession:
    """One row of the UQO honeypot / legitimate SSH session tables.

    ``start`` is the ISO 8601 text of the file; ``gap`` is the mean number of
    seconds between failed logins (0 when there was at most one).
    """

    session_id: str
    start: str
    src_ip: str
    failed: int
    succeeded: int
    gap: float


@contextmanager
def open_text(datasets: Path, relative: str) -> Iterator[IO[str]]:
    """Open ``datasets/relative`` as UTF-8 text, or raise a clear ConfigError."""
    path = datasets / relative
    try:
        handle = path.open(encoding="utf-8", errors="replace", newline="")
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}; hint: pass the shared/datasets "
            "folder that holds it"
        ) from exc
    with handle:
        yield handle


def read_urlhaus(datasets: Path) -> list[str]:
    """Return the URLs of the URLhaus ``csv_online`` dump, in file order."""
    with open_text(datasets, URLHAUS) as handle:
        lines = (line for line in handle if not line.startswith("#"))
        return [row["url"] for row in csv.DictReader(lines) if row.get("url")]


def read_phishtank(datasets: Path, relative: str) -> list[str]:
    """Return the ``url`` column of a PhishTank dump (never the detail URL)."""
    with open_text(datasets, relative) as handle:
        return [row["url"] for row in csv.DictReader(handle) if row.get("url")]


def read_openphish(datasets: Path) -> list[str]:
    """Return the URLs of the OpenPhish archive (a JSON object keyed by URL)."""
    with open_text(datasets, OPENPHISH) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{datasets / OPENPHISH} is not valid JSON at line {exc.lineno}; "
                "hint: restore the file from its source"
            ) from exc
    return [url for url in data if isinstance(url, str) and url]


def read_url_lines(datasets: Path, relative: str) -> list[str]:
    """Return the non-blank lines of a one-URL-per-line file."""
    with open_text(datasets, relative) as handle:
        return [s for s in (line.strip() for line in handle) if s]


def read_hash_iocs(datasets: Path) -> list[HashIoc]:
    """Return the hashes of a ``HASH;COMMENT`` IOC file, typed by length.

    Comment lines, blank lines and values that are not MD5, SHA-1 or SHA-256
    hex are skipped; duplicates keep their first occurrence.
    """
    seen: dict[str, HashIoc] = {}
    with open_text(datasets, HASH_IOCS) as handle:
        for line in handle:
            value = line.split(";", 1)[0].strip().lower()
            kind = _HASH_KINDS.get(len(value))
            if kind is None or line.startswith("#") or not set(value) <= _HEX:
                continue
            seen.setdefault(value, HashIoc(value, kind))
    return list(seen.values())


def read_sessions(datasets: Path, relative: str) -> list[SshSession]:
    """Return the rows of a UQO session table that have a source and a start."""
    sessions = []
    with open_text(datasets, relative) as handle:
        for row in csv.DictReader(handle):
            if not row.get("src_ip") or not row.get("start_time"):
                continue
            sessions.append(
                SshSession(
                    session_id=row["session_id"],
                    start=row["start_time"],
                    src_ip=row["src_ip"],
                    failed=int(row.get("login_failed") or 0),
                    succeeded=int(row.get("login_success") or 0),
                    gap=float(row.get("avg_time_between_failed") or 0.0),
                )
            )
    logger.debug("read %d sessions from %s", len(sessions), relative)
    return sessions
