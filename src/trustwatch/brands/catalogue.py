"""The brand catalogue: brands phishers imitate and the domains they really own.

A :class:`Brand` has a stable key (``"paypal"``), a display name, its
legitimate registrable domains and two kinds of match tokens:

``tokens``
    Distinctive names of four or more characters (``"paypal"``,
    ``"bankofamerica"``); they are looked for inside host labels and paths.
``labels``
    Names that are ordinary words or too short to search for inside other text
    (``"ups"``, ``"orange"``); they count only when a whole host label equals
    them.

The shipped catalogue is ``catalogue.json`` in this package, derived data
built by :func:`trustwatch.brands.build.build_catalogue`; :func:`load_catalogue`
reads it once.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from trustwatch.errors import ConfigError

__all__ = [
    "MIN_TOKEN_CHARS",
    "Brand",
    "Catalogue",
    "catalogue_from_dict",
    "catalogue_to_dict",
    "load_catalogue",
]

logger = logging.getLogger(__name__)

#: Shortest token searched for inside other text; shorter names must be labels.
MIN_TOKEN_CHARS = 4

_KEY = re.compile(r"[a-z0-9]+\Z")
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_DOMAIN = re.compile(r"(?:[a-z0-9-]+\.)+[a-z0-9-]+\Z")
_FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Brand:
    """One brand, its legitimate registrable domains and its match tokens.

    Attributes
    ----------
    key
        Stable lowercase ASCII id, e.g. ``"paypal"``.
    name
        Display name, e.g. ``"PayPal"``.
    domains
        Registrable domains the brand owns, ASCII, e.g. ``("paypal.com",)``.
    tokens
        Names of at least :data:`MIN_TOKEN_CHARS` characters searched for
        inside labels and paths.
    labels
        Names that match only a whole host label.
    """

    key: str
    name: str
    domains: tuple[str, ...]
    tokens: tuple[str, ...]
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check the key, domains and tokens, naming the bad value."""
        if not _KEY.match(self.key):
            raise ConfigError(
                f"brand key {self.key!r} is not a lowercase ASCII token; "
                "use letters and digits only"
            )
        for domain in self.domains:
            if not _DOMAIN.match(domain):
                raise ConfigError(
                    f"brand {self.key!r}: domain {domain!r} is not a lowercase "
                    "ASCII registrable domain; write A-labels without a scheme"
                )
        _check_tokens(self.key, self.tokens, self.labels)


def _check_tokens(key: str, tokens: tuple[str, ...], labels: tuple[str, ...]) -> None:
    """Raise :class:`ConfigError` for a token that is too short or not a token."""
    if not tokens and not labels:
        raise ConfigError(f"brand {key!r} has no tokens or labels; add its name")
    for token in (*tokens, *labels):
        if not _TOKEN.match(token):
            raise ConfigError(
                f"brand {key!r}: token {token!r} is not lowercase ASCII letters, "
                "digits and inner hyphens"
            )
    for token in tokens:
        if len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"brand {key!r}: token {token!r} is shorter than "
                f"{MIN_TOKEN_CHARS} characters; list it under labels instead"
            )


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A set of brands, with the provenance of the data it was built from.

    Attributes
    ----------
    brands
        The brands, sorted by key.
    sources
        One mapping per source dataset (``name``, ``licence`` and so on).
    """

    brands: tuple[Brand, ...]
    sources: tuple[dict[str, str], ...] = ()
    _by_key: dict[str, Brand] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the brands by key and refuse duplicate keys."""
        by_key: dict[str, Brand] = {}
        for brand in self.brands:
            if brand.key in by_key:
                raise ConfigError(
                    f"brand key {brand.key!r} appears twice in the catalogue; "
                    "merge the two entries"
                )
            by_key[brand.key] = brand
        object.__setattr__(self, "_by_key", by_key)

    def __len__(self) -> int:
        """Return the number of brands."""
        return len(self.brands)

    def __contains__(self, key: object) -> bool:
        """Say whether a brand key is in the catalogue."""
        return key in self._by_key

    def get(self, key: str) -> Brand | None:
        """Return the brand with this key, or ``None``."""
        return self._by_key.get(key)


def catalogue_to_dict(catalogue: Catalogue) -> dict[str, Any]:
    """Return the JSON-ready form of a catalogue (the ``catalogue.json`` layout)."""
    return {
        "format": _FORMAT_VERSION,
        "sources": [dict(source) for source in catalogue.sources],
        "brands": [
            {
                "key": brand.key,
                "name": brand.name,
                "domains": list(brand.domains),
                "tokens": list(brand.tokens),
                "labels": list(brand.labels),
            }
            for brand in catalogue.brands
        ],
    }


def catalogue_from_dict(data: dict[str, Any]) -> Catalogue:
    """Build a catalogue from its JSON form.

    Parameters
    ----------
    data
        A mapping in the layout :func:`catalogue_to_dict` writes.

    Returns
    -------
    Catalogue
        The catalogue.

    Raises
    ------
    trustwatch.errors.ConfigError
        When the format version is unknown or an entry is invalid.
    """
    if data.get("format") != _FORMAT_VERSION:
        raise ConfigError(
            f"brand catalogue format {data.get('format')!r} is not supported; "
            f"expected {_FORMAT_VERSION}, rebuild it with build_catalogue"
        )
    try:
        brands = tuple(
            Brand(
                key=entry["key"],
                name=entry["name"],
                domains=tuple(entry["domains"]),
                tokens=tuple(entry["tokens"]),
                labels=tuple(entry.get("labels", ())),
            )
            for entry in data["brands"]
        )
    except (KeyError, TypeError) as error:
        raise ConfigError(
            f"brand catalogue entry is missing or has a bad field {error}; "
            "each brand needs key, name, domains and tokens"
        ) from error
    sources = tuple(dict(source) for source in data.get("sources", ()))
    return Catalogue(brands=tuple(sorted(brands, key=lambda b: b.key)), sources=sources)


@cache
def load_catalogue() -> Catalogue:
    """Return the catalogue shipped with trustwatch, read once.

    Returns
    -------
    Catalogue
        The brands of the packaged ``catalogue.json``.

    Examples
    --------
    >>> "paypal" in load_catalogue()
    True
    """
    text = (
        resources.files("trustwatch.brands")
        .joinpath("catalogue.json")
        .read_text("utf-8")
    )
    catalogue = catalogue_from_dict(json.loads(text))
    logger.info("loaded brand catalogue with %d brands", len(catalogue))
    return catalogue
