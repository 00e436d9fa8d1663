"""STIX 2.1 patterns: parsing, compound-pattern indicators and their evaluation.

Patterns are parsed with the OASIS ``stix2-patterns`` grammar
(:class:`stix2patterns.v21.pattern.Pattern`); this module turns the parse tree
into a small expression tree and evaluates it against one *observation*: a
mapping of STIX object paths to observed values, e.g.::

    {"file:hashes.'SHA-256'": "9f86…", "file:name": "a.exe", "file:size": 123}

A value may also be a list or tuple of values (several addresses); a
comparison holds when any of them satisfies it.

What is evaluated
    ``=``, ``!=``, ``<``, ``>``, ``<=``, ``>=``, ``IN``, ``LIKE``,
    ``MATCHES`` (Python :mod:`re` syntax, searched), ``ISSUBSET``,
    ``ISSUPERSET``, ``EXISTS``, each optionally with ``NOT``; ``AND`` and
    ``OR`` inside one observation expression and between observation
    expressions (all evaluated against the one observation), and a
    ``WITHIN`` or ``REPEATS 1 TIMES`` qualifier on a single observation
    expression (trivially met by one observation).
What is refused (:class:`PatternError`, reason ``unsupported_pattern``)
    ``FOLLOWEDBY``, ``START … STOP``, ``WITHIN`` over several observation
    expressions and ``REPEATS`` more than once: they speak about several
    observations over time, which one observation cannot answer.
Limits (reason ``invalid_pattern``)
    At most :data:`MAX_PATTERN_COMPARISONS` (1,000) comparisons and
    :data:`MAX_PATTERN_NESTING` (32) levels of parentheses; ``AND`` and
    ``OR`` chains of any length up to that are read without recursion.
Risky patterns (:func:`check_pattern_scope`, applied by the feed loaders)
    ``too_broad`` for a pattern that holds for every observation (``LIKE
    '%'``, ``MATCHES '.*'``, ``ISSUBSET '0.0.0.0/0'``, only negations);
    ``unsafe_regex`` for a ``MATCHES`` regex with nested or overlapping
    repeats (:func:`regex_hazard`). A ``MATCHES`` is tried on the first
    :data:`MAX_MATCHES_INPUT` (4,096) characters of a value, and one with
    such a regex (stored before this check) never holds.

Paths are compared in a canonical spelling (:func:`canonical_path`): keys
that are not plain identifiers are quoted, and hash names are spelled as STIX
registers them, so ``file:hashes.md5``, ``file:hashes.MD5`` and
``file:hashes.'MD5'`` are the same path. String values of hash paths are
compared in lowercase; ``url:value`` in canonical URL form,
``domain-name:value`` lowercase without a trailing dot, and IP values in
canonical form (an ``=`` against a network literal means "inside it").

Every :class:`PatternIndicator` gets an *anchor*: equality tests the
observation must satisfy for the pattern to possibly match (for an ``AND``,
those of one side; for an ``OR``, those of every side). The
:class:`PatternStore` indexes patterns by anchor, evaluates the full logic
only on the candidates an observation's values select, and evaluates the few
patterns without an anchor on every observation.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import ipaddress
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, TypeAlias

from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.intel.indicators import (
    MIN_IPV4_PREFIX,
    MIN_IPV6_PREFIX,
    Indicator,
    IndicatorType,
    normalize_url,
)

__all__ = [
    "MAX_MATCHES_INPUT",
    "MAX_PATTERN_COMPARISONS",
    "MAX_PATTERN_NESTING",
    "AllOf",
    "AnyOf",
    "Comparison",
    "Expression",
    "ParsedPattern",
    "PatternError",
    "PatternIndicator",
    "PatternStats",
    "PatternStore",
    "canonical_path",
    "check_pattern_scope",
    "evaluate",
    "make_pattern_indicator",
    "normalize_observation",
    "observation_subject",
    "parse_pattern",
    "regex_hazard",
    "stix_literal",
    "unescape_literal",
]

#: Most comparisons one pattern may hold; longer patterns are refused.
MAX_PATTERN_COMPARISONS: Final = 1000
#: Deepest nesting of parentheses a pattern may use.
MAX_PATTERN_NESTING: Final = 32

Value: TypeAlias = str | int | float | bool | bytes | datetime
Observation: TypeAlias = dict[str, tuple[Any, ...]]
Anchor: TypeAlias = tuple[str, Hashable]


class PatternError(InvalidIndicatorError):
    """A STIX pattern that cannot be used, with a stable ``reason``.

    ``reason`` is ``invalid_pattern`` (the grammar refuses it, or a literal
    in it is malformed) or ``unsupported_pattern`` (valid, but it needs
    several observations over time: see the module docstring).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- literals ---------------------------------------------------------------------

_ESCAPE: Final = re.compile(r"\\(['\\])")


def unescape_literal(body: str) -> str:
    r"""Return the text a STIX string literal's body (without quotes) stands for.

    The grammar knows two escapes, ``\'`` for a quote and ``\\`` for a
    backslash; they are undone in one pass, so ``\\'`` can never be misread.

    Examples
    --------
    >>> unescape_literal(r"eat at joe\'s")
    "eat at joe's"
    >>> unescape_literal(r"C:\\Windows")
    'C:\\Windows'
    """
    return _ESCAPE.sub(r"\1", body) if "\\" in body else body


