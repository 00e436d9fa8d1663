"""Unicode tables for host checks: invisible characters, homoglyphs and scripts.

The homoglyph table is a compact, hand-picked subset of the kind of mappings that
Unicode Technical Standard #39 ("Unicode Security Mechanisms", section 4,
confusable detection) publishes in ``confusables.txt``: the Cyrillic, Greek,
Armenian and Latin letters that render like a basic Latin letter in common fonts,
plus the digit and letter-pair look-alikes seen in phishing hosts. It maps towards
the Latin letter a reader would see, so that a skeleton reads like the brand it
imitates.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "HOMOGLYPHS",
    "INVISIBLE",
    "LOOKALIKE_SEQUENCES",
    "mixes_scripts",
    "script_of",
    "skeleton_text",
]

#: Default-ignorable and format characters that render as nothing: soft hyphen,
#: zero-width space/joiners, bidi controls, word joiner, variation selectors,
#: byte-order mark, Hangul fillers, tag characters.
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)

_LOOKALIKES: dict[str, str] = {
    # Cyrillic
    "\u0430": "a",  # а
    "\u0435": "e",  # е
    "\u043a": "k",  # к
    "\u043e": "o",  # о
    "\u0440": "p",  # р
    "\u0441": "c",  # с
    "\u0443": "y",  # у
    "\u0445": "x",  # х
    "\u044c": "b",  # ь
    "\u0455": "s",  # ѕ
    "\u0456": "i",  # і
    "\u0458": "j",  # ј
    "\u04bb": "h",  # һ
    "\u04c0": "l",  # Ӏ palochka
    "\u04cf": "l",  # ӏ small palochka
    "\u0501": "d",  # ԁ
    "\u051b": "q",  # ԛ
    "\u051d": "w",  # ԝ
    # Greek
    "\u03b1": "a",  # α
    "\u03b3": "y",  # γ
    "\u03b5": "e",  # ε
    "\u03b7": "n",  # η
    "\u03b9": "i",  # ι
    "\u03ba": "k",  # κ
    "\u03bd": "v",  # ν
    "\u03bf": "o",  # ο
    "\u03c1": "p",  # ρ
    "\u03c4": "t",  # τ
    "\u03c5": "u",  # υ
    "\u03c7": "x",  # χ
    "\u03c9": "w",  # ω
    "\u03f3": "j",  # ϳ
    # Armenian
    "\u0570": "h",  # հ
    "\u0578": "n",  # ո
    "\u057d": "u",  # ս
    "\u0566": "q",  # զ
    "\u0581": "g",  # ց
    "\u0585": "o",  # օ
    # Cherokee capitals (small Cherokee letters fold to these)
    "\u13aa": "a",  # Ꭺ go
    "\u13f4": "b",  # Ᏼ yv
    "\u13df": "c",  # Ꮯ tli
    "\u13a0": "d",  # Ꭰ a
    "\u13ac": "e",  # Ꭼ gv
    "\u13c0": "g",  # Ꮐ nah
    "\u13bb": "h",  # Ꮋ mi
    "\u13a5": "i",  # Ꭵ v
    "\u13ab": "j",  # Ꭻ gu
    "\u13e6": "k",  # Ꮶ tso
    "\u13de": "l",  # Ꮮ tle
    "\u13b7": "m",  # Ꮇ lu
    "\u13e2": "p",  # Ꮲ tlv
    "\u13a1": "r",  # Ꭱ e
    "\u13da": "s",  # Ꮪ du
    "\u13a2": "t",  # Ꭲ i
    "\u13d9": "v",  # Ꮩ do
    "\u13b3": "w",  # Ꮃ la
    "\u13a9": "y",  # Ꭹ gi
    "\u13c3": "z",  # Ꮓ no
    # Latin look-alikes outside basic Latin
    "\u0131": "i",  # ı dotless i
    "\u0251": "a",  # ɑ
    "\u0261": "g",  # ɡ
    "\u0269": "i",  # ɩ
    "\u026a": "i",  # ɪ
    "\u1d0f": "o",  # ᴏ
    "\u1d1c": "u",  # ᴜ
    # digits that pass for letters
    "0": "o",
    "1": "l",
}

#: Code point -> replacement, ready for :meth:`str.translate`.
HOMOGLYPHS: dict[int, str] = {ord(key): value for key, value in _LOOKALIKES.items()}

#: Letter sequences that render like one letter, applied after :data:`HOMOGLYPHS`.
LOOKALIKE_SEQUENCES: tuple[tuple[str, str], ...] = (("rn", "m"), ("vv", "w"))

# Name prefixes that are not scripts, or that name a script differently.
_SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN"}
_NOT_A_SCRIPT = frozenset({"MODIFIER", "KATAKANA-HIRAGANA", "COMBINING"})
_WIDTH_WORDS = frozenset({"HALFWIDTH", "FULLWIDTH"})


@lru_cache(maxsize=4096)
def script_of(char: str) -> str | None:
    """Return an approximate script name for a letter, or ``None`` for others.

    Digits, punctuation, marks and modifier letters belong to no single script
    (Unicode's Common and Inherited), so they return ``None``. For letters the
    script is read from the leading word of the character's Unicode name
    (``"CYRILLIC SMALL LETTER A"`` -> ``"CYRILLIC"``; CJK ideographs -> ``"HAN"``),
    which tells the scripts that matter for spoofing apart without shipping the
    Unicode Scripts.txt table.

    Parameters
    ----------
    char
        One character.

    Returns
    -------
    str or None
        The script name in capitals, or ``None`` when the character is not a
        letter of a particular script.
    """
    if not char.isalpha():
        return None
    words = unicodedata.name(char, "").split()
    if words and words[0] in _WIDTH_WORDS:
        words = words[1:]
    if not words or words[0] in _NOT_A_SCRIPT:
        return None
    return _SCRIPT_ALIASES.get(words[0], words[0])


# Script sets that UTS #39's "highly restrictive" profile allows in one label.
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def mixes_scripts(label: str) -> bool:
    """Say whether a label mixes scripts beyond UTS #39's highly restrictive profile.

    Parameters
    ----------
    label
        One label (or any text) in Unicode form.

    Returns
    -------
    bool
        True when the letters come from two or more scripts and the mix is not
        one of Latin+Han+Hiragana+Katakana, Latin+Han+Bopomofo, Latin+Han+Hangul.
    """
    scripts = {script for script in map(script_of, label) if script is not None}
    if len(scripts) < 2:
        return False
    return not any(scripts <= allowed for allowed in _ALLOWED_MIXES)


def skeleton_text(text: str) -> str:
    """Return the confusable skeleton of a Unicode string.

    Follows the shape of UTS #39's skeleton (NFD, map each look-alike to its
    prototype, NFD again) with NFKC case folding first, invisible characters
    removed, and the compact :data:`HOMOGLYPHS` table and
    :data:`LOOKALIKE_SEQUENCES` in place of the full ``confusables.txt``.
    Combining marks are kept, as in UTS #39, so ``"ü"`` does not collapse to
    ``"u"``.

    Parameters
    ----------
    text
        Any string, usually a host in Unicode form.

    Returns
    -------
    str
        The skeleton; two strings that look alike have equal skeletons.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = INVISIBLE.sub("", folded)
    mapped = unicodedata.normalize("NFD", folded).translate(HOMOGLYPHS)
    mapped = unicodedata.normalize("NFD", mapped)
    for sequence, letter in LOOKALIKE_SEQUENCES:
        mapped = mapped.replace(sequence, letter)
    return mapped
