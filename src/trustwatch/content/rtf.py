"""URLs in an RTF document: HYPERLINK fields and URLs written in the text.

RTF is text, so a regular expression over the Latin-1 decoding is enough to
find field instructions and URLs; embedded OLE objects are flagged.
"""

from __future__ import annotations

import re

from trustwatch.content.model import Collector
from trustwatch.enrichment.urls import extract_urls

__all__ = ["extract_rtf"]

_HYPERLINK = re.compile(rb'HYPERLINK\s+(?:\\\\l\s+)?"([^"\\}]{1,4096})"')
_OBJECT = re.compile(rb"\\object\b|\\objdata\b|\\objautlink\b|\\objupdate\b")


def extract_rtf(data: bytes, collector: Collector) -> None:
    """Collect HYPERLINK targets and text URLs of an RTF document.

    Parameters
    ----------
    data
        The file's bytes.
    collector
        Receives the findings and flags.
    """
    if _OBJECT.search(data):
        collector.flag("embedded_objects")
    for match in _HYPERLINK.finditer(data):
        collector.add_url(match.group(1).decode("latin-1"), "rtf_hyperlink")
    for url in extract_urls(data.decode("latin-1")):
        collector.add_url(url.rstrip("\\"), "rtf_text")