def stix_literal(value: str) -> str:
    r"""Return ``value`` as a quoted STIX string literal, for building patterns.

    Backslashes are escaped first, then quotes.

    Examples
    --------
    >>> print(stix_literal("eat at joe's"))
    'eat at joe\'s'
    >>> print(stix_literal("C:\\Windows"))
    'C:\\Windows'
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- paths ---------------------------------------------------------------------------

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HASH_NAMES: Final = {
    "MD5": "MD5",
    "SHA1": "SHA-1",
    "SHA-1": "SHA-1",
    "SHA256": "SHA-256",
    "SHA-256": "SHA-256",
    "SHA512": "SHA-512",
    "SHA-512": "SHA-512",
    "SHA3256": "SHA3-256",
    "SHA3-256": "SHA3-256",
    "SHA3512": "SHA3-512",
    "SHA3-512": "SHA3-512",
    "SSDEEP": "SSDEEP",
    "TLSH": "TLSH",
}
#: Marks a ``[*]`` index step while a path is built.
_ANY_INDEX: Final = "*"


def _path_text(object_type: str, steps: list[str | int]) -> str:
    """Spell an object path canonically from its type and steps."""
    parts = [f"{object_type}:"]
    previous: str | int | None = None
    for position, step in enumerate(steps):
        if isinstance(step, int) or (step == _ANY_INDEX and position > 0):
            parts.append(f"[{step}]")
            previous = step
            continue
        key = step
        if previous == "hashes":
            key = _HASH_NAMES.get(key.upper(), key)
        spelled = key if _IDENTIFIER.fullmatch(key) else stix_literal(key)
        parts.append(spelled if position == 0 else f".{spelled}")
        previous = key
    return "".join(parts)


@lru_cache(maxsize=4096)
def canonical_path(path: str) -> str:
    """Return the canonical spelling of a STIX object path.

    Raises
    ------
    ConfigError
        When ``path`` is not an object path (``type:property[.key…]``).

    Examples
    --------
    >>> canonical_path("file:hashes.sha256")
    "file:hashes.'SHA-256'"
    """
    try:
        parsed = _parse_tree(f"[EXISTS {path}]")
    except PatternError as exc:
        raise ConfigError(
            f"observation key {path[:80]!r} is not a STIX object path; hint: "
            "write keys like \"file:hashes.'SHA-256'\" or 'url:value'"
        ) from exc
    expression = _Builder().build(parsed)
    if not isinstance(expression, Comparison):
        raise ConfigError(f"observation key {path[:80]!r} is not one object path")
    return expression.path


# --- value normalisation ----------------------------------------------------------


def _normalize_domain(text: str) -> str:
    """Return a host name lowercased without its trailing dot."""
    return text.strip().rstrip(".").lower()


def _normalize_ip(text: str) -> str:
    """Return an address or network in canonical form, or the text unchanged."""
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text.strip(), strict=False))
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return text


def _normalize_url(text: str) -> str:
    """Return a URL's canonical form, or the text unchanged when it is none."""
    try:
        return normalize_url(text)
    except InvalidIndicatorError:
        return text


@lru_cache(maxsize=4096)
def _normalizer_for(path: str) -> Any:
    """Return the string normaliser for values of ``path``, or ``None``."""
    if path == "url:value":
        return _normalize_url
    if path == "domain-name:value":
        return _normalize_domain
    if path in ("ipv4-addr:value", "ipv6-addr:value"):
        return _normalize_ip
    if ":hashes." in path or ".hashes." in path:
        return str.lower
    return None


def _normalize_value(path: str, value: Any) -> Any:
    """Normalise one string value the way its path is compared."""
    if isinstance(value, str):
        normalizer = _normalizer_for(path)
        if normalizer is not None:
            return normalizer(value)
    return value


def normalize_observation(observation: Mapping[str, Any]) -> Observation:
    """Return an observation with canonical paths and normalised values.

    Each value becomes a tuple (lists, tuples and sets are spread out);
    ``None`` values are dropped, as if the property were absent.

    Raises
    ------
    ConfigError
        When a key is not a STIX object path.
    """
    normal: Observation = {}
    for key, raw in observation.items():
        if raw is None:
            continue
        path = canonical_path(key)
        many = isinstance(raw, list | tuple | set | frozenset)
        values = tuple(raw) if many else (raw,)
        normal[path] = normal.get(path, ()) + tuple(
            _normalize_value(path, value) for value in values if value is not None
        )
    return normal


# --- expressions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """One comparison of an object path with a literal.

    Attributes
    ----------
    path
        Canonical object path.
    op
        ``=``, ``!=``, ``<``, ``>``, ``<=``, ``>=``, ``IN``, ``LIKE``,
        ``MATCHES``, ``ISSUBSET``, ``ISSUPERSET`` or ``EXISTS``.
    value
        The literal (a tuple for ``IN``, the regular expression source for
        ``LIKE`` and ``MATCHES``, ``None`` for ``EXISTS``).
    negated
        Whether ``NOT`` precedes the operator.
    """

    path: str
    op: str
    value: Any
    negated: bool = False


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every part must hold (``AND``)."""

    parts: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one part must hold (``OR``)."""

    parts: tuple[Expression, ...]


Expression: TypeAlias = Comparison | AllOf | AnyOf


@lru_cache(maxsize=65536)
def _regex(source: str) -> re.Pattern[str]:
    """Compile a pattern's regular expression once."""
    return re.compile(source, re.DOTALL)


def _like_regex(like: str) -> str:
    """Translate a SQL ``LIKE`` pattern (``%``, ``_``) to a regex source.

    The pieces between ``%`` have a fixed length, so taking each middle
    piece at its first place is never wrong: those searches are atomic
    groups, and the regex (used with ``fullmatch``) cannot backtrack into
    them. ``%a%b%c%`` stays linear in the value's length.
    """

    def piece(text: str) -> str:
        return "".join("." if char == "_" else re.escape(char) for char in text)

    head, *rest = like.split("%")
    if not rest:
        return piece(head)
    *middle, tail = rest
    searched = "".join(f"(?>.*?{piece(part)})" for part in middle if part)
    return f"{piece(head)}{searched}.*{piece(tail)}"


# --- risky patterns ------------------------------------------------------------------

#: Characters of an observed value a ``MATCHES`` regex is tried on; beyond
#: them the value is cut, so a slow regex costs a bounded time per value.
MAX_MATCHES_INPUT: Final = 4096

_SRE: Final[Any] = importlib.import_module("re._parser")
_REPEATS: Final = frozenset(("MAX_REPEAT", "MIN_REPEAT"))
# Values tried on a regex to tell one that matches anything: a regex that
# finds the empty string, or every one of these, matches every value.
_PROBES: Final = (
    "0",
    "zz",
    "-",
    " ",
    "\n",
    "\u00e9",
    "198.51.100.7",
    "http://probe.invalid/p?q=1",
)


