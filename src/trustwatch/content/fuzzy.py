"""Fuzzy hashes (TLSH, ssdeep), an index to match them, and fuzzy-hash intel.

Repacked or lightly edited malware keeps most of its bytes, so its fuzzy
hash stays close to the known sample's while its SHA-256 changes.

- **TLSH** comes from ``py-tlsh`` (a C++ extension built at install time).
  Two digests match when their distance is at most a threshold (0 means
  identical; under about 30 is very similar). :class:`FuzzyIndex` keeps
  digests in buckets by their length byte: TLSH adds 12 to the distance per
  step of difference there, so only a few neighbouring buckets can hold a
  match and the rest are never compared.
- **ssdeep** comes from ``pydeep2`` (a wheel), else from the pure-Python
  ``ppdeep``. Two digests match when their compare score (0-100) is at
  least a threshold. ssdeep scores 0 unless the digests share a run of 7
  characters at comparable block sizes, so the index keys every 7-character
  run by block size and compares only digests that share one.

Both libraries are the ``fuzzy`` extra (``pip install trustwatch[fuzzy]``).
Without one, its hash is left out of :func:`fuzzy_hashes` and matching it
raises :class:`~trustwatch.errors.ConfigError` saying what to install; an
intel line of that hash is rejected (``fuzzy_hash_unavailable``) with the
same words, as it could never match.

Fuzzy-hash intel (:class:`FuzzyIntel`) is a text file of known-bad hashes,
one a line, ``tlsh:`` or ``ssdeep:`` then the digest, with an optional
``;`` and a comment (a family name, a report); blank lines and lines
starting with ``#`` are skipped::

    # samples from incident 42
    tlsh:T1F6B19524E6514D7D1F175ADCD04E44DF554FCDE302C5002517F186D1C510294440ED1D
    ssdeep:384:mwf9n23FohzVCm3b7Fzc:rfCohBtxzkN7waZW ; dropper, March build
"""

from __future__ import annotations

import importlib
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from trustwatch.errors import ConfigError

__all__ = [
    "DEFAULT_SSDEEP_MIN_SCORE",
    "DEFAULT_TLSH_MAX_DISTANCE",
    "FuzzyEntry",
    "FuzzyIndex",
    "FuzzyIntel",
    "FuzzyMatch",
    "FuzzyReject",
    "available_algorithms",
    "fuzzy_hashes",
    "ssdeep_compare",
    "tlsh_distance",
]

#: Largest TLSH distance counted as a match by default.
DEFAULT_TLSH_MAX_DISTANCE = 30
#: Smallest ssdeep score counted as a match by default.
DEFAULT_SSDEEP_MIN_SCORE = 60

_INSTALL_HINT = "hint: pip install 'trustwatch[fuzzy]' (py-tlsh needs a C++ compiler)"
_TLSH_DIGEST = re.compile(r"(?:T1)?[0-9A-Fa-f]{70}")
_SSDEEP_DIGEST = re.compile(r"(\d+):([0-9A-Za-z+/]*):([0-9A-Za-z+/]*)")
_REPEATS = re.compile(r"(.)\1{3,}")
_GRAM = 7
_TLSH_LENGTH_STEP = 12


def _optional(*names: str) -> ModuleType | None:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_tlsh = _optional("tlsh")
_ssdeep = _optional("pydeep", "ppdeep")


def available_algorithms() -> tuple[str, ...]:
    """Return the fuzzy hashes this installation can compute and compare."""
    found = []
    if _tlsh is not None:
        found.append("tlsh")
    if _ssdeep is not None:
        found.append("ssdeep")
    return tuple(found)


def _need(algorithm: str) -> ModuleType:
    module = _tlsh if algorithm == "tlsh" else _ssdeep
    if module is None:
        library = "py-tlsh" if algorithm == "tlsh" else "pydeep2 or ppdeep"
        raise ConfigError(
            f"{algorithm} is not available: {library} is not installed; {_INSTALL_HINT}"
        )
    return module


def fuzzy_hashes(data: bytes) -> dict[str, str]:
    """Return the fuzzy hashes of ``data`` that this installation computes.

    Keys are ``"tlsh"`` and ``"ssdeep"``. TLSH needs at least 50 bytes with
    some variety; a file too small or too uniform gets no TLSH key.

    Examples
    --------
    >>> sorted(fuzzy_hashes(bytes(range(256)) * 4)) == sorted(available_algorithms())
    True
    """
    hashes: dict[str, str] = {}
    if _tlsh is not None:
        digest = str(_tlsh.hash(data))
        if _TLSH_DIGEST.fullmatch(digest):
            hashes["tlsh"] = _normal_tlsh(digest)
    if _ssdeep is not None:
        if _ssdeep.__name__ == "pydeep":
            hashes["ssdeep"] = bytes(_ssdeep.hash_buf(data)).decode("ascii")
        else:
            hashes["ssdeep"] = str(_ssdeep.hash(data))
    return hashes


