"""YARA rule sets loaded rule by rule, and bounded scans of file content.

Public rule sets mix rules for many YARA builds: a rule that calls a module
this build lacks, or an external variable nobody defined, must not take the
other few thousand rules down with it. :func:`load_rules` therefore compiles
each file on its own and, when a file fails, splits it into rules with a
small tokenizer (comments, text strings, regular expressions and hex strings
are skipped, so a brace inside them never ends a rule) and compiles each rule
with what it needs: the file's imports, its includes and the rules it names
in its condition (private ones included, and every earlier rule a wildcard
such as ``any of (Prefix*)`` matches), plus the file's global rules. A rule
that still fails is rejected with YARA's reason; the rest load. When the
included files do not compile together, that is rejected with YARA's
reason, and so is each rule that needs a rule from them.

Other behaviour worth knowing:

- **Namespaces**: every file gets its own namespace (its path relative to
  the folder it was found in), so two vendors may use the same rule name and
  a global rule only applies to the rules of its own file.
- **Includes** are resolved by the loader, only inside the folders being
  loaded (or, for a file given by itself, its own folder); one that points
  elsewhere, is missing, or leads back to a file already being included is
  refused with the reason. A file included again (directly or through
  another include) adds nothing, where YARA would find its rules defined
  twice, so each file is read once however its includes branch and merge.
  Includes nested more than :data:`MAX_INCLUDE_DEPTH` deep (YARA's limit),
  or taking in more than :data:`MAX_INCLUDED_FILES` files or
  :data:`MAX_INCLUDED_BYTES` bytes, are refused too. A file holding nothing
  but includes of files that are loaded anyway (an index) is skipped, so no
  rule is counted twice.
- **Externals** that public rule sets read (``filename``, ``filepath``,
  ``extension``, ``filetype``, ``owner`` and a few more, see
  :data:`DEFAULT_EXTERNALS`) are defined as empty strings; a scan may fill in
  ``filename`` and ``extension``.
- **Lint**: a hex literal compared with ``==`` or ``!=`` to ``hash.md5``,
  ``hash.sha1``, ``hash.sha256`` or ``pe.imphash`` is lowercased, because
  those functions return lowercase hex and the comparison is case-sensitive;
  an uppercase literal would silently never match. Each change is counted.

Scans (:meth:`RuleLoad.scan`) have a size limit (the first ``max_bytes`` are
scanned and each hit says so) and a time limit. YARA reports nothing from a
scan that runs out of time, so the first and the last
:data:`FALLBACK_PART_BYTES` of the window are then rescanned on their own
with what is left of the time (at least a second each, as YARA counts whole
seconds): their hits are kept, each saying which part it was found in, and
the result is flagged ``timed_out`` so that it never reads as clean. Files
holding a string YARA warns slows scanning down are compiled apart and
scanned after the rest, so that one slow rule cannot cancel every other
rule's hit (a slow condition, such as a loop over every byte, draws no
warning and still shares the time of its file's stage); the rules YARA warns
about are listed in :attr:`RuleLoad.slow_rules`.

Memory per scan is bounded too: rules run in YARA's fast mode, which stops
looking for a string once it matched unless its rule counts or locates it
(``#a``, ``@a``, ``!a``, ``at``, ``in``), so a string matching all over a
file no longer keeps up to a million matches; and no matched bytes are kept
(:data:`MATCH_DATA_BYTES`), as hits only name each string's first offset.
"""

from __future__ import annotations

import bisect
import glob
import logging
import math
import os
import re
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yara

from trustwatch.errors import ConfigError

__all__ = [
    "DEFAULT_EXTERNALS",
    "DEFAULT_SCAN_BYTES",
    "DEFAULT_SCAN_TIMEOUT",
    "FALLBACK_PART_BYTES",
    "MATCH_DATA_BYTES",
    "MAX_INCLUDED_BYTES",
    "MAX_INCLUDED_FILES",
    "MAX_INCLUDE_DEPTH",
    "AcceptedRule",
    "RejectedRule",
    "RuleLoad",
    "ScanHits",
    "SlowRule",
    "SourceCounts",
    "YaraHit",
    "load_rule_text",
    "load_rules",
    "rule_score",
]

logger = logging.getLogger(__name__)

#: External variables public rule sets read, defined empty at compile time.
DEFAULT_EXTERNALS: Mapping[str, str] = {
    "filename": "",
    "filepath": "",
    "extension": "",
    "filetype": "",
    "owner": "",
    "md5": "",
    "sha1": "",
    "sha256": "",
    "id": "",
    "file_name": "",
    "file_path": "",
}
#: Bytes of a file scanned by default (the rest is left unscanned).
DEFAULT_SCAN_BYTES = 20 * 1024 * 1024
#: Seconds a scan may take by default.
DEFAULT_SCAN_TIMEOUT = 10.0
#: Bytes at the start and at the end of a window rescanned after a timeout.
FALLBACK_PART_BYTES = 1024 * 1024
#: Bytes of each match YARA copies out (hits keep offsets, never the bytes);
#: not 0, with which YARA 4.5 still held 2.5 GB in a test that 1 keeps to 0.4.
MATCH_DATA_BYTES = 1
#: Includes nested below a loaded file at most, as YARA allows.
MAX_INCLUDE_DEPTH = 15
#: Files one loaded file may take in through its includes.
MAX_INCLUDED_FILES = 1000
#: Bytes of included files one loaded file may take in.
MAX_INCLUDED_BYTES = 32 * 1024 * 1024

_RULE_SUFFIXES = (".yar", ".yara")
_BOM = b"\xef\xbb\xbf"
_HASH_FUNCTIONS = frozenset({"md5", "sha1", "sha256", "imphash"})
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_RULE_START = re.compile(r"^[ \t]*(?:(?:private|global)\s+)*rule\s+\w", re.MULTILINE)
_TWO_CHAR = frozenset({"==", "!=", "<=", ">=", "<<", ">>", ".."})
_MAX_STRINGS_KEPT = 10
_SEVERITY_WORDS = {
    "critical": 0.95,
    "high": 0.85,
    "medium": 0.6,
    "moderate": 0.6,
    "low": 0.3,
    "info": 0.1,
    "informational": 0.1,
}
#: Score of a hit whose rule carries neither ``score`` nor ``severity``.
DEFAULT_RULE_SCORE = 0.8