@lru_cache(maxsize=4096)
def regex_hazard(source: str) -> str | None:
    """Return why a ``MATCHES`` regex may backtrack catastrophically, or ``None``.

    A conservative static check of the parsed regex, refusing:

    - a repeat (``+``, ``*``, ``{2,}``, ``{1,5}``…) of something that itself
      holds a repeat of varying count (``(a+)+``, ``(a{1,2})*``,
      ``(\\w+\\.)+``), where the inner or the outer repeat is unbounded;
    - an alternation inside an unbounded repeat whose branches can start
      with the same character (``(a|ab)+``, ``(\\w|\\d)*``) or be empty.

    Possessive repeats (``++``) and atomic groups (``(?>…)``) do not
    backtrack into what they matched: a repeat inside them is judged on its
    own. Feeds can rewrite a refused regex that way. A regex Python cannot
    compile gives ``None`` here (it is refused as unsupported elsewhere).
    """
    try:
        tree = _SRE.parse(source, re.DOTALL)
    except (re.error, RecursionError, OverflowError):
        return None
    return _hazard(list(tree), None)


def _hazard(items: list[Any], outer: str | None) -> str | None:
    """Walk parsed regex ``items`` inside a repeat of kind ``outer``."""
    for op, av in items:
        name = getattr(op, "name", str(op))
        found: str | None = None
        if name in _REPEATS:
            low, high, body = av
            unbounded = high == _SRE.MAXREPEAT
            if (
                outer is not None
                and high != low
                and (outer == "unbounded" or unbounded)
            ):
                return "a repeat inside a repeat (e.g. (a+)+)"
            inner = outer
            if high > 1:
                inner = "unbounded" if unbounded or outer == "unbounded" else "bounded"
            found = _hazard(list(body), inner)
        elif name == "POSSESSIVE_REPEAT":
            found = _hazard(list(av[2]), None)
        elif name == "ATOMIC_GROUP":
            found = _hazard(list(av), None)
        elif name == "SUBPATTERN":
            found = _hazard(list(av[3]), outer)
        elif name in ("ASSERT", "ASSERT_NOT"):
            found = _hazard(list(av[1]), outer)
        elif name == "BRANCH":
            branches = [list(branch) for branch in av[1]]
            if outer == "unbounded" and _branches_overlap(branches):
                return "alternatives that overlap inside a repeat (e.g. (a|ab)+)"
            for branch in branches:
                found = found or _hazard(branch, outer)
        elif name == "GROUPREF_EXISTS":
            for branch in av[1:]:
                if branch is not None:
                    found = found or _hazard(list(branch), outer)
        if found is not None:
            return found
    return None


def _first_chars(items: list[Any]) -> frozenset[int] | None:
    """Return the characters a parsed regex branch can start with (``None``: any)."""
    for op, av in items:
        name = getattr(op, "name", str(op))
        if name == "AT":
            continue
        if name == "LITERAL":
            return frozenset((av,))
        if name == "SUBPATTERN":
            return _first_chars(list(av[3]))
        if name == "IN":
            chars: set[int] = set()
            for kind, value in av:
                kind_name = getattr(kind, "name", str(kind))
                if kind_name == "LITERAL":
                    chars.add(value)
                elif kind_name == "RANGE" and value[1] - value[0] < 256:
                    chars.update(range(value[0], value[1] + 1))
                else:
                    return None
            return frozenset(chars)
        return None
    return None


def _branches_overlap(branches: list[list[Any]]) -> bool:
    """Return whether two alternatives may start alike (or one be empty)."""
    seen: set[int] = set()
    for branch in branches:
        first = _first_chars(branch)
        if first is None or seen & first:
            return True
        seen |= first
    return False


def _matches_anything(source: str, whole: bool) -> bool:
    """Return whether a regex matches every value (``whole``: fullmatch)."""
    regex = _regex(source)
    try_ = regex.fullmatch if whole else regex.search
    return try_("") is not None or all(try_(probe) is not None for probe in _PROBES)


def _broad_network(text: Any) -> bool:
    """Return whether a network literal is wider than indicators may be."""
    network = _network(text)
    if network is None:
        return False
    shortest = MIN_IPV4_PREFIX if network.version == 4 else MIN_IPV6_PREFIX
    return network.prefixlen < shortest


def _narrows(comparison: Comparison) -> bool:
    """Return whether a comparison holds for only some values of its path.

    Negated tests, ``!=`` and ``EXISTS`` hold for (nearly) every value;
    so do a ``LIKE`` or ``MATCHES`` that matches the empty string or every
    probe value, and a network wider than ``/8`` (IPv4) or ``/16`` (IPv6).
    """
    op, literal = comparison.op, comparison.value
    if comparison.negated or op in ("!=", "EXISTS"):
        return False
    if op in ("LIKE", "MATCHES"):
        return not _matches_anything(literal, op == "LIKE")
    if op == "ISSUBSET":
        return not _broad_network(literal)
    if _is_ip_path(comparison.path):
        items = literal if op == "IN" else (literal,) if op == "=" else ()
        return not any(isinstance(item, str) and _broad_network(item) for item in items)
    return True


def _too_broad(expression: Expression) -> bool:
    """Return whether an expression holds whatever values it is shown."""
    if isinstance(expression, Comparison):
        return not _narrows(expression)
    if isinstance(expression, AllOf):
        return all(_too_broad(part) for part in expression.parts)
    return any(_too_broad(part) for part in expression.parts)


def _comparisons(expression: Expression) -> Iterator[Comparison]:
    """Yield an expression's comparisons."""
    stack = [expression]
    while stack:
        node = stack.pop()
        if isinstance(node, Comparison):
            yield node
        else:
            stack.extend(node.parts)