def _normal_tlsh(digest: str) -> str:
    digest = digest.strip().upper()
    return digest if digest.startswith("T1") else f"T1{digest}"


def tlsh_distance(first: str, second: str) -> int:
    """Return the TLSH distance of two digests (0 for identical).

    Raises
    ------
    ConfigError
        When py-tlsh is not installed.
    """
    return int(_need("tlsh").diff(first, second))


def ssdeep_compare(first: str, second: str) -> int:
    """Return the ssdeep compare score of two digests, 0 to 100.

    Raises
    ------
    ConfigError
        When neither pydeep2 nor ppdeep is installed.
    """
    module = _need("ssdeep")
    if module.__name__ == "pydeep":
        return int(module.compare(first.encode("ascii"), second.encode("ascii")))
    return int(module.compare(first, second))


def _tlsh_length_bucket(digest: str) -> int:
    """The TLSH length byte (its nibbles are stored swapped after ``T1``)."""
    return int(digest[5] + digest[4], 16)


def _ssdeep_keys(digest: str) -> Iterator[tuple[int, str]]:
    """Yield ``(block size, 7-character run)`` for both halves of a digest."""
    parsed = _SSDEEP_DIGEST.fullmatch(digest)
    if parsed is None:
        return
    block = int(parsed.group(1))
    for size, chunk in ((block, parsed.group(2)), (block * 2, parsed.group(3))):
        squeezed = _REPEATS.sub(lambda m: m.group(1) * 3, chunk)
        for start in range(len(squeezed) - _GRAM + 1):
            yield size, squeezed[start : start + _GRAM]


@dataclass(frozen=True, slots=True)
class FuzzyMatch:
    """A known fuzzy hash close to the one looked up.

    Attributes
    ----------
    algorithm
        ``"tlsh"`` or ``"ssdeep"``.
    known
        The known digest.
    value
        TLSH distance (lower is closer) or ssdeep score (higher is closer).
    label
        What the known digest was stored with (a feed entry, a file id).
    """

    algorithm: str
    known: str
    value: int
    label: Any