# ----------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class AcceptedRule:
    """A rule that compiled.

    Attributes
    ----------
    name
        The rule's name.
    source
        The file it is written in.
    namespace
        The namespace it was compiled into.
    tags
        Its tags.
    private
        Whether it is private (never reported as a hit).
    """

    name: str
    source: str
    namespace: str
    tags: tuple[str, ...]
    private: bool = False


@dataclass(frozen=True, slots=True)
class RejectedRule:
    """A rule, or a part of a file, that did not load.

    Attributes
    ----------
    name
        The rule's name, or ``None`` for a problem with the file itself
        (unreadable, an include refused, text outside any rule).
    source
        The file.
    line
        The line in the file where the rule or problem starts.
    reason
        A short category, the same for alike failures (for counting).
    message
        The full message, YARA's own where YARA refused the rule.
    """

    name: str | None
    source: str
    line: int
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class SlowRule:
    """A rule that compiled, with a string YARA warns may slow scanning down.

    Attributes
    ----------
    name, namespace, source
        The rule, the namespace it was compiled into and the file it is
        written in.
    warning
        YARA's warning (the first one for the rule).
    """

    name: str
    namespace: str
    source: str
    warning: str


@dataclass(slots=True)
class SourceCounts:
    """How one rule file loaded.

    Attributes
    ----------
    accepted, rejected
        Rules that compiled and rules that did not.
    lint_fixes
        Hash literals lowercased in the file.
    index
        Whether the file was skipped as an index of files loaded anyway.
    """

    accepted: int = 0
    rejected: int = 0
    lint_fixes: int = 0
    index: bool = False


@dataclass(frozen=True, slots=True)
class YaraHit:
    """One rule that matched a file.

    Attributes
    ----------
    rule, namespace, source
        The rule, its namespace and the file it is written in.
    tags
        The rule's tags.
    meta
        The rule's metadata (author, description, score, ...).
    strings
        Matched string identifiers with their first offset, e.g.
        ``"$a@0x40"`` (at most ten; the matched bytes are not kept).
    score
        Suspicion in ``[0, 1]`` from the rule's ``score`` or ``severity``
        metadata (see :func:`rule_score`).
    evidence
        How the scan went: ``scanned_bytes``, ``size``, ``truncated`` (only
        the first ``scanned_bytes`` were scanned) and ``timed_out``.
    """

    rule: str
    namespace: str
    source: str
    tags: tuple[str, ...]
    meta: dict[str, Any]
    strings: tuple[str, ...]
    score: float
    evidence: dict[str, Any]