def check_pattern_scope(expression: Expression) -> None:
    """Refuse a pattern that would match everything or stall on a regex.

    Raises
    ------
    PatternError
        With reason ``unsafe_regex`` when a ``MATCHES`` regex may backtrack
        catastrophically (:func:`regex_hazard`), or ``too_broad`` when the
        pattern holds for every observation that has its properties, as
        ``0.0.0.0/0`` or ``com`` would as plain indicators: every way it can
        hold rests only on negations, ``!=``, ``EXISTS``, a ``LIKE`` or
        ``MATCHES`` that matches anything (``'%'``, ``'.*'``), or a network
        wider than ``/8`` (IPv4) or ``/16`` (IPv6).
    """
    for comparison in _comparisons(expression):
        if comparison.op == "MATCHES":
            hazard = regex_hazard(comparison.value)
            if hazard is not None:
                raise PatternError(
                    "unsafe_regex",
                    f"MATCHES regular expression {comparison.value[:80]!r} may "
                    f"backtrack without end: {hazard}; hint: remove the nested "
                    "repeat, or make it possessive (++) or atomic ((?>…))",
                )
    if _too_broad(expression):
        raise PatternError(
            "too_broad",
            "pattern holds for every observation (a wildcard-only LIKE, a "
            "MATCHES that matches anything, a catch-all network, or only "
            "negations); hint: anchor it on a value",
        )


def _as_datetime(value: Any) -> datetime | None:
    """Return an aware datetime for a datetime or ISO text, else ``None``."""
    if isinstance(value, datetime):
        return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.utcoffset() is not None else parsed.replace(tzinfo=UTC)
    return None


def _coerce(observed: Any, literal: Any) -> Any:
    """Return ``observed`` as the literal's kind, or ``None`` when it is not."""
    if isinstance(literal, bool):
        return observed if isinstance(observed, bool) else None
    if isinstance(literal, int | float):
        ok = isinstance(observed, int | float) and not isinstance(observed, bool)
        return observed if ok else None
    if isinstance(literal, str):
        return observed if isinstance(observed, str) else None
    if isinstance(literal, bytes):
        if isinstance(observed, bytes | bytearray):
            return bytes(observed)
        if isinstance(observed, str):
            try:
                return bytes.fromhex(observed)
            except ValueError:
                return None
        return None
    if isinstance(literal, datetime):
        return _as_datetime(observed)
    return None


