"""User-agent strings to browser, OS, device and an automation hint.

Parsing uses ua-parser 1.0 with the uap-core rules bundled in
``ua-parser-builtins``, offline. ua-parser picks its fastest installed resolver
through ``ua_parser.BestAvailableResolver``: the Rust ``ua-parser-rs`` accelerator
(extra ``ua-parser[regex]``), else ``google-re2`` (extra ``ua-parser[re2]``), else
the pure-Python resolver. This module builds its parser the same way, with the
matcher flavour each resolver expects (lazy for the compiled engines, eager for
pure Python), and puts its own LRU cache in front instead of ua-parser's.

Input is cut to :data:`MAX_UA_CHARS` characters before parsing and before the
cache lookup: regular expressions of older uap-core releases backtracked for
seconds on long digit runs (hard case UA-01, GHSA-cmcx-xhr8-3w9p), and a cap
bounds the cost whatever the rules do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache, lru_cache

import ua_parser
from ua_parser import Domain, Parser

__all__ = [
    "MAX_UA_CHARS",
    "UNKNOWN",
    "UserAgentInfo",
    "parse_user_agent",
    "resolver_name",
]

logger = logging.getLogger(__name__)

#: Longest prefix of a user-agent string that is parsed.
MAX_UA_CHARS = 1000

#: Family reported when the rules recognise nothing.
UNKNOWN = "Other"

# Client families of HTTP libraries and tools rather than people's browsers.
_AUTOMATION_FAMILIES = frozenset(
    {
        "apache-httpclient",
        "axios",
        "curl",
        "go-http-client",
        "headlesschrome",
        "java",
        "libwww-perl",
        "masscan",
        "okhttp",
        "phantomjs",
        "postmanruntime",
        "python requests",
        "python-urllib",
        "scrapy",
        "wget",
    }
)
# Tokens of crawlers and tools that the rules do not name.
_AUTOMATION_TOKENS = re.compile(
    r"(?<!cu)bot\b|crawler|spider|slurp|headless|python|aiohttp|httpx|node-fetch"
    r"|zgrab|nuclei|selenium|puppeteer|playwright|scanner",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class UserAgentInfo:
    """What a user-agent string says about the client.

    Attributes
    ----------
    browser
        Browser or client family, e.g. ``"Chrome"``, ``"curl"``; ``"Other"``.
    browser_version
        Dotted version of the browser, ``""`` when unknown.
    os
        Operating system family, e.g. ``"Windows"``, ``"iOS"``; ``"Other"``.
    os_version
        Dotted version of the OS, ``""`` when unknown.
    device
        Device family, e.g. ``"iPhone"``, ``"Spider"``; ``"Other"``.
    is_bot
        Whether the client is a crawler, script or automation tool rather than a
        person's browser, judged from the rules' ``Spider`` device, the client
        family, and tokens such as ``bot``, ``crawler`` or ``headless``.
    """

    browser: str
    browser_version: str
    os: str
    os_version: str
    device: str
    is_bot: bool


_EMPTY = UserAgentInfo(UNKNOWN, "", UNKNOWN, "", UNKNOWN, False)


@cache
def _parser() -> Parser:
    """Build the parser once, with the fastest resolver installed."""
    resolver_class = ua_parser.BestAvailableResolver
    if resolver_class is ua_parser.BasicResolver:
        matchers = ua_parser.load_builtins()
    else:
        matchers = ua_parser.load_lazy_builtins()
    logger.info("user-agent parser uses the %s resolver", resolver_name())
    return Parser(resolver_class(matchers))


def resolver_name() -> str:
    """Name the ua-parser resolver in use: ``"regex"``, ``"re2"`` or ``"basic"``.

    Returns
    -------
    str
        ``"regex"`` is the Rust accelerator, ``"basic"`` pure Python.
    """
    resolver_class = ua_parser.BestAvailableResolver
    return resolver_class.__module__.rpartition(".")[2]


def parse_user_agent(ua: str | None) -> UserAgentInfo:
    """Parse a user-agent string.

    Parameters
    ----------
    ua
        The ``User-Agent`` header value; ``None`` or ``""`` when absent. Only
        the first :data:`MAX_UA_CHARS` characters are read.

    Returns
    -------
    UserAgentInfo
        Families are ``"Other"`` and versions ``""`` for what is not recognised.

    Examples
    --------
    >>> parse_user_agent("curl/8.4.0")
    UserAgentInfo(browser='curl', browser_version='8.4.0', os='Other', \
os_version='', device='Other', is_bot=True)
    """
    if not ua:
        return _EMPTY
    return _parse_capped(ua[:MAX_UA_CHARS])


@lru_cache(maxsize=65536)
def _parse_capped(ua: str) -> UserAgentInfo:
    """Parse an already capped string (cached)."""
    result = _parser()(ua, Domain.ALL)
    agent, system, device = result.user_agent, result.os, result.device
    browser = agent.family if agent else UNKNOWN
    device_family = device.family if device else UNKNOWN
    return UserAgentInfo(
        browser=browser,
        browser_version=_version(agent),
        os=system.family if system else UNKNOWN,
        os_version=_version(system),
        device=device_family,
        is_bot=_is_bot(ua, browser, device_family),
    )


def _version(part: ua_parser.UserAgent | ua_parser.OS | None) -> str:
    """Join the version fields with dots, up to the first missing one."""
    if part is None:
        return ""
    numbers: list[str] = []
    for field in (part.major, part.minor, part.patch, part.patch_minor):
        if not field:
            break
        numbers.append(field)
    return ".".join(numbers)


def _is_bot(ua: str, browser: str, device: str) -> bool:
    """Judge whether the client is automated."""
    if device == "Spider" or browser.lower() in _AUTOMATION_FAMILIES:
        return True
    return _AUTOMATION_TOKENS.search(ua) is not None