class ScanHits(list[YaraHit]):
    """The hits of one scan, with how the scan went.

    A plain list of :class:`YaraHit` to iterate, plus ``scanned_bytes``,
    ``size``, ``truncated``, ``timed_out``, ``error`` (YARA's message when
    the scan failed for another reason, else ``None``) and ``parts``: after
    a timeout, the ends rescanned on their own, each a dict with ``part``
    (``"start"`` or ``"end"``), ``offset``, ``bytes``, ``timed_out`` and
    ``rules_matched``.
    """

    def __init__(
        self,
        hits: Iterable[YaraHit] = (),
        *,
        scanned_bytes: int = 0,
        size: int = 0,
        timed_out: bool = False,
        error: str | None = None,
        parts: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(hits)
        self.scanned_bytes = scanned_bytes
        self.size = size
        self.truncated = size > scanned_bytes
        self.timed_out = timed_out
        self.error = error
        self.parts = [dict(part) for part in parts]

    @property
    def complete(self) -> bool:
        """Whether every rule ran over the whole scanned window."""
        return not self.timed_out and self.error is None


def rule_score(meta: Mapping[str, Any]) -> float:
    """Return a rule's suspicion in ``[0, 1]`` from its metadata.

    ``score`` is read as 0-100 (signature-base's scale) or, when at most 1,
    as a probability; ``severity`` as a word (critical, high, medium, low,
    info) or a number on the same scales. Without either the score is
    :data:`DEFAULT_RULE_SCORE`.

    Examples
    --------
    >>> rule_score({"score": 70}), rule_score({"severity": "low"}), rule_score({})
    (0.7, 0.3, 0.8)
    """
    for key in ("score", "severity"):
        value = meta.get(key)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            word = _SEVERITY_WORDS.get(value.strip().lower())
            if word is not None:
                return word
            try:
                value = float(value)
            except ValueError:
                continue
        number = float(value)
        if math.isnan(number) or number < 0:
            continue
        return min(1.0, number if number <= 1 else number / 100.0)
    return DEFAULT_RULE_SCORE


@dataclass
class RuleLoad:
    """Rules loaded from files: what compiled, what did not and why.

    Attributes
    ----------
    accepted
        Every rule that compiled, in load order.
    rejected
        Every rule or file part that did not, with its reason.
    sources
        Counts per rule file.
    load_seconds
        How long the load took.
    compiled
        The accepted rules compiled together (a ``yara.Rules``), one
        namespace per file; ``None`` when nothing compiled. When YARA warns
        that some files hold strings that slow scanning down (and others do
        not), those files are compiled apart into ``slow_compiled`` and
        scanned second, so they cannot use up the time of the rest.
    rule_sources
        The file each rule is written in, by ``(namespace, rule name)``
        (an included rule is written in the included file).
    slow_compiled
        The rules of the files YARA warned are slow, or ``None``.
    slow_namespaces
        The namespaces (files) in ``slow_compiled``.
    slow_rules
        Every accepted rule YARA warns holds a string that may slow scanning
        down, whether or not its file could be scanned apart.
    """

    accepted: list[AcceptedRule] = field(default_factory=list)
    rejected: list[RejectedRule] = field(default_factory=list)
    sources: dict[str, SourceCounts] = field(default_factory=dict)
    load_seconds: float = 0.0
    compiled: Any = None
    rule_sources: dict[tuple[str, str], str] = field(default_factory=dict)
    slow_compiled: Any = None
    slow_namespaces: set[str] = field(default_factory=set)
    slow_rules: list[SlowRule] = field(default_factory=list)

    @property
    def lint_fixes(self) -> int:
        """Hash literals lowercased over all files."""
        return sum(counts.lint_fixes for counts in self.sources.values())

    @property
    def index_files(self) -> int:
        """Files skipped as indexes of files loaded anyway."""
        return sum(counts.index for counts in self.sources.values())

    def reason_counts(self) -> Counter[str]:
        """Return how many rejects each reason has, most common first."""
        return Counter(reject.reason for reject in self.rejected)

    def scan(
        self,
        data: bytes,
        *,
        timeout: float = DEFAULT_SCAN_TIMEOUT,
        max_bytes: int = DEFAULT_SCAN_BYTES,
        file_name: str | None = None,
        size: int | None = None,
    ) -> ScanHits:
        """Scan bytes with every accepted rule, within time and size limits.

        Parameters
        ----------
        data
            The file's content (or its first bytes).
        timeout
            Seconds the scan may take; YARA counts whole seconds, so this is
            rounded up. A scan that runs out is flagged ``timed_out``, and
            the window's first and last :data:`FALLBACK_PART_BYTES` are
            rescanned with the time left (at least one second each).
        max_bytes
            Only the first ``max_bytes`` are scanned; hits then say
            ``truncated`` in their evidence.
        file_name
            The file's name, given to rules as the ``filename`` and
            ``extension`` externals.
        size
            The file's whole size when ``data`` is only its start.

        Returns
        -------
        ScanHits
            The hits of public rules, one per rule and defining file.

        Raises
        ------
        ConfigError
            When ``timeout`` or ``max_bytes`` is not positive.
        """
        if not timeout > 0:
            raise ConfigError(f"timeout={timeout} must be positive; hint: seconds")
        if max_bytes <= 0:
            raise ConfigError(f"max_bytes={max_bytes} must be positive; hint: bytes")
        total = max(len(data), size or 0)
        window = data[:max_bytes]
        if self.compiled is None:
            return ScanHits(scanned_bytes=len(window), size=total)
        began = time.monotonic()
        externals = _scan_externals(file_name)
        stages = [("all", self.compiled)]
        if self.slow_compiled is not None:
            stages = [("fast", self.compiled), ("slow", self.slow_compiled)]
        hits: dict[tuple[str, str], YaraHit] = {}
        parts: list[dict[str, Any]] = []
        timed_out = False
        errors: list[str] = []
        flooded: list[str] = []
        for stage, compiled in stages:
            left = timeout - (time.monotonic() - began)
            whole = self._match(compiled, window, max(1.0, left), externals)
            timed_out = timed_out or whole.timed_out
            flooded.extend(whole.flooded)
            evidence: dict[str, Any] = {
                "scanned_bytes": len(window),
                "size": total,
                "truncated": total > len(window),
                "timed_out": whole.timed_out,
            }
            if len(stages) > 1:
                evidence["stage"] = stage
            if whole.flooded:
                evidence["too_many_matches"] = whole.flooded
            for match in whole.matches:
                hit = self._hit(match, evidence)
                hits.setdefault((hit.source, hit.rule), hit)
            if whole.error:
                logger.warning("yara scan failed: %s", whole.error)
                errors.append(whole.error)
            if not whole.timed_out:
                continue
            logger.warning("yara scan (%s rules) ran out of time", stage)
            for label, start, end in _fallback_parts(len(window)):
                left = timeout - (time.monotonic() - began)
                part = self._match(
                    compiled, window[start:end], max(1.0, left), externals
                )
                summary = {
                    "part": label,
                    "offset": start,
                    "bytes": end - start,
                    "timed_out": part.timed_out,
                    "rules_matched": len(part.matches),
                    "stage": stage,
                }
                parts.append(summary)
                for match in part.matches:
                    hit = self._hit(match, {**evidence, "scanned_part": summary}, start)
                    hits.setdefault((hit.source, hit.rule), hit)
        if flooded:
            logger.info("yara strings matched too often: %d", len(flooded))
        return ScanHits(
            hits.values(),
            scanned_bytes=len(window),
            size=total,
            timed_out=timed_out,
            error="; ".join(errors) or None,
            parts=parts,
        )

    def _match(
        self,
        compiled: Any,
        window: bytes,
        timeout: float,
        externals: Mapping[str, str],
    ) -> _MatchOutcome:
        """Run compiled rules over ``window`` once, within ``timeout``."""
        outcome = _MatchOutcome()

        # keep each rule's first offsets only: YARA's instance lists are freed
        def collect(match: Mapping[str, Any]) -> int:
            outcome.matches.append(_first_offsets(match))
            return int(yara.CALLBACK_CONTINUE)

        # a string matching too often stops counting; the rule still decides
        def warned(kind: int, detail: Any) -> int:
            if kind == yara.CALLBACK_TOO_MANY_MATCHES and len(outcome.flooded) < 20:
                outcome.flooded.append(
                    f"{getattr(detail, 'rule', '?')}:{detail.string}"
                )
            return int(yara.CALLBACK_CONTINUE)

        # process-wide; set before each scan so that nothing else changes it
        yara.set_config(max_match_data=MATCH_DATA_BYTES)
        try:
            compiled.match(
                data=window,
                timeout=max(1, math.ceil(timeout)),
                externals=dict(externals),
                callback=collect,
                which_callbacks=yara.CALLBACK_MATCHES,
                warnings_callback=warned,
                fast=True,
            )
        except yara.TimeoutError:
            outcome.timed_out = True
        except yara.Error as exc:
            outcome.error = str(exc)
        return outcome

    def _hit(
        self, match: Mapping[str, Any], evidence: dict[str, Any], base: int = 0
    ) -> YaraHit:
        rule = str(match.get("rule", ""))
        namespace = str(match.get("namespace", ""))
        meta = dict(match.get("meta") or {})
        strings = [
            f"{identifier}@{base + offset:#x}"
            for identifier, offset in match.get("strings") or ()
        ]
        return YaraHit(
            rule=rule,
            namespace=namespace,
            source=self.rule_sources.get((namespace, rule), namespace),
            tags=tuple(str(tag) for tag in match.get("tags") or ()),
            meta=meta,
            strings=tuple(strings),
            score=rule_score(meta),
            evidence=dict(evidence),
        )


def _first_offsets(match: Mapping[str, Any]) -> dict[str, Any]:
    """The match without its instances: each string's first offset (ten at most)."""
    strings: list[tuple[str, int]] = []
    for found in match.get("strings") or ():
        instances = getattr(found, "instances", ())
        if instances:
            strings.append((str(found.identifier), int(instances[0].offset)))
        if len(strings) >= _MAX_STRINGS_KEPT:
            break
    return {**match, "strings": strings}


@dataclass
class _MatchOutcome:
    """What one run of compiled rules found; ``matches`` keep first offsets only."""

    matches: list[Mapping[str, Any]] = field(default_factory=list)
    flooded: list[str] = field(default_factory=list)
    timed_out: bool = False
    error: str | None = None


def _fallback_parts(length: int) -> list[tuple[str, int, int]]:
    """The ends of a window rescanned after a timeout: ``(label, start, end)``.

    Nothing is rescanned when the window is no longer than one part (the
    whole of it already ran out of time).
    """
    if length <= FALLBACK_PART_BYTES:
        return []
    parts = [("start", 0, FALLBACK_PART_BYTES)]
    parts.append(
        ("end", max(FALLBACK_PART_BYTES, length - FALLBACK_PART_BYTES), length)
    )
    return parts


def _scan_externals(file_name: str | None) -> dict[str, str]:
    externals = dict(DEFAULT_EXTERNALS)
    if file_name:
        base = os.path.basename(file_name)
        externals["filename"] = base
        externals["file_name"] = base
        externals["extension"] = os.path.splitext(base)[1].lower()
    return externals


# --------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ident, var, string, regex, number, punct
    text: str
    start: int
    end: int


class _LexError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def _lex(text: str, start: int = 0) -> Iterator[_Token]:
    """Yield the tokens of YARA source, skipping whitespace and comments."""
    pos = start
    size = len(text)
    while pos < size:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif text.startswith("//", pos):
            newline = text.find("\n", pos)
            pos = size if newline < 0 else newline + 1
        elif text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            if close < 0:
                raise _LexError("unterminated comment", pos)
            pos = close + 2
        elif char == '"':
            end = _quoted_end(text, pos, '"', "unterminated text string")
            yield _Token("string", text[pos:end], pos, end)
            pos = end
        elif char == "/":
            end = _quoted_end(text, pos, "/", "unterminated regular expression")
            while end < size and text[end] in "is":
                end += 1
            yield _Token("regex", text[pos:end], pos, end)
            pos = end
        elif char.isalpha() or char == "_":
            end = pos + 1
            while end < size and (text[end].isalnum() or text[end] == "_"):
                end += 1
            yield _Token("ident", text[pos:end], pos, end)
            pos = end
        elif (
            char in "$#@!"
            and pos + 1 < size
            and (text[pos + 1].isalnum() or text[pos + 1] in "_*")
        ):
            end = pos + 1
            while end < size and (text[end].isalnum() or text[end] in "_*"):
                end += 1
            yield _Token("var", text[pos:end], pos, end)
            pos = end
        elif char.isdigit():
            end = pos + 1
            while end < size and (text[end].isalnum() or text[end] in "_."):
                if text.startswith("..", end):
                    break
                end += 1
            yield _Token("number", text[pos:end], pos, end)
            pos = end
        else:
            pair = text[pos : pos + 2]
            width = 2 if pair in _TWO_CHAR else 1
            yield _Token("punct", text[pos : pos + width], pos, pos + width)
            pos += width


def _quoted_end(text: str, pos: int, quote: str, problem: str) -> int:
    """Return the offset after the closing quote of a string or regex."""
    index = pos + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "\n":
            break
        if char == quote:
            return index + 1
        index += 1
    raise _LexError(problem, pos)


@dataclass
class _RuleText:
    name: str
    start: int
    end: int
    line: int
    tags: tuple[str, ...]
    private: bool
    is_global: bool
    referenced: set[str]
    #: Rule-set wildcards in the condition (``any of (Prefix*)``), by prefix.
    prefixes: frozenset[str] = frozenset()


@dataclass
class _Split:
    imports: list[tuple[str, int, int]] = field(default_factory=list)
    includes: list[tuple[str, int, int]] = field(default_factory=list)
    rules: list[_RuleText] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)
    hash_literals: list[tuple[int, int]] = field(default_factory=list)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _split(text: str) -> _Split:
    """Split YARA source into imports, includes and rules; note what is not."""
    split = _Split()
    pos = 0
    while pos < len(text):
        try:
            pos = _split_from(text, pos, split)
        except _LexError as exc:
            line = _line_of(text, exc.offset)
            split.problems.append((exc.offset, "unparseable", f"line {line}: {exc}"))
            resume = _RULE_START.search(text, exc.offset + 1)
            if resume is None:
                break
            pos = resume.start()
    return split