def _network(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """Return an address or network as a network, or ``None``."""
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _inside(inner: Any, outer: Any) -> bool:
    """Return whether network ``inner`` lies within network ``outer``."""
    small, big = _network(inner), _network(outer)
    if small is None or big is None or small.version != big.version:
        return False
    return small.subnet_of(big)  # type: ignore[arg-type]


def _is_ip_path(path: str) -> bool:
    return path in ("ipv4-addr:value", "ipv6-addr:value")


def _equal(path: str, observed: Any, literal: Any) -> bool:
    """Return whether an observed value equals a literal (networks: inside)."""
    if isinstance(literal, str) and "/" in literal and _is_ip_path(path):
        return _inside(observed, literal)
    value = _coerce(observed, literal)
    return value is not None and bool(value == literal)


def _test(comparison: Comparison, observed: Any) -> bool:
    """Apply one comparison's operator to one observed value."""
    op, literal, path = comparison.op, comparison.value, comparison.path
    if op == "=":
        return _equal(path, observed, literal)
    if op == "!=":
        value = _coerce(observed, literal)
        return value is not None and not _equal(path, observed, literal)
    if op == "IN":
        return any(_equal(path, observed, item) for item in literal)
    if op == "LIKE":
        return (
            isinstance(observed, str)
            and _regex(literal).fullmatch(observed) is not None
        )
    if op == "MATCHES":
        if not isinstance(observed, str) or regex_hazard(literal) is not None:
            return False
        return _regex(literal).search(observed[:MAX_MATCHES_INPUT]) is not None
    if op == "ISSUBSET":
        return _inside(observed, literal)
    if op == "ISSUPERSET":
        return _inside(literal, observed)
    if op == "EXISTS":
        return True
    value = _coerce(observed, literal)
    if value is None:
        return False
    try:
        return bool(_ORDER[op](value, literal))
    except TypeError:
        return False


_ORDER: Final = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def evaluate(expression: Expression, observation: Observation) -> bool:
    """Return whether an expression holds for a normalised observation.

    A comparison on a property the observation lacks is false, with or
    without ``NOT`` (as STIX defines it); only ``NOT EXISTS`` holds then.
    Pass observations through :func:`normalize_observation` first.
    """
    if isinstance(expression, Comparison):
        values = observation.get(expression.path)
        if not values:
            return expression.negated and expression.op == "EXISTS"
        held = any(_test(expression, value) for value in values)
        return held != expression.negated
    if isinstance(expression, AllOf):
        return all(evaluate(part, observation) for part in expression.parts)
    return any(evaluate(part, observation) for part in expression.parts)


def _anchors(expression: Expression) -> frozenset[Anchor] | None:
    """Return equality tests one of which an observation must pass, or ``None``."""
    if isinstance(expression, Comparison):
        if expression.negated:
            return None
        if expression.op == "=":
            values: tuple[Any, ...] = (expression.value,)
        elif expression.op == "IN":
            values = expression.value
        else:
            return None
        keys = []
        for value in values:
            if isinstance(value, bool) or not isinstance(value, str | int):
                return None
            if isinstance(value, str) and "/" in value and _is_ip_path(expression.path):
                return None
            keys.append((expression.path, value))
        return frozenset(keys)
    found = [_anchors(part) for part in expression.parts]
    if isinstance(expression, AllOf):
        usable = [anchors for anchors in found if anchors is not None]
        return min(usable, key=len) if usable else None
    if any(anchors is None for anchors in found):
        return None
    return frozenset().union(*(anchors for anchors in found if anchors is not None))


# --- parsing -----------------------------------------------------------------------


def _parse_tree(text: str) -> Any:
    """Parse pattern text with the OASIS grammar; return its parse tree."""
    from stix2patterns.exceptions import ParseException
    from stix2patterns.v21.pattern import Pattern

    class _Capture:
        """Receives the parse tree from :meth:`Pattern.visit`."""

        def visit(self, tree: Any) -> Any:
            return tree

    try:
        return Pattern(text).visit(_Capture())
    except ParseException as exc:
        raise PatternError(
            "invalid_pattern", f"not a valid STIX 2.1 pattern: {exc}"
        ) from exc
    except (RecursionError, ValueError, TypeError) as exc:
        raise PatternError(
            "invalid_pattern", f"not a valid STIX 2.1 pattern: {exc}"
        ) from exc


class _Builder:
    """Turns a ``stix2-patterns`` parse tree into an :data:`Expression`."""

    def __init__(self) -> None:
        from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser

        self.parser = STIXPatternParser
        self.observation_expressions = 0

    def build(self, tree: Any) -> Expression:
        """Return the expression of a whole pattern.

        ``AND`` and ``OR`` chains are read without recursion; parentheses
        nested deeper than :data:`MAX_PATTERN_NESTING` and more than
        :data:`MAX_PATTERN_COMPARISONS` comparisons are refused.
        """
        self.depth = 0
        self.comparisons = 0
        try:
            return self._observations(tree.observationExpressions())
        except RecursionError as exc:
            raise PatternError(
                "invalid_pattern", "not a valid STIX 2.1 pattern: nested too deeply"
            ) from exc

    def _enter(self) -> None:
        """Count one level of parentheses; refuse nesting too deep."""
        self.depth += 1
        if self.depth > MAX_PATTERN_NESTING:
            raise PatternError(
                "invalid_pattern",
                f"pattern nests parentheses more than {MAX_PATTERN_NESTING} deep; "
                "hint: flatten it or split it into several indicators",
            )

    # observation level

    def _observations(self, ctx: Any) -> Expression:
        if ctx.FOLLOWEDBY() is not None:
            raise _unsupported("FOLLOWEDBY orders several observations in time")
        return self._observation_or(ctx.observationExpressionOr())

    def _observation_or(self, ctx: Any) -> Expression:
        leaves = _operands(ctx, "OR", "observationExpressionOr")
        parts = [
            self._observation_and(leaf.observationExpressionAnd()) for leaf in leaves
        ]
        return _combine(AnyOf, parts)

    def _observation_and(self, ctx: Any) -> Expression:
        leaves = _operands(ctx, "AND", "observationExpressionAnd")
        parts = [self._observation(leaf.observationExpression()) for leaf in leaves]
        return _combine(AllOf, parts)

    def _observation(self, ctx: Any) -> Expression:
        p = self.parser
        if isinstance(ctx, p.ObservationExpressionSimpleContext):
            self.observation_expressions += 1
            return self._comparison(ctx.comparisonExpression())
        if isinstance(ctx, p.ObservationExpressionCompoundContext):
            self._enter()
            expression = self._observations(ctx.observationExpressions())
            self.depth -= 1
            return expression
        if isinstance(ctx, p.ObservationExpressionStartStopContext):
            raise _unsupported("START … STOP needs the observation's time window")
        if isinstance(ctx, p.ObservationExpressionWithinContext):
            return self._single(ctx.observationExpression(), "WITHIN")
        if isinstance(ctx, p.ObservationExpressionRepeatedContext):
            if int(ctx.repeatedQualifier().IntPosLiteral().getText()) > 1:
                raise _unsupported("REPEATS more than once needs several observations")
            return self._single(ctx.observationExpression(), "REPEATS")
        raise PatternError("invalid_pattern", "unknown observation expression")

    def _single(self, ctx: Any, qualifier: str) -> Expression:
        """Build a qualified observation expression that must stand alone."""
        before = self.observation_expressions
        expression = self._observation(ctx)
        if self.observation_expressions - before > 1:
            raise _unsupported(
                f"{qualifier} over several observation expressions needs "
                "several observations"
            )
        return expression

    # comparison level

    def _comparison(self, ctx: Any) -> Expression:
        leaves = _operands(ctx, "OR", "comparisonExpression")
        parts = [
            self._comparison_and(leaf.comparisonExpressionAnd()) for leaf in leaves
        ]
        return _combine(AnyOf, parts)

    def _comparison_and(self, ctx: Any) -> Expression:
        leaves = _operands(ctx, "AND", "comparisonExpressionAnd")
        return _combine(AllOf, [self._test(leaf.propTest()) for leaf in leaves])

    def _test(self, ctx: Any) -> Expression:
        """Build one comparison with its literal as written (see :func:`_finish`)."""
        p = self.parser
        if isinstance(ctx, p.PropTestParenContext):
            self._enter()
            expression = self._comparison(ctx.comparisonExpression())
            self.depth -= 1
            return expression
        self.comparisons += 1
        if self.comparisons > MAX_PATTERN_COMPARISONS:
            raise _too_many_comparisons()
        negated = ctx.NOT() is not None if hasattr(ctx, "NOT") else False
        path = self._path(ctx.objectPath())
        if isinstance(ctx, p.PropTestExistsContext):
            return Comparison(path, "EXISTS", None, negated)
        if isinstance(ctx, p.PropTestEqualContext):
            op = "=" if ctx.EQ() is not None else "!="
            return Comparison(path, op, self._literal(ctx.primitiveLiteral()), negated)
        if isinstance(ctx, p.PropTestOrderContext):
            op = ctx.getChild(1 + negated).getText()
            return Comparison(path, op, self._literal(ctx.orderableLiteral()), negated)
        if isinstance(ctx, p.PropTestSetContext):
            items = tuple(
                self._literal(item) for item in ctx.setLiteral().primitiveLiteral()
            )
            return Comparison(path, "IN", items, negated)
        text = self._string(ctx.StringLiteral())
        for kind, op in (
            (p.PropTestLikeContext, "LIKE"),
            (p.PropTestRegexContext, "MATCHES"),
            (p.PropTestIsSubsetContext, "ISSUBSET"),
            (p.PropTestIsSupersetContext, "ISSUPERSET"),
        ):
            if isinstance(ctx, kind):
                return Comparison(path, op, text, negated)
        raise PatternError("invalid_pattern", "unknown comparison")

    def _path(self, ctx: Any) -> str:
        object_type = ctx.objectType().getText()
        first = ctx.firstPathComponent()
        steps: list[str | int] = [
            self._string(first.StringLiteral())
            if first.StringLiteral() is not None
            else first.getText()
        ]
        component = ctx.objectPathComponent()
        if component is not None:
            self._steps(component, steps)
        return _path_text(object_type, steps)

    def _steps(self, ctx: Any, steps: list[str | int]) -> None:
        p = self.parser
        if isinstance(ctx, p.PathStepContext):
            for child in ctx.objectPathComponent():
                self._steps(child, steps)
        elif isinstance(ctx, p.KeyPathStepContext):
            literal = ctx.StringLiteral()
            key = (
                self._string(literal)
                if literal is not None
                else ctx.getChild(1).getText()
            )
            steps.append(key)
        elif ctx.ASTERISK() is not None:
            steps.append(_ANY_INDEX)
        else:
            steps.append(int(ctx.getChild(1).getText()))

    def _string(self, token: Any) -> str:
        """Return the text a StringLiteral token stands for."""
        body: str = token.getText()[1:-1]
        return unescape_literal(body)

    def _literal(self, ctx: Any) -> Value:
        """Return the value of a primitive or orderable literal node."""
        node = ctx
        while node.getChildCount() == 1 and not hasattr(node, "symbol"):
            node = node.getChild(0)
        if node.symbol.type == self.parser.StringLiteral:
            return self._string(node)
        return _literal(node)


def _operands(ctx: Any, joiner: str, rule: str) -> list[Any]:
    """Return the operands of an ``AND``/``OR`` chain, left to right.

    The grammar's rules are left-recursive, so ``a AND b AND c`` is a tree as
    deep as the chain is long; it is walked with a stack, not recursion.
    ``joiner`` is the token (``AND``, ``OR``) and ``rule`` the method that
    returns a node's sub-nodes of the same rule; an operand is a node
    without the token.
    """
    found: list[Any] = []
    stack = [ctx]
    while stack:
        node = stack.pop()
        if getattr(node, joiner)() is None:
            found.append(node)
        else:
            stack.extend(reversed(getattr(node, rule)()))
    return found


def _combine(kind: type[AllOf] | type[AnyOf], parts: list[Expression]) -> Expression:
    """Return the one part, or the parts joined (see :func:`_join`)."""
    return parts[0] if len(parts) == 1 else _join(kind, parts)


def _too_many_comparisons() -> PatternError:
    return PatternError(
        "invalid_pattern",
        f"pattern has more than {MAX_PATTERN_COMPARISONS} comparisons; hint: "
        "split it into several indicators",
    )


def _join(kind: type[AllOf] | type[AnyOf], parts: list[Expression]) -> Expression:
    """Combine parts, flattening nested nodes of the same kind."""
    flat: list[Expression] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, kind) else (part,))
    return kind(tuple(flat))


