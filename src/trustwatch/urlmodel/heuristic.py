"""A transparent, rule-weighted URL risk score: the baseline for URL models.

Each rule looks at the parsed URL alone (nothing is ever fetched or resolved)
and adds a weight when it fires; the sum goes through a logistic function to a
score in ``[0, 1]``. The rules that fired, heaviest first, are the reasons.

The rules follow what phishing and malware-distribution URLs look like today:
IP-literal hosts, brand impersonation (:mod:`trustwatch.brands`), credential and
payment vocabulary, executable payloads, free hosting and dynamic DNS, parser
tricks (userinfo, backslashes, invisible characters, confusable letters).
A popular domain earns no credit: most phishing now sits on popular hosts.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from trustwatch.brands import find_impersonation
from trustwatch.enrichment.domains import to_unicode
from trustwatch.enrichment.urls import ParsedUrl

__all__ = ["url_risk"]

_TECHNIQUE = {
    "brand_in_subdomain": "brand name in a subdomain of another domain",
    "brand_in_path": "brand name in the path of another domain",
    "typosquat": "misspelt brand domain",
    "homoglyph": "brand spelt with look-alike characters",
    "combosquat": "brand name combined with other words",
    "brand_tld_swap": "brand name on a domain it does not own",
}
_WORDS = (
    "login",
    "signin",
    "sign-in",
    "logon",
    "verify",
    "verification",
    "account",
    "update",
    "secure",
    "security",
    "webscr",
    "banking",
    "confirm",
    "password",
    "wallet",
    "invoice",
    "suspend",
    "unlock",
    "billing",
    "recover",
    "auth",
    "validate",
    "support",
    "payment",
    "refund",
)
_WORD_RE = re.compile("|".join(re.escape(w) for w in _WORDS))
_PAYLOAD_RE = re.compile(
    r"\.(exe|scr|apk|bin|sh|ps1|vbs|jar|msi|dll|bat|cmd|hta|elf|arm7?|mips|x86"
    r"|mpsl|lnk|iso|img)$|/(i|bin\.sh|mozi\.[am])$",
    re.IGNORECASE,
)
_REDIRECT_RE = re.compile(r"=(https?(:|%3a)|%68%74%74%70|www\.)", re.IGNORECASE)
_RISKY_TLDS = frozenset(
    "top xyz tk ml ga cf gq icu zip mov buzz rest cyou sbs click link work "
    "support monster quest cfd bond lat".split()
)
_FREE_HOSTS = frozenset(
    "weebly.com weeblysite.com wixsite.com web.app firebaseapp.com "
    "glitch.me netlify.app vercel.app pages.dev workers.dev github.io "
    "000webhostapp.com blogspot.com duckdns.org ngrok.io ngrok-free.app "
    "herokuapp.com repl.co azurewebsites.net r2.dev ipfs.io square.site "
    "godaddysites.com mystrikingly.com webflow.io framer.app "
    "translate.goog firebasestorage.app appspot.com sharepoint.com "
    "myshopify.com gitbook.io wordpress.com start.page linktr.ee flow.page".split()
)
_SHORTENERS = frozenset(
    "bit.ly tinyurl.com t.co is.gd cutt.ly rb.gy shorturl.at ow.ly buff.ly "
    "rebrand.ly s.id t.ly".split()
)
_PARSER_TRICKS = {
    "deceptive_userinfo": (2.5, "a domain-like name before '@' hides the real host"),
    "userinfo": (1.2, "credentials or a name before '@' in the URL"),
    "backslash": (1.5, "backslashes that browsers read as slashes"),
    "invisible_chars": (2.0, "invisible characters in the host"),
    "percent_encoded_host": (1.5, "percent-encoded host"),
    "nonstandard_ip_notation": (2.0, "IP address written in an unusual notation"),
    "confusable": (2.5, "host made of look-alike letters"),
    "mixed_script": (2.0, "host mixes alphabets"),
    "idn": (0.6, "internationalised (punycode) host"),
}


@lru_cache(maxsize=65_536)
def url_risk(parsed: ParsedUrl) -> tuple[float, tuple[tuple[float, str], ...]]:
    """Score a parsed URL; return the score and the (weight, reason) that fired.

    Examples
    --------
    >>> from trustwatch.enrichment.urls import parse_url
    >>> score, fired = url_risk(parse_url("http://198.51.100.7:8080/bin.sh"))
    >>> round(score, 2), [reason for _, reason in fired][:1]
    (0.92, ['executable or script payload in the path'])
    """
    fired: list[tuple[float, str]] = []
    host, path = parsed.host, parsed.path.lower()
    registrable = parsed.registrable_domain
    if parsed.host_is_ip:
        fired.append((2.0, "IP address instead of a domain name"))
    if parsed.port is not None:
        fired.append((1.0, f"unusual port {parsed.port}"))
    if _PAYLOAD_RE.search(path):
        fired.append((2.5, "executable or script payload in the path"))
    for flag, (weight, reason) in _PARSER_TRICKS.items():
        if flag in parsed.flags:
            fired.append((weight, reason))
    for hit in find_impersonation(parsed)[:1]:
        fired.append((3.0, f"impersonates {hit.brand} ({_TECHNIQUE[hit.technique]})"))
    words = {m.group(0) for m in _WORD_RE.finditer(f"{host}{path}?{parsed.query}")}
    if words:
        fired.append((min(0.6 * len(words), 1.8), _words_reason(words)))
    if not parsed.host_is_ip:
        fired.extend(_host_shape(host, registrable, parsed.public_suffix))
    if _REDIRECT_RE.search(parsed.query):
        fired.append((1.0, "a parameter carries another URL (redirect)"))
    if len(parsed.url) > 120:
        fired.append((0.3, "very long URL"))
    fired.sort(key=lambda item: -item[0])
    total = sum(weight for weight, _ in fired)
    return 1.0 / (1.0 + math.exp(3.0 - total)), tuple(fired)


def _words_reason(words: set[str]) -> str:
    listed = ", ".join(sorted(words)[:3])
    return f"credential or payment words ({listed})"


def _host_shape(host: str, registrable: str, suffix: str) -> list[tuple[float, str]]:
    fired: list[tuple[float, str]] = []
    label = registrable.split(".", 1)[0]
    if label.startswith("xn--"):
        # judge the letters a reader sees, not their punycode spelling
        label = to_unicode(registrable).split(".", 1)[0]
    if registrable in _FREE_HOSTS or _parent_in(host, _FREE_HOSTS):
        fired.append((1.2, "free hosting, site builder or dynamic DNS"))
    if registrable in _SHORTENERS:
        fired.append((0.8, "URL shortener hides the destination"))
    if suffix.rsplit(".", 1)[-1] in _RISKY_TLDS:
        fired.append((1.0, f"top-level domain .{suffix} is common in abuse"))
    depth = host.count(".") - registrable.count(".")
    if depth >= 3:
        fired.append((0.8, f"{depth} levels of subdomains"))
    if label.count("-") >= 2:
        fired.append((0.7, "many hyphens in the domain name"))
    if any(c.isdigit() for c in label) and any(c.isalpha() for c in label):
        fired.append((0.3, "digits mixed into the domain name"))
    if len(host) > 40:
        fired.append((0.5, "very long host name"))
    return fired


def _parent_in(host: str, domains: frozenset[str]) -> bool:
    parts = host.split(".")
    return any(".".join(parts[i:]) in domains for i in range(1, len(parts) - 1))