def _split_from(text: str, pos: int, split: _Split) -> int:
    tokens = _lex(text, pos)
    junk_at: int | None = None
    for token in tokens:
        if token.kind == "ident" and token.text in ("import", "include"):
            value = next(tokens, None)
            if value is None or value.kind != "string":
                raise _LexError(f"{token.text} without a quoted name", token.start)
            target = split.imports if token.text == "import" else split.includes
            target.append((_unquote(value.text), token.start, value.end))
            junk_at = None
            continue
        if token.kind == "ident" and token.text in ("private", "global", "rule"):
            rule = _read_rule(text, token, tokens, split)
            split.rules.append(rule)
            junk_at = None
            return rule.end
        if junk_at is None:
            junk_at = token.start
            line = _line_of(text, token.start)
            split.problems.append(
                (
                    token.start,
                    "text outside any rule",
                    f"line {line}: unexpected {token.text[:40]!r} outside any rule",
                )
            )
    return len(text)


def _read_rule(
    text: str, first: _Token, tokens: Iterator[_Token], split: _Split
) -> _RuleText:
    modifiers: set[str] = set()
    token: _Token | None = first
    while token is not None and token.text in ("private", "global"):
        modifiers.add(token.text)
        token = next(tokens, None)
    if token is None or token.text != "rule":
        raise _LexError("a rule modifier without a rule", first.start)
    name_token = next(tokens, None)
    if name_token is None or name_token.kind != "ident":
        raise _LexError("a rule without a name", first.start)
    tags: list[str] = []
    token = next(tokens, None)
    if token is not None and token.text == ":":
        token = next(tokens, None)
        while token is not None and token.kind == "ident":
            tags.append(token.text)
            token = next(tokens, None)
    if token is None or token.text != "{":
        raise _LexError(f"rule {name_token.text} has no body", first.start)
    depth = 1
    in_condition = False
    condition_at = 0
    referenced: set[str] = set()
    body: list[_Token] = []
    for token in tokens:
        body.append(token)
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth -= 1
            if depth == 0:
                break
        elif (
            token.text == ":"
            and len(body) > 1
            and body[-2].text == "condition"
            and depth == 1
        ):
            in_condition = True
            condition_at = len(body)
        elif in_condition and token.kind == "ident":
            referenced.add(token.text)
    else:
        raise _LexError(f"rule {name_token.text} is not closed", first.start)
    split.hash_literals.extend(_hash_literals(body))
    return _RuleText(
        name=name_token.text,
        start=first.start,
        end=body[-1].end,
        line=_line_of(text, first.start),
        tags=tuple(tags),
        private="private" in modifiers,
        is_global="global" in modifiers,
        referenced=referenced,
        prefixes=_rule_wildcards(body[condition_at:]) if in_condition else frozenset(),
    )