@dataclass
class FuzzyIndex:
    """Known TLSH and ssdeep digests, looked up by similarity.

    Parameters
    ----------
    tlsh_max_distance
        A TLSH digest at most this far away matches.
    ssdeep_min_score
        An ssdeep digest scoring at least this matches.
    """

    tlsh_max_distance: int = DEFAULT_TLSH_MAX_DISTANCE
    ssdeep_min_score: int = DEFAULT_SSDEEP_MIN_SCORE
    _tlsh: dict[int, list[tuple[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _ssdeep: list[tuple[str, Any]] = field(default_factory=list)
    _grams: dict[tuple[int, str], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def __post_init__(self) -> None:
        if self.tlsh_max_distance < 0:
            raise ConfigError(
                f"tlsh_max_distance={self.tlsh_max_distance} is negative; "
                "hint: 0 matches identical digests only"
            )
        if not 0 < self.ssdeep_min_score <= 100:
            raise ConfigError(
                f"ssdeep_min_score={self.ssdeep_min_score} is outside 1-100; "
                "hint: 60 is a common choice"
            )

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._tlsh.values()) + len(self._ssdeep)

    def add(self, algorithm: str, digest: str, label: Any = None) -> None:
        """Add a known digest, with a label returned on a match.

        Raises
        ------
        ConfigError
            When the algorithm is unknown or the digest malformed.
        """
        if algorithm == "tlsh":
            if not _TLSH_DIGEST.fullmatch(digest.strip()):
                raise ConfigError(
                    f"not a TLSH digest: {digest[:80]!r}; hint: T1 + 70 hex"
                )
            normal = _normal_tlsh(digest)
            self._tlsh[_tlsh_length_bucket(normal)].append((normal, label))
        elif algorithm == "ssdeep":
            digest = digest.strip()
            if not _SSDEEP_DIGEST.fullmatch(digest):
                raise ConfigError(
                    f"not an ssdeep digest: {digest[:80]!r}; "
                    "hint: blocksize:chunk:chunk"
                )
            position = len(self._ssdeep)
            self._ssdeep.append((digest, label))
            for key in _ssdeep_keys(digest):
                self._grams[key].add(position)
        else:
            raise ConfigError(f"unknown fuzzy hash {algorithm!r}; hint: tlsh or ssdeep")

    def match_tlsh(self, digest: str) -> list[FuzzyMatch]:
        """Return known TLSH digests within the distance, closest first."""
        if not self._tlsh or not _TLSH_DIGEST.fullmatch(digest.strip()):
            return []
        normal = _normal_tlsh(digest)
        length = _tlsh_length_bucket(normal)
        reach = max(1, self.tlsh_max_distance // _TLSH_LENGTH_STEP)
        found: list[FuzzyMatch] = []
        for step in range(-reach, reach + 1):
            for known, label in self._tlsh.get((length + step) % 256, ()):
                distance = tlsh_distance(normal, known)
                if distance <= self.tlsh_max_distance:
                    found.append(FuzzyMatch("tlsh", known, distance, label))
        return sorted(found, key=lambda m: m.value)

    def match_ssdeep(self, digest: str) -> list[FuzzyMatch]:
        """Return known ssdeep digests scoring at least the threshold, best first."""
        candidates: set[int] = set()
        for key in _ssdeep_keys(digest.strip()):
            candidates |= self._grams.get(key, set())
        found: list[FuzzyMatch] = []
        for position in sorted(candidates):
            known, label = self._ssdeep[position]
            score = ssdeep_compare(digest.strip(), known)
            if score >= self.ssdeep_min_score:
                found.append(FuzzyMatch("ssdeep", known, score, label))
        return sorted(found, key=lambda m: -m.value)

    def match(self, hashes: Mapping[str, str]) -> list[FuzzyMatch]:
        """Match the output of :func:`fuzzy_hashes` against both indexes."""
        found: list[FuzzyMatch] = []
        if "tlsh" in hashes:
            found.extend(self.match_tlsh(hashes["tlsh"]))
        if "ssdeep" in hashes:
            found.extend(self.match_ssdeep(hashes["ssdeep"]))
        return found


@dataclass(frozen=True, slots=True)
class FuzzyEntry:
    """One known-bad fuzzy hash from an intel file.

    Attributes
    ----------
    algorithm, digest
        The hash.
    feed
        The file's name (its stem), or the name given when loading.
    comment
        The text after ``;``, if any.
    location
        ``path:line``.
    """

    algorithm: str
    digest: str
    feed: str
    comment: str
    location: str


@dataclass(frozen=True, slots=True)
class FuzzyReject:
    """A line of a fuzzy-hash intel file that was not loaded, and why.

    Attributes
    ----------
    location
        ``path:line``.
    raw
        The line (its first 200 characters).
    reason
        What is wrong, in words.
    code
        A stable code: ``unknown_fuzzy_algorithm`` (no ``tlsh:`` or
        ``ssdeep:``), ``fuzzy_hash_unavailable`` (this installation lacks
        the library that compares the hash) or ``invalid_fuzzy_hash`` (a
        malformed digest).
    source
        The file (the path it was loaded by).
    """

    location: str
    raw: str
    reason: str
    code: str = "invalid_fuzzy_hash"
    source: str = "<text>"


@dataclass
class FuzzyIntel:
    """Known-bad fuzzy hashes loaded from intel files, ready to match.

    Attributes
    ----------
    entries
        Every loaded hash.
    rejects
        Lines that were not loaded, with reasons.
    index
        The :class:`FuzzyIndex` the entries are looked up in.
    """

    entries: list[FuzzyEntry] = field(default_factory=list)
    rejects: list[FuzzyReject] = field(default_factory=list)
    index: FuzzyIndex = field(default_factory=FuzzyIndex)

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        *,
        feed: str | None = None,
        tlsh_max_distance: int = DEFAULT_TLSH_MAX_DISTANCE,
        ssdeep_min_score: int = DEFAULT_SSDEEP_MIN_SCORE,
    ) -> FuzzyIntel:
        """Load intel files (see the module documentation for the format).

        Raises
        ------
        ConfigError
            When a file cannot be read.
        """
        intel = cls(index=FuzzyIndex(tlsh_max_distance, ssdeep_min_score))
        for raw in paths:
            path = Path(raw)
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise ConfigError(
                    f"cannot read fuzzy-hash intel {os.fspath(raw)!r}: "
                    f"{exc.strerror}; hint: check the path"
                ) from exc
            intel.add_text(text, feed=feed or path.stem, path=str(path))
        return intel

    def add_text(self, text: str, *, feed: str, path: str = "<text>") -> None:
        """Add the hashes in ``text`` (the file format) under ``feed``."""
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            location = f"{path}:{number}"
            value, _, comment = stripped.partition(";")
            algorithm, sep, digest = value.strip().partition(":")
            algorithm = algorithm.strip().lower()
            if not sep or algorithm not in ("tlsh", "ssdeep"):
                self.rejects.append(
                    FuzzyReject(
                        location,
                        line[:200],
                        "expected tlsh: or ssdeep: before the digest",
                        "unknown_fuzzy_algorithm",
                        path,
                    )
                )
                continue
            try:
                _need(algorithm)
            except ConfigError as exc:
                self.rejects.append(
                    FuzzyReject(
                        location, line[:200], str(exc), "fuzzy_hash_unavailable", path
                    )
                )
                continue
            try:
                entry = FuzzyEntry(
                    algorithm, digest.strip(), feed, comment.strip(), location
                )
                self.index.add(algorithm, entry.digest, entry)
            except ConfigError as exc:
                self.rejects.append(
                    FuzzyReject(
                        location, line[:200], str(exc), "invalid_fuzzy_hash", path
                    )
                )
                continue
            self.entries.append(entry)

    def match(self, hashes: Mapping[str, str]) -> list[tuple[FuzzyEntry, FuzzyMatch]]:
        """Return the entries close to a file's hashes, with how close."""
        return [(m.label, m) for m in self.index.match(hashes)]
