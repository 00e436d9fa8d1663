"""URLs in a plain-text file: a list of links, notes, a saved message.

Only URLs written out with a scheme count (``https://...``), as a reader or a
viewer that makes links of them would follow them; defanged ones
(``hxxp://``, ``[.]``) are left alone, since nobody can follow them. The
bytes are decoded as an HTML page's are: UTF-8, or UTF-16 after its
byte-order mark, anything else replaced and reported.
"""

from __future__ import annotations

import time

from trustwatch.content.html import decode_html
from trustwatch.content.model import Collector
from trustwatch.enrichment.urls import iter_urls

__all__ = ["extract_text"]

#: Schemes a reader's software follows; a defanged ``hxxp://`` is not one.
_FOLLOWED_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "file", "smb"})
_TIME_BUDGET = 3.0  # seconds, as for an HTML page


def extract_text(data: bytes, collector: Collector) -> None:
    """Collect into ``collector`` the URLs written in a plain-text file.

    Reading stops once the collector holds its most URLs, or after the same
    time budget an HTML page has.
    """
    deadline = time.monotonic() + _TIME_BUDGET
    for n, url in enumerate(iter_urls(decode_html(data, collector), refanged=False)):
        if collector.full:
            collector.truncated = True
            return
        if n % 1024 == 1023 and time.monotonic() > deadline:
            collector.error("text_limit", f"time budget spent after {n + 1} URLs")
            collector.truncated = True
            return
        if url.split(":", 1)[0].lower() in _FOLLOWED_SCHEMES:
            collector.add_url(url, "text_url")