def _rule_wildcards(condition: Sequence[_Token]) -> frozenset[str]:
    """The prefixes of rule-set wildcards such as ``any of (Prefix*, Other)``.

    A wildcard is a name with ``*`` right after it (no space) that ends a set
    item; ``count*2`` is multiplication, not a wildcard.
    """
    found = set()
    for index in range(len(condition) - 2):
        name, star, after = condition[index : index + 3]
        if (
            name.kind == "ident"
            and star.text == "*"
            and star.start == name.end
            and after.text in (",", ")")
        ):
            found.add(name.text)
    return frozenset(found)


def _hash_literals(body: Sequence[_Token]) -> Iterator[tuple[int, int]]:
    """Yield spans of uppercase hex literals compared to a hash function."""
    for index, token in enumerate(body):
        if token.kind != "string" or not _HEX_DIGEST.fullmatch(token.text[1:-1]):
            continue
        if token.text == token.text.lower():
            continue
        after = body[index + 1 : index + 4]
        before = body[max(0, index - 1) : index]
        if (
            before
            and before[0].text in ("==", "!=")
            and _called_before(body, index - 1)
        ) or (
            len(after) == 3
            and after[0].text in ("==", "!=")
            and after[1].kind == "ident"
            and _names_hash(body, index + 2)
        ):
            yield token.start, token.end


def _called_before(body: Sequence[_Token], operator: int) -> bool:
    """Whether the tokens before ``operator`` end with ``hash_fn(...)``."""
    index = operator - 1
    if index < 0 or body[index].text != ")":
        return False
    depth = 0
    while index >= 0:
        if body[index].text == ")":
            depth += 1
        elif body[index].text == "(":
            depth -= 1
            if depth == 0:
                break
        index -= 1
    return index > 0 and body[index - 1].text in _HASH_FUNCTIONS


def _names_hash(body: Sequence[_Token], start: int) -> bool:
    """Whether ``module.function(`` at ``start`` calls a hash function."""
    window = [token.text for token in body[start : start + 4]]
    return len(window) == 4 and window[1] == "." and window[2] in _HASH_FUNCTIONS


def _unquote(literal: str) -> str:
    return literal[1:-1].replace('\\"', '"').replace("\\\\", "\\")


# ------------------------------------------------------------------ loader


@dataclass
class _FileUnit:
    path: Path
    namespace: str
    text: str
    split: _Split
    prelude: str = ""
    prelude_rules: dict[str, str] = field(default_factory=dict)


def load_rules(
    paths: Iterable[str | os.PathLike[str]],
    *,
    externals: Mapping[str, str] | None = None,
) -> RuleLoad:
    """Load YARA rules from files, folders and globs, each rule on its own.

    Parameters
    ----------
    paths
        Rule files, folders (searched recursively for ``.yar`` and
        ``.yara`` files) or glob patterns.
    externals
        External variables to define, on top of :data:`DEFAULT_EXTERNALS`.

    Returns
    -------
    RuleLoad
        The accepted and rejected rules with reasons, counts per file, and
        the compiled rules ready to :meth:`~RuleLoad.scan`.

    Raises
    ------
    ConfigError
        When a path matches no rule file.
    """
    began = time.perf_counter()
    defined = {**DEFAULT_EXTERNALS, **(externals or {})}
    files, roots = _rule_files(paths)
    load = RuleLoad()
    loaded = {path.resolve() for path, _ in files}
    sources: dict[str, str] = {}
    for path, root in files:
        unit = _read_unit(path, root, load)
        if unit is None:
            continue
        counts = load.sources.setdefault(str(path), SourceCounts())
        if not unit.split.rules and unit.split.includes and _all_loaded(unit, loaded):
            counts.index = True
            continue
        _resolve_includes(unit, roots, load)
        source = _load_unit(unit, defined, load, counts)
        if source is not None:
            sources[unit.namespace] = source
    return _finish(load, sources, defined, began)


