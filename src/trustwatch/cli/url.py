"""``trustwatch url``: score URLs from the string alone, with reasons.

Nothing is fetched or resolved: the score comes from the URL's text, the brand
catalogue and, when given, threat-intel files.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import msgspec

from trustwatch.brands import find_impersonation
from trustwatch.cli.render import clean, output_console
from trustwatch.detectors.url_heuristics import url_risk
from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidUrlError
from trustwatch.intel.store import IndicatorStore

__all__ = ["UrlScore", "score_url", "url"]

console = output_console()


class UrlScore(msgspec.Struct, frozen=True, kw_only=True):
    """What trustwatch can say about one URL from its text."""

    input: str
    url: str | None = None
    registrable_domain: str | None = None
    score: float | None = None
    reasons: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    intel: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    error: str | None = None


def score_url(raw: str, intel: IndicatorStore | None = None) -> UrlScore:
    """Score one URL with the heuristic baseline, brands and optional intel."""
    try:
        parsed = parse_url(raw)
    except InvalidUrlError as exc:
        return UrlScore(input=raw, error=str(exc))
    score, fired = url_risk(parsed)
    listed: tuple[str, ...] = ()
    if intel is not None:
        matches = intel.match_url(parsed)
        listed = tuple(f"{m.matched_on} listed by {m.indicator.feed}" for m in matches)
    return UrlScore(
        input=raw,
        url=parsed.url,
        registrable_domain=parsed.registrable_domain,
        score=round(score, 4),
        reasons=tuple(reason for _, reason in fired),
        brands=tuple(
            f"{hit.brand}: {hit.technique} ({hit.evidence})"
            for hit in find_impersonation(parsed)
        ),
        intel=listed,
        flags=tuple(sorted(parsed.flags)),
    )


@click.group()
def url() -> None:
    """Work with URLs: score them from the string alone."""


@url.command("score")
@click.argument("urls", nargs=-1, required=True)
@click.option("--intel", "intel_paths", multiple=True, help="Threat-intel files.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
def score(urls: Sequence[str], intel_paths: Sequence[str], as_json: bool) -> None:
    """Score URLS with the heuristic baseline and the brand catalogue.

    The score is the weighted-rule baseline, not yet a calibrated probability;
    nothing is fetched or resolved.
    """
    store = None
    if intel_paths:
        from trustwatch.runtime.embedded import load_intel

        store = load_intel(intel_paths).store
    results = [score_url(raw, store) for raw in urls]
    if as_json:
        encode = msgspec.json.Encoder().encode
        for result in results:
            sys.stdout.write(encode(result).decode() + "\n")
    else:
        for result in results:
            _show(result)
    if any(result.error for result in results):
        raise InvalidUrlError("some inputs are not URLs a browser would load")


def _show(result: UrlScore) -> None:
    if result.error:
        console.print(f"{clean(result.input)}: not a URL: {clean(result.error)}")
        return
    console.print(f"{clean(result.url)}  score {result.score:.2f}")
    for line in (*result.intel, *result.brands, *result.reasons):
        console.print(f"  - {clean(line)}")
    if result.flags:
        console.print(f"  flags: {', '.join(result.flags)}")
