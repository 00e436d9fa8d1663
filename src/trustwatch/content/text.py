"""URLs in a plain-text file: a list of links, notes, a saved message.

Only URLs written out with a scheme count (``https://...``), as a reader or a
viewer that makes links of them would follow them; defanged ones
(``hxxp://``, ``[.]``) are left alone, since nobody can follow them. The
bytes are decoded as an HTML page's are: UTF-8, or UTF-16 after its
byte-order mark, anything else replaced and reported.
"""

from __future__ import annotations

from trustwatch.content.html import decode_html
from trustwatch.content.model import Collector
from trustwatch.enrichment.urls import extract_urls

__all__ = ["extract_text"]

#: Schemes a reader's software follows; a defanged ``hxxp://`` is not one.
_FOLLOWED_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "file", "smb"})


def extract_text(data: bytes, collector: Collector) -> None:
    """Collect into ``collector`` the URLs written in a plain-text file."""
    for url in extract_urls(decode_html(data, collector), refanged=False):
        if url.split(":", 1)[0].lower() in _FOLLOWED_SCHEMES:
            collector.add_url(url, "text_url")