def _unsupported(what: str) -> PatternError:
    return PatternError(
        "unsupported_pattern",
        f"pattern uses {what}; hint: only patterns one observation can answer "
        "are matched",
    )


def _network_literal(text: str) -> str:
    """Check an ``ISSUBSET``/``ISSUPERSET`` literal is an address or network."""
    if _network(text) is None:
        raise PatternError(
            "invalid_pattern", f"{text[:80]!r} is not an IP address or network"
        )
    return text


def _literal(node: Any) -> Value:
    """Return the value of a literal token other than a string."""
    text: str = node.getText()
    from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser as p

    kind = node.symbol.type
    try:
        if kind in (p.IntPosLiteral, p.IntNegLiteral):
            return int(text)
        if kind in (p.FloatPosLiteral, p.FloatNegLiteral):
            return float(text)
        if kind == p.BoolLiteral:
            return text == "true"
        if kind == p.HexLiteral:
            return bytes.fromhex(text[2:-1])
        if kind == p.BinaryLiteral:
            return base64.b64decode(text[2:-1], validate=True)
        if kind == p.TimestampLiteral:
            moment = _as_datetime(text[2:-1])
            if moment is None:
                raise ValueError(f"bad timestamp {text}")
            return moment
    except (ValueError, binascii.Error) as exc:
        raise PatternError(
            "invalid_pattern", f"malformed literal {text[:80]}: {exc}"
        ) from exc
    raise PatternError("invalid_pattern", f"unknown literal {text[:80]}")


# Fast recogniser of the commonest form: equalities of one string literal on
# ``value`` or ``hashes.X``, joined by OR. Anything else goes to the grammar.
_WS: Final = r"[ \t\r\n]"
_TERM: Final = (
    r"([a-z][a-z0-9-]*):(value|hashes\.(?:[A-Za-z][A-Za-z0-9]*|'[A-Za-z0-9-]+'))"
    rf"{_WS}*={_WS}*'((?:[^'\\]|\\['\\])*)'"
)
_SIMPLE: Final = re.compile(rf"\[{_WS}*{_TERM}(?:{_WS}+OR{_WS}+{_TERM})*{_WS}*\]")
_SIMPLE_TERM: Final = re.compile(_TERM)
_KEYWORDS: Final = frozenset(
    ("AND", "OR", "NOT", "LIKE", "MATCHES", "IN", "EXISTS", "ISSUBSET", "ISSUPERSET")
)


@lru_cache(maxsize=1024)
def _fast_path(object_type: str, raw_path: str) -> str:
    """Spell a ``value`` or ``hashes.X`` path read by the fast recogniser."""
    steps: list[str | int] = [
        part[1:-1] if part.startswith("'") else part for part in raw_path.split(".", 1)
    ]
    return _path_text(object_type, steps)


def _fast_equalities(text: str) -> tuple[Comparison, ...] | None:
    """Read ``[a:value = '…' OR …]`` without the grammar, or return ``None``."""
    if not _SIMPLE.fullmatch(text):
        return None
    found = []
    for match in _SIMPLE_TERM.finditer(text):
        object_type, raw_path, body = match.groups()
        if object_type.upper() in _KEYWORDS:
            return None
        path = _fast_path(object_type, raw_path)
        value = _normalize_value(path, unescape_literal(body))
        found.append(Comparison(path, "=", value))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class ParsedPattern:
    """A parsed pattern.

    Attributes
    ----------
    expression
        The whole pattern as an expression tree.
    equalities
        When the pattern is only ``=`` tests of string literals joined by
        ``OR`` (or one ``IN``): those tests, one per value; else ``None``.
    """

    expression: Expression
    equalities: tuple[Comparison, ...] | None


