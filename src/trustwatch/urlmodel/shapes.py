"""Ordinary page addresses on popular domains, for the shipped model.

Openly licensed benign data is a list of domains, with no paths; a model
that only ever saw benign home pages would learn that any path is
suspicious. :func:`ordinary_urls` gives popular domains the paths ordinary
sites have (articles, products, searches, profiles, share links, tracking
parameters, and now and then a sign-in page, as real sites do), built from
trustwatch's own word list. The rows are labelled ``synthetic-paths`` in the
data card so nobody mistakes them for observed traffic.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from random import Random

__all__ = ["ordinary_urls"]

_WORDS = """
about account address after all annual apply april art article audio august
autumn beach best blog book books business buy calendar camera car card
care career cars cart catalog category change cheap chicken city class
classic climate cloud club code coffee college color community company
compare contact cooking country course create culture daily data day deal
december design dinner docs download easy economy education election energy
event events family fashion feature features february festival film finance
first food football forum free fresh friday friends front fun game games
garden gift global golf great green guide hair health help history holiday
home hotel house how ideas image images index info insurance january job
jobs july june kids kitchen language latest learn legal library life light
list live local love magazine main make map march market may media medical
meet member men menu mobile money monday month movie movies music national
nature new news night november october office online open opinion order
outdoor page park party people photo photos plan play policy politics post
posts power press price privacy product products program project public
quick radio read recipe recipes report research review reviews run sale
saturday school science search season section september service services
share shop shopping show simple size small social software sport sports
spring start state stories story student study style summer sunday support
system team tech technology terms test thursday time tips today top tour
travel trip tuesday tv update video videos view walk watch water weather
wednesday week weekend welcome who wiki winter women work world year young
""".split()
_SECTIONS = """
news blog article articles products product shop store category c p item
items en de fr es it pt ja docs help support wiki forum forums topic t
user users profile u video videos watch photos gallery events jobs careers
about press media tags tag search collections collection recipes reviews
""".split()
_SOURCES = "newsletter twitter facebook email google partner rss".split()
_MEDIUMS = "social email cpc referral display".split()
_TOKEN = string.ascii_letters + string.digits


_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwzy" for v in "aeiou"] + [
    "sh",
    "ch",
    "ng",
]
_EXTENSIONS = ["html", "htm", "php", "aspx", "asp", "do", "jsp", "cfm", "shtml"]
_PARAMETERS = "id page cat sort q lang ref type p item sid tab mode view".split()


def _word(rng: Random) -> str:
    """An English word or, as often, a made-up one (titles in other languages)."""
    if rng.random() < 0.5:
        return rng.choice(_WORDS)
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 5)))


def _slug(rng: Random) -> str:
    joiner = rng.choice(["-", "-", "_", ""])
    words = [_word(rng) for _ in range(rng.randint(2, 9))]
    if joiner == "":
        words = [w.capitalize() for w in words]
    return joiner.join(words)


def _query(rng: Random) -> str:
    pairs = []
    for name in rng.sample(_PARAMETERS, rng.randint(1, 4)):
        value = rng.choice(
            [str(rng.randint(1, 99_999)), _word(rng), _token(rng, rng.randint(8, 24))]
        )
        pairs.append(f"{name}={value}")
    return "&".join(pairs)


def _token(rng: Random, size: int) -> str:
    return "".join(rng.choice(_TOKEN) for _ in range(size))


def _article(rng: Random, host: str) -> str:
    return f"https://{host}/{rng.choice(_SECTIONS)}/{_slug(rng)}"


def _dated(rng: Random, host: str) -> str:
    year, month = rng.randint(2015, 2026), rng.randint(1, 12)
    ending = rng.choice(["", ".html", "/"])
    return f"https://{host}/{year}/{month:02d}/{_slug(rng)}{ending}"


def _numbered(rng: Random, host: str) -> str:
    section = rng.choice(_SECTIONS)
    return f"https://{host}/{section}/{rng.randint(1, 99_999_999)}"


def _product(rng: Random, host: str) -> str:
    number = rng.randint(100, 999_999)
    return f"https://{host}/{rng.choice(_SECTIONS)}/{_slug(rng)}-{number}"


def _searched(rng: Random, host: str) -> str:
    words = "+".join(_word(rng) for _ in range(rng.randint(1, 4)))
    return f"https://{host}/search?q={words}&page={rng.randint(1, 20)}"


def _tracked(rng: Random, host: str) -> str:
    return (
        f"https://{host}/{rng.choice(_SECTIONS)}/{_slug(rng)}?utm_source="
        f"{rng.choice(_SOURCES)}&utm_medium={rng.choice(_MEDIUMS)}"
    )


def _localised(rng: Random, host: str) -> str:
    language = rng.choice(["en", "en-us", "de", "fr", "es", "ja", "pt-br", "it"])
    return f"https://{host}/{language}/{rng.choice(_SECTIONS)}/"


def _shared(rng: Random, host: str) -> str:
    kind = rng.choice(["s", "d", "f", "file", "share"])
    return f"https://{host}/{kind}/{_token(rng, 15)}"


def _media(rng: Random, host: str) -> str:
    return f"https://{host}/watch?v={_token(rng, 11)}"


def _static(rng: Random, host: str) -> str:
    kind = rng.choice(["jpg", "png", "pdf", "css", "js", "svg", "webp"])
    folder = rng.choice(["static", "assets", "media", "img"])
    return f"https://{host}/{folder}/{_slug(rng)}.{kind}"


def _deep(rng: Random, host: str) -> str:
    parts = [
        rng.choice([_word(rng), str(rng.randint(1, 9999))])
        for _ in range(rng.randint(3, 9))
    ]
    ending = rng.choice(["", "/", f".{rng.choice(_EXTENSIONS)}"])
    return f"https://{host}/{'/'.join(parts)}{ending}"


def _script(rng: Random, host: str) -> str:
    folder = rng.choice(["", f"{rng.choice(_SECTIONS)}/", f"{_word(rng)}/"])
    return (
        f"https://{host}/{folder}{_word(rng)}.{rng.choice(_EXTENSIONS)}?{_query(rng)}"
    )


def _titled(rng: Random, host: str) -> str:
    ending = rng.choice(["", ".html", "/", ".htm", f"-{rng.randint(1, 99_999)}.html"])
    number = rng.randint(1, 999_999)
    return f"https://{host}/{rng.choice(_SECTIONS)}/{number}/{_slug(rng)}{ending}"


def _account(rng: Random, host: str) -> str:
    page = rng.choice(["login", "signin", "account", "account/settings", "register"])
    return f"https://{host}/{page}"


_SHAPES: Sequence[tuple[Callable[[Random, str], str], int]] = (
    (_article, 14),
    (_deep, 10),
    (_script, 12),
    (_titled, 10),
    (_dated, 8),
    (_numbered, 10),
    (_product, 10),
    (_searched, 8),
    (_tracked, 8),
    (_localised, 6),
    (_shared, 6),
    (_media, 4),
    (_static, 8),
    (_account, 3),
)


def ordinary_urls(domains: Sequence[str], count: int, seed: int = 0) -> list[str]:
    """Return ``count`` page addresses on ``domains``, the same for a given seed.

    Each URL takes a domain (with ``www.`` a third of the time), then one of
    the shapes above, chosen by its weight; two in five use plain http.
    """
    rng = Random(seed)
    if not domains:
        return []
    shapes = [shape for shape, _ in _SHAPES]
    weights = [weight for _, weight in _SHAPES]
    urls = []
    for _ in range(count):
        domain = rng.choice(domains)
        host = f"www.{domain}" if rng.random() < 0.33 else domain
        url = rng.choices(shapes, weights)[0](rng, host)
        if rng.random() < 0.4:
            url = "http://" + url.removeprefix("https://")
        urls.append(url)
    return urls
