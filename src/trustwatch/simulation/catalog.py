"""Vocabulary of the simulated platform: browsers, names and kinds of files.

Everything here is invented or generic. User-agent strings follow the formats
that current browsers send (Chrome's reduced UA, Safari's frozen iOS version),
so a UA parser sees ordinary traffic; attack tooling sends its own strings.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ATTACK_USER_AGENTS",
    "DESKTOP_USER_AGENTS",
    "EMAIL_DOMAINS",
    "FILE_KINDS",
    "FIRST_NAMES",
    "LAST_NAMES",
    "MOBILE_USER_AGENTS",
    "SHARE_BASE_URL",
    "FileKind",
]

SHARE_BASE_URL = "https://share.trustwatch.example/s/"
"""Prefix of the platform's shared-link URLs; the link id follows."""

_CHROME = (
    "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36"
)
_EDGE = _CHROME + " Edg/{v}.0.0.0"
_FIREFOX = "Mozilla/5.0 ({os}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/{v} Safari/605.1.15"
)
_WINDOWS = "Windows NT 10.0; Win64; x64"
_MAC = "Macintosh; Intel Mac OS X 10_15_7"

DESKTOP_USER_AGENTS: tuple[str, ...] = (
    *(_CHROME.format(os=_WINDOWS, v=v) for v in (140, 141, 142)),
    *(_CHROME.format(os=_MAC, v=v) for v in (141, 142)),
    _CHROME.format(os="X11; Linux x86_64", v=142),
    *(_EDGE.format(os=_WINDOWS, v=v) for v in (141, 142)),
    *(_FIREFOX.format(os=_WINDOWS, v=v) for v in (144, 145)),
    _FIREFOX.format(os="Macintosh; Intel Mac OS X 10.15", v=145),
    _FIREFOX.format(os="X11; Ubuntu; Linux x86_64", v=144),
    *(_SAFARI.format(v=v) for v in ("18.6", "26.0", "26.1")),
)
"""Browsers on Windows, macOS and Linux."""

MOBILE_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/142.0.7444.46 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Mobile Safari/537.36 EdgA/142.0.0.0",
    "Mozilla/5.0 (Android 15; Mobile; rv:145.0) Gecko/145.0 Firefox/145.0",
)
"""Browsers on iOS, iPadOS and Android."""

ATTACK_USER_AGENTS: tuple[str, ...] = (
    "python-requests/2.32.3",
    "python-httpx/0.28.1",
    "Go-http-client/1.1",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
)
"""What automated login and posting tools send: libraries and stale browsers."""

FIRST_NAMES: tuple[str, ...] = (
    "ana", "bruno", "carla", "david", "elena", "farid", "grace", "hiro", "ines",
    "jonas", "kavya", "liam", "maria", "nadia", "omar", "paula", "quinn", "rahul",
    "sofia", "tomas", "uma", "victor", "wen", "ximena", "yusuf", "zoe", "alex",
    "beatriz", "chen", "dmitri", "emma", "felix", "giulia", "hana", "ivan",
    "julia", "kenji", "lucas", "mei", "noah", "olga", "pedro", "rosa", "sam",
)  # fmt: skip
"""Given names for synthetic users."""

LAST_NAMES: tuple[str, ...] = (
    "silva", "smith", "muller", "martin", "rossi", "garcia", "kowalski", "sato",
    "kim", "patel", "nguyen", "johnson", "dubois", "jansen", "larsson", "lopez",
    "brown", "schmidt", "tanaka", "singh", "costa", "moreau", "novak", "park",
    "walker", "fischer", "ricci", "santos", "ito", "kumar", "berg", "wilson",
)  # fmt: skip
"""Family names for synthetic users."""

EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com",
    "example.net",
    "example.org",
    "mail.example",
    "corp.example",
)
"""Mail domains of synthetic users and recipients (reserved names only)."""


@dataclass(frozen=True)
class FileKind:
    """A kind of file users upload: name patterns, MIME type and typical size.

    Parameters
    ----------
    names
        ``str.format`` patterns for file names; ``{n}`` is a number.
    mime_type
        The MIME type the platform records.
    median_size
        Median size in bytes (sizes are log-normal around it).
    weight
        Relative frequency among uploads.
    """

    names: tuple[str, ...]
    mime_type: str
    median_size: int
    weight: float


FILE_KINDS: tuple[FileKind, ...] = (
    FileKind(
        ("Report Q{n}.pdf", "invoice_{n}.pdf", "contract_signed_{n}.pdf", "cv.pdf"),
        "application/pdf",
        400_000,
        5.0,
    ),
    FileKind(
        ("IMG_{n}.jpg", "photo_{n}.jpg", "scan_{n}.jpg"),
        "image/jpeg",
        2_500_000,
        6.0,
    ),
    FileKind(("Screenshot {n}.png", "diagram_{n}.png"), "image/png", 600_000, 3.0),
    FileKind(
        ("budget_{n}.xlsx", "timesheet_{n}.xlsx", "inventory.xlsx"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        80_000,
        3.0,
    ),
    FileKind(
        ("notes_{n}.docx", "proposal_v{n}.docx", "minutes.docx"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        60_000,
        4.0,
    ),
    FileKind(
        ("deck_{n}.pptx", "pitch_v{n}.pptx"),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        3_000_000,
        1.5,
    ),
    FileKind(("VID_{n}.mp4", "recording_{n}.mp4"), "video/mp4", 60_000_000, 1.0),
    FileKind(("archive_{n}.zip", "photos_{n}.zip"), "application/zip", 20_000_000, 1.0),
    FileKind(("notes_{n}.txt", "todo.txt"), "text/plain", 4_000, 1.5),
    FileKind(("data_{n}.csv", "export_{n}.csv"), "text/csv", 150_000, 1.0),
)
"""What ordinary users upload."""