def parse_pattern(text: str) -> ParsedPattern:
    """Parse a STIX 2.1 pattern into an expression tree.

    Raises
    ------
    PatternError
        With reason ``invalid_pattern`` or ``unsupported_pattern`` (see the
        module docstring).
    """
    fast = _fast_equalities(text)
    if fast is not None:
        expression: Expression = fast[0] if len(fast) == 1 else AnyOf(fast)
        return ParsedPattern(expression, fast)
    if _joiners(text) >= MAX_PATTERN_COMPARISONS:
        raise _too_many_comparisons()
    templated = _template(text)
    if templated is None:
        expression = _finish(_Builder().build(_parse_tree(text)), ())
    else:
        template, values = templated
        try:
            skeleton = _template_skeleton(template)
        except PatternError:
            # raises with the columns of the pattern as written
            skeleton, values = _Builder().build(_parse_tree(text)), ()
        expression = _finish(skeleton, values)
    return ParsedPattern(expression, _equalities(expression))


_JOINER: Final = re.compile(r"\b(?:AND|OR)\b")


def _joiners(text: str) -> int:
    """Count the ``AND`` and ``OR`` keywords outside a pattern's string literals.

    A cheap bound read before the grammar runs, so an oversized pattern is
    refused without parsing it.
    """
    return len(_JOINER.findall(_STRING_LITERAL.sub("''", text)))


def _finish(expression: Expression, values: tuple[Value, ...]) -> Expression:
    """Put a template's values back, normalise and check the literals."""
    if not isinstance(expression, Comparison):
        kind = type(expression)
        return kind(tuple(_finish(part, values) for part in expression.parts))
    path, op, literal = expression.path, expression.op, expression.value
    if op == "IN":
        items = (_normalize_value(path, _fill(item, values)) for item in literal)
        return Comparison(path, op, tuple(items), expression.negated)
    literal = _fill(literal, values)
    if op in ("=", "!="):
        literal = _normalize_value(path, literal)
    elif op == "LIKE":
        literal = _like_regex(literal)
    elif op == "MATCHES":
        try:
            _regex(literal)
        except re.error as exc:
            raise _unsupported(
                f"MATCHES regular expression {literal[:80]!r} is not one Python "
                f"reads: {exc}"
            ) from exc
    elif op in ("ISSUBSET", "ISSUPERSET"):
        literal = _network_literal(literal)
    return Comparison(path, op, literal, expression.negated)


def _fill(literal: Any, values: tuple[Value, ...]) -> Any:
    """Return a template placeholder's value, or the literal itself."""
    if values and isinstance(literal, str) and literal[:1] == _PLACEHOLDER:
        return values[int(literal[1:])]
    return literal


# Feeds repeat a few pattern shapes with different values, so the grammar
# parses each shape once: value literals are swapped for numbered
# placeholders, the template's expression is cached, and :func:`_finish` puts
# the values back. Literals right after '.', ':' (path keys) or 'b', 'h', 't'
# (typed literals) stay in the template. Texts with a placeholder character,
# a backslash outside the two escapes, or a comment are parsed as they are.
_PLACEHOLDER: Final = "\ue000"
_STRING_LITERAL: Final = re.compile(r"'(?:[^'\\]|\\['\\])*'")
_VALID_ESCAPES: Final = re.compile(r"\\['\\]")
# A number right after a comparison operator, outside string literals, written
# as the grammar's integer and float literals allow.
_COMPARED_NUMBER: Final = re.compile(
    r"([=<>][ \t\r\n]*)([-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?)(?![\w.])"
)


def _template(text: str) -> tuple[str, tuple[Value, ...]] | None:
    """Return (template, literal values) of a pattern, or ``None``."""
    if _PLACEHOLDER in text or "\\" in _VALID_ESCAPES.sub("", text):
        return None
    parts: list[str] = []
    values: list[Value] = []

    def number(match: re.Match[str]) -> str:
        written = match.group(2)
        values.append(float(written) if "." in written else int(written))
        return f"{match.group(1)}'{_PLACEHOLDER}{len(values) - 1}'"

    last = 0
    for match in _STRING_LITERAL.finditer(text):
        start = match.start()
        if start and text[start - 1] in ".:bht":
            continue
        parts.append(_COMPARED_NUMBER.sub(number, text[last:start]))
        parts.append(f"'{_PLACEHOLDER}{len(values)}'")
        values.append(unescape_literal(match.group()[1:-1]))
        last = match.end()
    parts.append(_COMPARED_NUMBER.sub(number, text[last:]))
    template = "".join(parts)
    if "/*" in template or "//" in template:
        return None
    return template, tuple(values)


@lru_cache(maxsize=4096)
def _template_skeleton(template: str) -> Expression:
    """Parse a pattern template once; later calls share its expression."""
    return _Builder().build(_parse_tree(template))


def _equalities(expression: Expression) -> tuple[Comparison, ...] | None:
    """Return the string equalities an OR-of-equalities pattern is made of."""
    parts = expression.parts if isinstance(expression, AnyOf) else (expression,)
    found: list[Comparison] = []
    for part in parts:
        if not isinstance(part, Comparison) or part.negated:
            return None
        if part.op == "=" and isinstance(part.value, str):
            found.append(part)
        elif part.op == "IN" and all(isinstance(v, str) for v in part.value):
            found.extend(Comparison(part.path, "=", value) for value in part.value)
        else:
            return None
    return tuple(found)


# --- indicators and their store ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatternIndicator:
    """A STIX indicator whose pattern is more than a list of values.

    Attributes
    ----------
    id
        The STIX indicator id (also the match's ``reference``).
    feed
        Feed name.
    pattern
        The pattern as written.
    expression
        The parsed pattern.
    anchors
        Equality tests one of which an observation must pass to match, or
        ``None`` when the pattern has none (evaluated on every observation).
    name
        The indicator's name, if any.
    confidence
        0 to 100.
    threat
        What it indicates (first indicator type or label).
    tags
        Labels, kill-chain phases and related objects (``malware:<name>``).
    first_seen, expires_at
        STIX ``valid_from`` and ``valid_until``: before ``first_seen`` the
        pattern does not match yet, after ``expires_at`` no longer.
    modified
        The version's ``modified`` time: a later version replaces an earlier.
    """

    id: str
    feed: str
    pattern: str
    expression: Expression
    anchors: frozenset[Anchor] | None
    name: str | None = None
    confidence: int = 50
    threat: str | None = None
    tags: tuple[str, ...] = ()
    first_seen: datetime | None = None
    expires_at: datetime | None = None
    modified: datetime | None = None

    def is_expired(self, at: datetime) -> bool:
        """Return whether the pattern has expired at the aware time ``at``."""
        return self.expires_at is not None and self.expires_at < at

    def is_live(self, at: datetime) -> bool:
        """Return whether the pattern is valid at the aware time ``at``.

        It is from ``first_seen`` (``valid_from``) until ``expires_at``.
        """
        return not self.is_expired(at) and (
            self.first_seen is None or self.first_seen <= at
        )

    def matches(self, observation: Observation) -> bool:
        """Return whether the pattern holds for a normalised observation."""
        return evaluate(self.expression, observation)

    def as_indicator(self, type: IndicatorType, value: str) -> Indicator:
        """Return an indicator of an observed value this pattern matched.

        It carries the pattern's feed, STIX id (``reference``), confidence,
        threat, tags and validity.
        """
        return Indicator(
            type=type,
            value=value,
            feed=self.feed,
            first_seen=self.first_seen,
            confidence=self.confidence,
            tags=self.tags,
            threat=self.threat,
            reference=self.id,
            expires_at=self.expires_at,
        )


