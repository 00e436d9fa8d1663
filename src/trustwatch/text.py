"""Untrusted text made safe to show: control and format characters escaped.

Account names, URLs, reasons and feed names can come from an attacker. A
terminal escape, a bidi override (U+202E), a zero-width mark or a NUL would
change what an analyst sees; :func:`visible_text` turns each into a visible
``\\x1b`` or ``\\u202e`` escape. The command line and the web console both
use it, so the two show the same text.
"""

from __future__ import annotations

import unicodedata

__all__ = ["is_invisible", "name_key", "note_lines", "shows_something", "visible_text"]

#: Unicode categories shown as escapes: controls, formats (bidi, zero-width),
#: surrogates, private use, unassigned, and line or paragraph separators.
UNSAFE_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


#: Categories that draw nothing on their own: format, control, unassigned,
#: surrogates, and the marks that only change the letter before them
#: (variation selectors, the combining grapheme joiner, accents alone).
_INVISIBLE = frozenset(("Cf", "Cc", "Cn", "Cs", "Mn", "Me"))
#: Letters and symbols that fonts draw as blank space.
_DRAWN_BLANK = frozenset("\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")


def is_invisible(char: str) -> bool:
    """Whether ``char`` draws nothing by itself (see :func:`shows_something`)."""
    return char in _DRAWN_BLANK or unicodedata.category(char) in _INVISIBLE


def name_key(name: str) -> str:
    """Return the form in which two people's names are compared.

    Compatibility forms folded (NFKC), case folded, and every character
    that draws nothing by itself dropped (:func:`is_invisible`: zero-width
    spaces and joiners, direction marks, variation selectors, combining
    marks, the Hangul filler): names that look alike on screen get one key.
    Letters of other scripts that merely look alike (a Cyrillic ``а``) keep
    their own keys.

    Examples
    --------
    >>> name_key("Analyst\u200b") == name_key("analyst")
    True
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(c for c in folded if not is_invisible(c))


def note_lines(note: str) -> list[str]:
    """Return the lines of an analyst's note as written, tabs as four spaces.

    ``\\r\\n`` and ``\\r`` end lines as ``\\n`` does; each line still needs
    :func:`visible_text` (or the console's escaping) before it is shown.

    Examples
    --------
    >>> note_lines("called\\r\\nthe\\towner")
    ['called', 'the    owner']
    """
    text = note.replace("\r\n", "\n").replace("\r", "\n")
    return [line.replace("\t", "    ") for line in text.split("\n")]


def shows_something(value: str) -> bool:
    """Whether ``value`` holds a character drawn as more than blank space.

    Spaces, format characters (a zero-width space, a byte-order mark), marks
    with no letter to sit on (a variation selector, an accent alone) and
    letters fonts draw blank (the Hangul filler) show nothing: a name or
    reason made only of them reads as empty wherever it is shown.

    Examples
    --------
    >>> shows_something("\u200b \ufeff\ufe0f"), shows_something("ok\u200b")
    (False, True)
    """
    return any(not c.isspace() and not is_invisible(c) for c in value)


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
