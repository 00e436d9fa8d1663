"""Build the brand catalogue from the phishing feeds and popular-domain lists.

The brands are the targets that PhishTank (column ``target``) and JPCERT/CC
(column ``description``) name at least ``min_count`` times, after the
hand-written aliases of :mod:`trustwatch.brands._overrides` fold spellings into
one key. Each brand's legitimate domains are its hand-written ones plus every
popular domain (Tranco, Cloudflare Radar, Majestic, Cisco Umbrella, from the
MISP warning lists) whose registrable label equals one of its names, or starts
with a name of six or more characters (``paypalobjects.com``).

Only derived facts leave this module: brand names and their official
registrable domains. No feed row and no URL is copied.

From the repository root:

    python -m trustwatch.brands.build ../shared/datasets \\
        src/trustwatch/brands/catalogue.json
"""

from __future__ import annotations

import bisect
import csv
import json
import logging
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from trustwatch.brands._overrides import ALIASES, BRANDS, NOT_OWNED, BrandFacts
from trustwatch.brands.catalogue import (
    MIN_TOKEN_CHARS,
    Brand,
    Catalogue,
    catalogue_to_dict,
)
from trustwatch.enrichment.domains import psl_split
from trustwatch.errors import ConfigError

__all__ = ["DEFAULT_MIN_COUNT", "SOURCES", "brand_counts", "build_catalogue", "main"]

logger = logging.getLogger(__name__)

#: A feed name must be seen this often to become a brand.
DEFAULT_MIN_COUNT = 10

#: Shortest name for which a popular domain that starts with it counts as owned.
_MIN_PREFIX_CHARS = 6

_PHISHTANK = (
    "phishtank-2020-05/DataFiles_2.online-valid.csv",
    "phishtank-2021-03/verified_online.csv",
)
_TOPLISTS = (
    "lists_tranco10k_list.json",
    "lists_cloudflare-top100k_list.json",
    "lists_majestic_million_list.json",
    "lists_cisco_top10k_list.json",
)
_NOT_KEY = re.compile(r"[^a-z0-9]+")

#: The datasets a catalogue is built from, and their terms.
SOURCES: tuple[dict[str, str], ...] = (
    {
        "name": "PhishTank verified-online dumps 2020-05-09 and 2021-03-14",
        "use": "target-brand names and their frequency",
        "licence": "PhishTank data, CC BY-SA 2.5; attribution PhishTank / Cisco Talos",
    },
    {
        "name": "JPCERT/CC phishurl-list 2019-01 to 2023-12",
        "use": "target-brand names and their frequency",
        "licence": "no licence stated; public research dataset, attribute JPCERT/CC",
    },
    {
        "name": "MISP warning lists: Tranco, Cloudflare Radar, Majestic, Umbrella",
        "use": "popular registrable domains named after a brand",
        "licence": "CC0-1.0",
    },
    {
        "name": "trustwatch hand-written aliases and official domains",
        "use": "names that do not reduce to a key; domains without the name",
        "licence": "Apache-2.0",
    },
)