def load_rule_text(
    text: str,
    *,
    name: str = "inline.yar",
    externals: Mapping[str, str] | None = None,
) -> RuleLoad:
    """Load YARA rules from text, each rule on its own, as :func:`load_rules`.

    The text has no folder, so any ``include`` in it is refused.

    Parameters
    ----------
    text
        YARA source.
    name
        The name the rules are reported under (their source and namespace).
    externals
        External variables to define, on top of :data:`DEFAULT_EXTERNALS`.
    """
    began = time.perf_counter()
    defined = {**DEFAULT_EXTERNALS, **(externals or {})}
    load = RuleLoad()
    text = text.removeprefix("\ufeff")
    unit = _FileUnit(Path(name), name, text, _split(text))
    counts = load.sources.setdefault(name, SourceCounts())
    _resolve_includes(unit, (), load)
    source = _load_unit(unit, defined, load, counts)
    return _finish(load, {name: source} if source else {}, defined, began)


def _finish(
    load: RuleLoad, sources: dict[str, str], defined: Mapping[str, str], began: float
) -> RuleLoad:
    """Compile the accepted sources together, one namespace each."""
    if sources:
        try:
            load.compiled = yara.compile(
                sources=sources, externals=defined, includes=False
            )
            slow_rules = _slow_rules(load.compiled, sources, defined)
            load.slow_rules = [
                SlowRule(name, namespace, _source_of(load, namespace, name), warning)
                for namespace, found in slow_rules.items()
                for name, warning in found
            ]
            slow = set(slow_rules)
            if slow and len(slow) < len(sources):
                load.slow_namespaces = slow
                load.compiled = yara.compile(
                    sources={n: t for n, t in sources.items() if n not in slow},
                    externals=defined,
                    includes=False,
                )
                load.slow_compiled = yara.compile(
                    sources={n: t for n, t in sources.items() if n in slow},
                    externals=defined,
                    includes=False,
                )
        except yara.Error as exc:
            raise ConfigError(
                f"rules that compiled one file at a time failed together: {exc}; "
                "hint: report this rule set"
            ) from exc
    load.load_seconds = time.perf_counter() - began
    logger.info(
        "yara rules loaded accepted=%d rejected=%d files=%d seconds=%.2f",
        len(load.accepted),
        len(load.rejected),
        len(load.sources),
        load.load_seconds,
    )
    return load


_SLOW_WARNING = re.compile(r"slow(?:ing)? down scanning")


_WARNING_LINE = re.compile(r"^line (\d+): ")


def _slow_rules(
    compiled: Any, sources: Mapping[str, str], defined: Mapping[str, str]
) -> dict[str, list[tuple[str, str]]]:
    """The rules YARA warns hold a string that slows scanning down.

    Returns ``(rule name, YARA's warning)`` pairs by namespace, for the
    namespaces that hold any.
    """
    warnings = getattr(compiled, "warnings", None) or ()
    if not any(_SLOW_WARNING.search(str(w)) for w in warnings):
        return {}
    slow: dict[str, list[tuple[str, str]]] = {}
    for namespace, text in sources.items():
        alone = yara.compile(source=text, externals=defined, includes=False)
        found = [str(w) for w in alone.warnings or () if _SLOW_WARNING.search(str(w))]
        if found:
            slow[namespace] = _rules_warned(text, found)
    return slow


def _rules_warned(text: str, warnings: Sequence[str]) -> list[tuple[str, str]]:
    """Name the rule of ``text`` each warning's line falls in, once per rule."""
    rules = sorted(_split(text).rules, key=lambda rule: rule.end)
    # each rule's first and last line, counted in one pass over the text: a
    # file of thousands of rules and warnings must not be recounted per pair
    spans: list[tuple[int, int, str]] = []
    line, counted = 1, 0
    for rule in rules:
        line += text.count("\n", counted, rule.end)
        counted = rule.end
        spans.append((rule.line, line, rule.name))
    spans.sort()
    starts = [first for first, _, _ in spans]
    named: dict[str, str] = {}
    for warning in warnings:
        found = _WARNING_LINE.match(warning)
        number = int(found.group(1)) if found else 0
        index = bisect.bisect_right(starts, number) - 1
        if index >= 0 and number <= spans[index][1]:
            named.setdefault(spans[index][2], warning)
        else:
            named.setdefault("?", warning)  # a line YARA names outside any rule
    return list(named.items())


def _source_of(load: RuleLoad, namespace: str, name: str) -> str:
    return load.rule_sources.get((namespace, name), namespace)


