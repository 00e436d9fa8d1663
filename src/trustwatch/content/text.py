"""URLs in a plain-text file: a list of links, notes, a saved message.

Only URLs written out with a scheme count (``https://...``), as a reader or a
viewer that makes links of them would follow them; defanged ones
(``hxxp://``, ``[.]``) are left alone, since nobody can follow them. The
bytes are read as UTF-8 (a byte-order mark for UTF-16 is honoured), with
anything else replaced and reported.
"""

from __future__ import annotations

from trustwatch.content.model import Collector
from trustwatch.enrichment.urls import extract_urls

__all__ = ["extract_text"]

#: Schemes a reader's software follows; a defanged ``hxxp://`` is not one.
_FOLLOWED_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "file", "smb"})


def extract_text(data: bytes, collector: Collector) -> None:
    """Collect the URLs written in a plain-text file.

    Parameters
    ----------
    data
        The file's bytes.
    collector
        Receives the URLs, and an error when the bytes are not UTF-8.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            collector.error(
                "invalid_utf8", f"byte {error.start} is not UTF-8; replaced"
            )
            text = data.decode("utf-8", errors="replace")
    for url in extract_urls(text, refanged=False):
        if url.split(":", 1)[0].lower() in _FOLLOWED_SCHEMES:
            collector.add_url(url, "text_url")