def _read_column(path: Path, column: str) -> Iterator[str]:
    """Yield one column of a CSV file, raising ConfigError when it is missing."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise ConfigError(
                f"{path} has no {column!r} column; is it the right dataset file?"
            )
        for row in reader:
            yield row[column] or ""


def _brand_key(name: str) -> str | None:
    """Return the brand key a feed name stands for, or None to skip it."""
    folded = name.strip().casefold()
    if folded in ALIASES:
        return ALIASES[folded]
    if not folded.isascii():
        return None
    key = _NOT_KEY.sub("", folded.replace("&amp;", "&"))
    return key or None


def brand_counts(datasets: Path) -> tuple[Counter[str], dict[str, str]]:
    """Count feed mentions per brand key.

    Parameters
    ----------
    datasets
        The ``shared/datasets`` folder.

    Returns
    -------
    tuple
        Mentions per key, and the most frequent feed spelling per key.
    """
    names: Counter[str] = Counter()
    for relative in _PHISHTANK:
        names.update(_read_column(datasets / relative, "target"))
    for path in sorted((datasets / "jpcert-phishurl").glob("*.csv")):
        names.update(_read_column(path, "description"))

    counts: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for name, count in names.most_common():
        key = _brand_key(name)
        if key is None:
            continue
        counts[key] += count
        spelling.setdefault(key, name.strip())
    return counts, spelling


def _popular_domains(datasets: Path) -> dict[str, Counter[str]]:
    """Map each registrable label of the popular lists to its domains.

    Each domain counts the lists that hold it (or a host under it).
    """
    by_label: dict[str, Counter[str]] = {}
    for name in _TOPLISTS:
        path = datasets / "misp-warninglists-toplists" / name
        seen: set[str] = set()
        for entry in json.loads(path.read_text(encoding="utf-8"))["list"]:
            suffix, registrable = psl_split(str(entry).strip(".").lower())
            if suffix and registrable != suffix and registrable.isascii():
                seen.add(registrable[: -len(suffix) - 1] + "\t" + registrable)
        for item in seen:
            label, registrable = item.split("\t")
            by_label.setdefault(label, Counter())[registrable] += 1
    return by_label


def _owned_domains(
    names: Iterable[str], by_label: dict[str, Counter[str]], ordered: list[str]
) -> set[str]:
    """Return the popular domains whose label is, or starts with, one of names.

    A domain found by prefix must be on two lists or more: single-list entries
    that merely start with a brand name are too often someone else's, or a
    phishing domain that made the list.
    """
    owned: set[str] = set()
    for name in names:
        owned.update(by_label.get(name, ()))
        if len(name) < _MIN_PREFIX_CHARS:
            continue
        # in the sorted labels, those that start with name form one run
        index = bisect.bisect_right(ordered, name)
        while index < len(ordered) and ordered[index].startswith(name):
            domains = by_label[ordered[index]]
            owned.update(d for d, lists in domains.items() if lists >= 2)
            index += 1
    return owned - NOT_OWNED


def _brand(
    key: str,
    spelling: str,
    facts: BrandFacts | None,
    by_label: dict[str, Counter[str]],
    ordered: list[str],
) -> Brand:
    """Combine the hand-written facts and the popular lists into one brand."""
    facts = facts or BrandFacts(spelling)
    tokens, labels = facts.tokens, facts.labels
    if not tokens and not labels:
        long_enough = len(key) >= MIN_TOKEN_CHARS
        tokens, labels = ((key,), ()) if long_enough else ((), (key,))
    domains = set(facts.domains) | _owned_domains(tokens, by_label, ordered)
    domains |= _owned_domains(labels, by_label, [])
    return Brand(
        key=key,
        name=facts.name,
        domains=tuple(sorted(domains)),
        tokens=tokens,
        labels=labels,
    )


def build_catalogue(datasets: Path, min_count: int = DEFAULT_MIN_COUNT) -> Catalogue:
    """Build the brand catalogue from the datasets folder.

    Parameters
    ----------
    datasets
        The ``shared/datasets`` folder (PhishTank, JPCERT and MISP top lists).
    min_count
        Feed mentions a brand needs to be kept.

    Returns
    -------
    Catalogue
        Brands with at least one known legitimate domain, sorted by key.

    Raises
    ------
    trustwatch.errors.ConfigError
        When a dataset file is missing or lacks its brand column.
    """
    try:
        counts, spelling = brand_counts(datasets)
        by_label = _popular_domains(datasets)
    except FileNotFoundError as error:
        raise ConfigError(
            f"brand dataset {error.filename} is missing; pass the shared/datasets "
            "folder that holds phishtank-*, jpcert-phishurl and the MISP top lists"
        ) from error

    ordered = sorted(by_label)
    brands: list[Brand] = []
    for key, count in counts.items():
        if count < min_count:
            continue
        brand = _brand(key, spelling[key], BRANDS.get(key), by_label, ordered)
        if brand.domains:
            brands.append(brand)
        else:
            logger.info("brand %s has no known domain; left out", key)
    brands.sort(key=lambda b: b.key)
    logger.info("built brand catalogue with %d brands", len(brands))
    return Catalogue(brands=tuple(brands), sources=SOURCES)


def main(argv: list[str]) -> int:
    """Write a freshly built catalogue as JSON: ``build DATASETS OUTPUT``."""
    if len(argv) != 2:
        print("usage: python -m trustwatch.brands.build DATASETS OUTPUT.json")
        return 2
    catalogue = build_catalogue(Path(argv[0]))
    text = json.dumps(catalogue_to_dict(catalogue), ensure_ascii=False, indent=1)
    Path(argv[1]).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