def _rule_files(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Return each rule file with the folder it was found under, and the roots."""
    files: dict[Path, Path] = {}
    roots: list[Path] = []
    for raw in paths:
        text = os.fspath(raw)
        if not text.strip():
            raise ConfigError("a rule path is empty; hint: is a shell variable unset?")
        path = Path(text)
        if path.is_dir():
            root = path.resolve()
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in _RULE_SUFFIXES
            )
            pairs = [(p, root) for p in found if p.is_file()]
        elif path.is_file():
            pairs = [(path, path.resolve().parent)]
        else:
            matched = sorted(glob.glob(text, recursive=True))
            pairs = [
                (Path(m), Path(m).resolve().parent)
                for m in matched
                if Path(m).is_file() and Path(m).suffix.lower() in _RULE_SUFFIXES
            ]
        if not pairs:
            raise ConfigError(
                f"no YARA rule file at {text!r}; hint: give .yar/.yara files, "
                "a folder holding them, or a glob"
            )
        for file, root in pairs:
            files.setdefault(file, root)
            if root not in roots:
                roots.append(root)
    return list(files.items()), roots


def _read_unit(path: Path, root: Path, load: RuleLoad) -> _FileUnit | None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        load.rejected.append(
            RejectedRule(None, str(path), 0, "unreadable file", str(exc))
        )
        load.sources.setdefault(str(path), SourceCounts())
        return None
    raw = raw.removeprefix(_BOM)  # editors on Windows write one; YARA refuses it
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        namespace = path.resolve().relative_to(root).as_posix()
    except ValueError:
        namespace = path.name
    return _FileUnit(path, namespace, text, _split(text))


def _all_loaded(unit: _FileUnit, loaded: set[Path]) -> bool:
    return all(
        (unit.path.parent / name).resolve() in loaded
        for name, _, _ in unit.split.includes
    )


def _resolve_includes(unit: _FileUnit, roots: Sequence[Path], load: RuleLoad) -> None:
    """Expand the unit's includes into its prelude, or reject them.

    Each file is taken in once however often it is included; an include that
    is refused adds nothing of what it leads to (the files it took in may
    still come in through another include).
    """
    includes = _Includes(roots)
    pieces: list[str] = []
    for name, start, _ in unit.split.includes:
        mark = len(includes.taken)
        try:
            included = includes.expand(
                unit.path.resolve(), name, (unit.path.resolve(),)
            )
        except _IncludeRefused as exc:
            includes.forget(mark)
            load.rejected.append(
                RejectedRule(
                    None,
                    str(unit.path),
                    _line_of(unit.text, start),
                    exc.reason,
                    f"include {name!r}: {exc}",
                )
            )
            continue
        for path, text, split in included:
            pieces.append(text)
            for rule in split.rules:
                unit.prelude_rules.setdefault(rule.name, str(path))
    unit.prelude = "\n".join(pieces)


class _IncludeRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class _Includes:
    """The includes of one loaded file, as they are expanded.

    Attributes
    ----------
    roots
        The folders includes may point into.
    taken
        The files taken in so far, in order (each once).
    files, size
        Files read and bytes read so far, refused includes counted too, so
        that the work stays bounded however the includes fail.
    """

    roots: Sequence[Path]
    taken: list[Path] = field(default_factory=list)
    seen: set[Path] = field(default_factory=set)
    files: int = 0
    size: int = 0

    def forget(self, mark: int) -> None:
        """Drop the files taken in after ``mark`` (their include was refused)."""
        for path in self.taken[mark:]:
            self.seen.discard(path)
        del self.taken[mark:]

    def expand(
        self, including: Path, name: str, chain: tuple[Path, ...]
    ) -> list[tuple[Path, str, _Split]]:
        """Return the included file's text, its own includes expanded first.

        A file taken in already adds nothing: YARA would find each of its
        rules defined twice.
        """
        target = (including.parent / name).resolve()
        if not any(target.is_relative_to(root) for root in self.roots):
            raise _IncludeRefused(
                "include outside the loaded folders",
                "points outside the folders being loaded; refused",
            )
        if target in chain:
            loop = " -> ".join(p.name for p in (*chain, target))
            raise _IncludeRefused("include cycle", f"include cycle {loop}")
        if target in self.seen:
            return []
        if len(chain) > MAX_INCLUDE_DEPTH:
            nesting = " -> ".join(p.name for p in (*chain, target))
            raise _IncludeRefused(
                "include depth exceeded",
                f"includes nested more than {MAX_INCLUDE_DEPTH} deep, as YARA "
                f"refuses: {nesting}",
            )
        text = self._read(target)
        self.seen.add(target)
        self.taken.append(target)
        split = _split(text)
        expanded: list[tuple[Path, str, _Split]] = []
        for inner, _, _ in split.includes:
            expanded.extend(self.expand(target, inner, (*chain, target)))
        blanked = _blank_spans(text, [(s, e) for _, s, e in split.includes])
        expanded.append((target, blanked, split))
        return expanded

    def _read(self, target: Path) -> str:
        """Read an included file within the budget."""
        self.files += 1
        if self.files > MAX_INCLUDED_FILES:
            raise _IncludeRefused(
                "includes too large",
                f"takes in more than {MAX_INCLUDED_FILES:,} files; hint: load "
                "their folder instead",
            )
        try:
            if not target.is_file():
                raise _IncludeRefused(
                    "include not found", f"{target.name} is not a regular file"
                )
            with target.open("rb") as handle:
                data = handle.read(MAX_INCLUDED_BYTES - self.size + 1)
        except OSError as exc:
            raise _IncludeRefused("include not found", str(exc)) from exc
        self.size += len(data)
        if self.size > MAX_INCLUDED_BYTES:
            raise _IncludeRefused(
                "includes too large",
                f"takes in more than {MAX_INCLUDED_BYTES:,} bytes; hint: load "
                "their folder instead",
            )
        return data.removeprefix(_BOM).decode("utf-8", errors="replace")


def _blank_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Replace spans with spaces, keeping newlines so line numbers hold."""
    chars = list(text)
    for start, end in spans:
        for index in range(start, end):
            if chars[index] != "\n":
                chars[index] = " "
    return "".join(chars)


def _lint(unit: _FileUnit) -> tuple[str, int]:
    """Lowercase hash literals; return the fixed text and how many changed."""
    text = unit.text
    fixes = unit.split.hash_literals
    for start, end in sorted(fixes, reverse=True):
        text = text[:start] + text[start:end].lower() + text[end:]
    return text, len(fixes)


def _compile_error(source: str, defined: Mapping[str, str]) -> str | None:
    try:
        yara.compile(source=source, externals=defined, includes=False)
    except yara.Error as exc:
        return str(exc)
    return None


def _load_unit(
    unit: _FileUnit,
    defined: Mapping[str, str],
    load: RuleLoad,
    counts: SourceCounts,
) -> str | None:
    """Compile one file, rule by rule when whole fails; return its source."""
    text, counts.lint_fixes = _lint(unit)
    source_path = str(unit.path)
    for offset, reason, message in unit.split.problems:
        load.rejected.append(
            RejectedRule(None, source_path, _line_of(text, offset), reason, message)
        )
    body = _blank_spans(text, [(s, e) for _, s, e in unit.split.includes])
    whole = f"{unit.prelude}\n{body}" if unit.prelude else body
    if unit.split.problems or _compile_error(whole, defined) is not None:
        kept, header = _rule_by_rule(unit, text, defined, load)
        if not kept:
            counts.rejected = sum(
                1 for r in load.rejected if r.source == source_path and r.name
            )
            return None
        whole = "\n".join([header, *(text[r.start : r.end] for r in kept)])
        accepted = kept
    else:
        accepted = _distinct(unit.split.rules)
    for rule in accepted:
        load.accepted.append(
            AcceptedRule(
                rule.name, source_path, unit.namespace, rule.tags, rule.private
            )
        )
        load.rule_sources[(unit.namespace, rule.name)] = source_path
    for name, path in unit.prelude_rules.items():
        load.rule_sources.setdefault((unit.namespace, name), path)
    counts.accepted = len(accepted)
    counts.rejected = sum(
        1 for r in load.rejected if r.source == source_path and r.name
    )
    return whole


def _distinct(rules: Sequence[_RuleText]) -> list[_RuleText]:
    seen: set[str] = set()
    kept = []
    for rule in rules:
        if rule.name not in seen:
            seen.add(rule.name)
            kept.append(rule)
    return kept


def _rule_by_rule(
    unit: _FileUnit, text: str, defined: Mapping[str, str], load: RuleLoad
) -> tuple[list[_RuleText], str]:
    """Compile each rule with what it needs.

    Returns the rules that compiled and the header (imports and includes)
    they compiled with.
    """
    source_path = str(unit.path)
    imports = [(name, text[s:e]) for name, s, e in unit.split.imports]
    working_imports: list[str] = []
    missing_modules: dict[str, str] = {}
    for name, statement in imports:
        problem = _compile_error(statement, defined)
        if problem is None:
            working_imports.append(statement)
        else:
            missing_modules[name] = problem
    header = "\n".join([*working_imports, unit.prelude])
    include_problem = None
    if unit.prelude:
        include_problem = _compile_error(header, defined)
    if include_problem is not None:
        header = "\n".join(working_imports)
        first_include = min(start for _, start, _ in unit.split.includes)
        load.rejected.append(
            RejectedRule(
                None,
                source_path,
                _line_of(text, first_include),
                "included files do not compile",
                f"the included files do not compile: {include_problem}",
            )
        )
    by_name: dict[str, _RuleText] = {}
    accepted: dict[str, _RuleText] = {}
    refused: dict[str, str] = {}
    globals_: list[_RuleText] = []
    kept: list[_RuleText] = []
    for rule in unit.split.rules:

        def reject(reason: str, message: str, rule: _RuleText = rule) -> None:
            load.rejected.append(
                RejectedRule(rule.name, source_path, rule.line, reason, message)
            )
            refused.setdefault(rule.name, reason)

        if rule.name in by_name:
            first = by_name[rule.name].line
            reject(
                "duplicate rule name", f"{rule.name} is defined again (line {first})"
            )
            continue
        by_name[rule.name] = rule
        needed = _dependencies(rule, by_name)
        broken = [name for name in needed if name in refused]
        if broken:
            reject(
                "depends on a rejected rule",
                f"{rule.name} needs rule {broken[0]}, which was rejected",
            )
            continue
        if include_problem is not None:
            included = _named(rule, unit.prelude_rules.keys() - by_name.keys())
            if included:
                reject(
                    "depends on an include that does not compile",
                    f"{rule.name} needs rule {included[0]} from "
                    f"{unit.prelude_rules[included[0]]}, but the included files "
                    f"do not compile: {_reason_of(include_problem)}",
                )
                continue
        modules = sorted(missing_modules.keys() & rule.referenced)
        if modules:
            reject(
                f"module {modules[0]!r} unavailable",
                f"{rule.name} uses module {modules[0]!r}: "
                f"{missing_modules[modules[0]]}",
            )
            continue
        parts = [header]
        parts.extend(text[g.start : g.end] for g in globals_ if g.name not in needed)
        parts.extend(text[accepted[n].start : accepted[n].end] for n in needed)
        parts.append(text[rule.start : rule.end])
        problem = _compile_error("\n".join(parts), defined)
        if problem is not None:
            reject(_reason_of(problem), f"{rule.name}: {_reason_of(problem)}")
            continue
        accepted[rule.name] = rule
        kept.append(rule)
        if rule.is_global:
            globals_.append(rule)
    return kept, header


def _dependencies(rule: _RuleText, by_name: Mapping[str, _RuleText]) -> list[str]:
    """The earlier rules of the file that ``rule`` needs, transitively, in order.

    A rule needs the rules it names and the earlier ones its wildcards match.
    """

    def earlier(needing: _RuleText) -> list[str]:
        return [n for n in _named(needing, by_name) if by_name[n].start < needing.start]

    found: set[str] = set()
    pending = earlier(rule)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        pending.extend(n for n in earlier(by_name[name]) if n not in found)
    return sorted(found, key=lambda n: by_name[n].start)


def _named(rule: _RuleText, names: Collection[str]) -> list[str]:
    """The ``names`` that ``rule``'s condition names or matches with a wildcard."""
    found = {n for n in rule.referenced if n in names}
    for prefix in rule.prefixes:
        found.update(n for n in names if n.startswith(prefix))
    found.discard(rule.name)
    return sorted(found)


_LINE_PREFIX = re.compile(r"^(?:line \d+: )")


def _reason_of(message: str) -> str:
    """A short category for a YARA error: the message without its line."""
    return _LINE_PREFIX.sub("", message.strip())[:80]
