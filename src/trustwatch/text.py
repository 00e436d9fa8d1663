"""Untrusted text made safe to show: control and format characters escaped.

Account names, URLs, reasons and feed names can come from an attacker. A
terminal escape, a bidi override (U+202E), a zero-width mark or a NUL would
change what an analyst sees; :func:`visible_text` turns each into a visible
``\\x1b`` or ``\\u202e`` escape. The command line and the web console both
use it, so the two show the same text.
"""

from __future__ import annotations

import unicodedata

__all__ = ["visible_text"]

#: Unicode categories shown as escapes: controls, formats (bidi, zero-width),
#: surrogates, private use, unassigned, and line or paragraph separators.
UNSAFE_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def visible_text(value: object) -> str:
    """Return ``value`` as text with every unprintable character escaped.

    Examples
    --------
    >>> visible_text("ab\\u202ecd\\x00")
    'ab\\\\u202ecd\\\\x00'
    """
    text = str(value)
    if text.isprintable():
        return text
    return "".join(
        c
        if c == " " or unicodedata.category(c) not in UNSAFE_CATEGORIES
        else _escape(c)
        for c in text
    )


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
