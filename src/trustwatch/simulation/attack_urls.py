"""Synthetic phishing and malware-download URLs for simulated attacks.

Every host name produced here is **invented by the generator**: it always
embeds a random token drawn from the run's seeded generator, so it names no
real site (a brand look-alike such as ``secure-paypa1-k3x9q.com`` is a made-up
registrable domain, and ``paypa1-verify-8fz2.web.app`` is a made-up tenant of a
real hosting suffix, the shape most current phishing takes). Address literals
stay inside the documentation ranges 203.0.113.0/24 (phishing) and
198.51.100.0/24 (malware) of RFC 5737. Nothing is ever resolved or fetched.

The shapes mirror what public feeds show: brand look-alikes on cheap TLDs,
kits on free site builders and serverless hosts, bare-IP kits, and botnet
loaders served as ``http://<ip>:<port>/bin.sh``.
"""

from __future__ import annotations

from random import Random

from trustwatch.simulation.ids import hex_token, token

__all__ = [
    "BRANDS",
    "FREE_HOSTING_SUFFIXES",
    "malware_url",
    "phishing_url",
]

BRANDS: dict[str, tuple[str, ...]] = {
    "paypal": ("paypal", "paypa1", "pay-pal", "paypall"),
    "microsoft": ("microsoft", "micros0ft", "rnicrosoft", "office365", "outlook"),
    "apple": ("apple", "app1e", "icloud", "appleid"),
    "amazon": ("amazon", "amaz0n", "arnazon"),
    "netflix": ("netflix", "netf1ix", "netflx"),
    "dhl": ("dhl", "dhl-express", "dhI"),
    "chase": ("chase", "chase-bank", "chse"),
    "docusign": ("docusign", "docu-sign", "d0cusign"),
    "facebook": ("facebook", "faceb00k", "meta-support"),
    "instagram": ("instagram", "lnstagram"),
    "dropbox": ("dropbox", "dr0pbox"),
    "coinbase": ("coinbase", "c0inbase"),
}
"""Brands phishing kits imitate, with look-alike spellings of each."""

FREE_HOSTING_SUFFIXES: tuple[str, ...] = (
    "weeblysite.com",
    "web.app",
    "firebaseapp.com",
    "pages.dev",
    "netlify.app",
    "vercel.app",
    "github.io",
    "glitch.me",
    "r2.dev",
    "blogspot.com",
)
"""Hosting suffixes under which anyone can claim a subdomain."""

_WORDS = (
    "secure", "login", "verify", "account", "update", "signin", "auth",
    "support", "billing", "confirm", "service", "wallet", "recovery", "alert",
)  # fmt: skip
_TLDS = (
    "com", "net", "info", "xyz", "top", "online", "site", "live", "shop",
    "click", "icu", "buzz", "cfd", "sbs",
)  # fmt: skip
_PHISH_PATHS = (
    "/",
    "/login",
    "/signin/verify.php",
    "/account/update/",
    "/secure/auth/index.html",
    "/wp-content/plugins/{brand}/login.php",
    "/{brand}/verify",
    "/session/{hex}/confirm",
    "/index.php?id={hex}",
    "/auth/{hex}?email=",
)
_LOADERS = ("bin.sh", "i", "Mozi.m", "x86", "arm7", "mips", "wget.sh", "sh")
_PAYLOADS = (
    ("invoice", "exe"),
    ("Invoice_{n}", "zip"),
    ("setup", "msi"),
    ("update", "ps1"),
    ("document_{n}", "js"),
    ("scan_{n}", "iso"),
    ("payment_advice", "hta"),
    ("photo_{n}", "scr"),
    ("order_{n}", "vbs"),
    ("app-release", "apk"),
)
_DIRS = ("download", "files", "wp-content/uploads/2026/10", "dl", "cdn", "docs")


def phishing_url(rng: Random, brand: str) -> str:
    """Return a new synthetic phishing URL imitating ``brand``.

    Parameters
    ----------
    rng
        The run's generator (the URL is a function of its state).
    brand
        A key of :data:`BRANDS`.
    """
    variant = rng.choice(BRANDS[brand])
    word = rng.choice(_WORDS)
    path = rng.choice(_PHISH_PATHS).format(brand=brand, hex=hex_token(rng, 64))
    shape = rng.random()
    if shape < 0.5:
        return f"https://{_lookalike_host(rng, variant, word)}{path}"
    if shape < 0.8:
        tenant = f"{variant}-{word}-{token(rng, 4, lower=True)}".lower()
        return f"https://{tenant}.{rng.choice(FREE_HOSTING_SUFFIXES)}{path}"
    host = f"203.0.113.{rng.randint(1, 254)}"
    return f"http://{host}/{brand}{path if path != '/' else '/login'}"


def _lookalike_host(rng: Random, variant: str, word: str) -> str:
    tok = token(rng, rng.randint(3, 5), lower=True)
    tld = rng.choice(_TLDS)
    pattern = rng.randrange(3)
    if pattern == 0:
        host = f"{word}-{variant}-{tok}.{tld}"
    elif pattern == 1:
        host = f"{variant}-{word}{tok}.{tld}"
    else:
        # The brand's real domain as a leading label of an invented domain.
        host = f"{variant}.com-{word}-{tok}.{tld}"
    return host.lower()


def malware_url(rng: Random) -> str:
    """Return a new synthetic malware-download URL."""
    shape = rng.random()
    if shape < 0.4:
        port = rng.choice((8080, 8000, 37215, 52869, 60001, rng.randint(30000, 60999)))
        ip = f"198.51.100.{rng.randint(1, 254)}"
        return f"http://{ip}:{port}/{rng.choice(_LOADERS)}"
    stem, ext = rng.choice(_PAYLOADS)
    name = f"{stem.format(n=rng.randint(1000, 99999))}.{ext}"
    if shape < 0.6:
        return f"http://198.51.100.{rng.randint(1, 254)}/{name}"
    if shape < 0.85:
        host = f"{rng.choice(_WORDS)}-{token(rng, 5, lower=True)}.{rng.choice(_TLDS)}"
        return f"http://{host}/{rng.choice(_DIRS)}/{name}"
    tenant = token(rng, 10, lower=True)
    return f"https://{tenant}.{rng.choice(FREE_HOSTING_SUFFIXES)}/{name}"