#: Paths that name an observation's subject, most specific first.
_SUBJECT_PATHS: Final[tuple[tuple[str, IndicatorType], ...]] = (
    ("file:hashes.'SHA-256'", "sha256"),
    ("file:hashes.'SHA-1'", "sha1"),
    ("file:hashes.MD5", "md5"),
    ("url:value", "url"),
    ("domain-name:value", "domain"),
    ("ipv4-addr:value", "ip"),
    ("ipv6-addr:value", "ip"),
)


def observation_subject(observation: Observation) -> tuple[IndicatorType, str] | None:
    """Return the (type, value) a normalised observation is about, if any.

    The first present of a file's SHA-256, SHA-1 and MD5, the URL, the
    domain name and the address.
    """
    for path, kind in _SUBJECT_PATHS:
        for value in observation.get(path, ()):
            if isinstance(value, str) and value:
                return kind, value
    return None


def make_pattern_indicator(
    parsed: ParsedPattern, *, id: str, feed: str, pattern: str, **fields: Any
) -> PatternIndicator:
    """Build a :class:`PatternIndicator`, computing its anchors."""
    return PatternIndicator(
        id=id,
        feed=feed,
        pattern=pattern,
        expression=parsed.expression,
        anchors=_anchors(parsed.expression),
        **fields,
    )


@dataclass(frozen=True, slots=True)
class PatternStats:
    """Counts of what a :class:`PatternStore` holds.

    Attributes
    ----------
    total
        Patterns held.
    anchored
        Patterns found through their anchors.
    unanchored
        Patterns evaluated on every observation.
    anchor_keys
        Distinct (path, value) anchor keys indexed.
    """

    total: int
    anchored: int
    unanchored: int
    anchor_keys: int


class PatternStore:
    """Pattern indicators indexed by anchor, matched against observations.

    Parameters
    ----------
    patterns
        Patterns to add at once (see :meth:`add`).
    """

    def __init__(self, patterns: Iterable[PatternIndicator] = ()) -> None:
        self._by_id: dict[str, PatternIndicator] = {}
        self._by_anchor: dict[Anchor, dict[str, PatternIndicator]] = {}
        self._unanchored: dict[str, PatternIndicator] = {}
        self.add_many(patterns)

    def __len__(self) -> int:
        """Return the number of patterns held."""
        return len(self._by_id)

    def __iter__(self) -> Iterator[PatternIndicator]:
        """Iterate over the patterns held."""
        return iter(list(self._by_id.values()))

    def add(self, pattern: PatternIndicator) -> bool:
        """Add a pattern; a later version of a known id replaces it.

        Returns ``False`` when a known version of the same id is as recent
        or more recent, and the pattern was not added.
        """
        known = self._by_id.get(pattern.id)
        if known is not None:
            if _not_newer(pattern, known):
                return False
            self.remove(pattern.id)
        self._by_id[pattern.id] = pattern
        if pattern.anchors is None:
            self._unanchored[pattern.id] = pattern
        else:
            for anchor in pattern.anchors:
                self._by_anchor.setdefault(anchor, {})[pattern.id] = pattern
        return True

    def add_many(self, patterns: Iterable[PatternIndicator]) -> int:
        """Add patterns; return how many were added."""
        return sum(self.add(pattern) for pattern in patterns)

    def remove(self, id: str) -> bool:
        """Drop the pattern of a STIX id (revoked); return whether it was held."""
        pattern = self._by_id.pop(id, None)
        if pattern is None:
            return False
        self._unanchored.pop(id, None)
        for anchor in pattern.anchors or ():
            holders = self._by_anchor.get(anchor)
            if holders is not None:
                holders.pop(id, None)
                if not holders:
                    del self._by_anchor[anchor]
        return True

    def stats(self) -> PatternStats:
        """Return how many patterns are anchored and how many are not."""
        return PatternStats(
            total=len(self._by_id),
            anchored=len(self._by_id) - len(self._unanchored),
            unanchored=len(self._unanchored),
            anchor_keys=len(self._by_anchor),
        )

    def match(
        self, observation: Observation, at: datetime | None = None
    ) -> list[PatternIndicator]:
        """Return the live patterns that hold for a normalised observation.

        Live at ``at`` (default: now): from ``valid_from`` until
        ``valid_until`` (see :meth:`PatternIndicator.is_live`). Only
        patterns with an anchor the observation satisfies, and the
        unanchored ones, are evaluated.
        """
        candidates: dict[str, PatternIndicator] = {}
        by_anchor = self._by_anchor
        if by_anchor:
            for path, values in observation.items():
                for value in values:
                    if isinstance(value, str | int):
                        holders = by_anchor.get((path, value))
                        if holders:
                            candidates.update(holders)
        candidates.update(self._unanchored)
        now = at or datetime.now(UTC)
        return [
            pattern
            for pattern in candidates.values()
            if pattern.is_live(now) and pattern.matches(observation)
        ]


def _not_newer(new: PatternIndicator, known: PatternIndicator) -> bool:
    """Return whether ``new`` is no later a version than ``known``."""
    if new.modified is None:
        return known.modified is not None
    return known.modified is not None and new.modified <= known.modified
