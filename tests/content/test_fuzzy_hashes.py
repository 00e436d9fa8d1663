"""TLSH and ssdeep: hashes, an index that compares only likely neighbours, intel."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from trustwatch.content import fuzzy
from trustwatch.content.fuzzy import (
    FuzzyIndex,
    FuzzyIntel,
    available_algorithms,
    fuzzy_hashes,
    ssdeep_compare,
    tlsh_distance,
)
from trustwatch.errors import ConfigError

pytestmark = pytest.mark.skipif(
    available_algorithms() != ("tlsh", "ssdeep"),
    reason="the fuzzy extra (py-tlsh, pydeep2) is not installed",
)


def sample(seed: int, size: int = 8192) -> bytes:
    """Text-like bytes (a small alphabet, as in scripts and documents)."""
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(2, 9)))
        for _ in range(400)
    ]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words).encode() + b" "
    return bytes(out[:size])


def edited(data: bytes, seed: int = 99) -> bytes:
    """The same bytes with a short stretch rewritten."""
    rng = random.Random(seed)
    start = rng.randrange(len(data) // 2)
    return data[:start] + b"PATCHED-" * 8 + data[start + 64 :]


def test_fuzzy_hashes_gives_both_digests() -> None:
    hashes = fuzzy_hashes(sample(1))
    assert set(hashes) == {"tlsh", "ssdeep"}
    assert hashes["tlsh"].startswith("T1") and len(hashes["tlsh"]) == 72
    assert hashes["ssdeep"].count(":") == 2


def test_tiny_or_uniform_content_has_no_tlsh() -> None:
    assert "tlsh" not in fuzzy_hashes(b"short")
    assert "tlsh" not in fuzzy_hashes(b"\x00" * 4096)


def test_an_edited_copy_is_close_and_an_unrelated_file_is_not() -> None:
    base, copy, other = sample(1), edited(sample(1)), sample(2)
    first, second, third = (fuzzy_hashes(d) for d in (base, copy, other))
    assert tlsh_distance(first["tlsh"], second["tlsh"]) <= 30
    assert tlsh_distance(first["tlsh"], third["tlsh"]) > 30
    assert ssdeep_compare(first["ssdeep"], second["ssdeep"]) >= 60
    assert ssdeep_compare(first["ssdeep"], third["ssdeep"]) < 60


def test_the_index_finds_the_edited_copy_among_many() -> None:
    index = FuzzyIndex()
    for seed in range(2, 60):
        for algorithm, digest in fuzzy_hashes(
            sample(seed, 2048 * (seed % 7 + 1))
        ).items():
            index.add(algorithm, digest, f"seed-{seed}")
    for algorithm, digest in fuzzy_hashes(sample(1)).items():
        index.add(algorithm, digest, "known-bad")
    found = index.match(fuzzy_hashes(edited(sample(1))))
    assert {(m.algorithm, m.label) for m in found} == {
        ("tlsh", "known-bad"),
        ("ssdeep", "known-bad"),
    }


def test_tlsh_lookups_skip_far_length_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    index = FuzzyIndex(tlsh_max_distance=30)
    sizes = [600 * 2**k for k in range(8)]  # lengths far apart: many buckets
    for seed, size in enumerate(sizes):
        index.add("tlsh", fuzzy_hashes(sample(seed, size))["tlsh"], size)
    calls: list[str] = []
    real = fuzzy.tlsh_distance

    def counting(first: str, second: str) -> int:
        calls.append(second)
        return real(first, second)

    monkeypatch.setattr(fuzzy, "tlsh_distance", counting)
    found = index.match_tlsh(fuzzy_hashes(edited(sample(3, sizes[3])))["tlsh"])
    assert [m.label for m in found] == [sizes[3]]
    assert 1 <= len(calls) < len(sizes)


def test_ssdeep_lookups_compare_only_digests_sharing_a_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = FuzzyIndex(ssdeep_min_score=60)
    for seed in range(1, 30):
        index.add("ssdeep", fuzzy_hashes(sample(seed))["ssdeep"], seed)
    calls: list[str] = []
    real = fuzzy.ssdeep_compare

    def counting(first: str, second: str) -> int:
        calls.append(second)
        return real(first, second)

    monkeypatch.setattr(fuzzy, "ssdeep_compare", counting)
    found = index.match_ssdeep(fuzzy_hashes(edited(sample(5)))["ssdeep"])
    assert [m.label for m in found] == [5]
    assert len(calls) < 5


def test_bad_thresholds_and_digests_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="hint"):
        FuzzyIndex(tlsh_max_distance=-1)
    with pytest.raises(ConfigError, match="hint"):
        FuzzyIndex(ssdeep_min_score=0)
    index = FuzzyIndex()
    with pytest.raises(ConfigError, match="hint"):
        index.add("tlsh", "T1ZZ")
    with pytest.raises(ConfigError, match="hint"):
        index.add("md5", "0" * 32)


def test_fuzzy_intel_file_loads_with_comments_and_rejects(tmp_path: Path) -> None:
    hashes = fuzzy_hashes(sample(1))
    intel_file = tmp_path / "lab-samples.txt"
    intel_file.write_text(
        "# known droppers\n"
        "\n"
        f"tlsh:{hashes['tlsh']} ; dropper, March build\n"
        f"SSDEEP:{hashes['ssdeep']}\n"
        "md5:44d88612fea8a8f36de82e1278abb02f\n"
        "tlsh:not-a-digest\n",
        encoding="utf-8",
    )
    intel = FuzzyIntel.from_paths([intel_file])
    assert [(e.algorithm, e.feed, e.comment) for e in intel.entries] == [
        ("tlsh", "lab-samples", "dropper, March build"),
        ("ssdeep", "lab-samples", ""),
    ]
    assert [r.location.rsplit(":", 1)[1] for r in intel.rejects] == ["5", "6"]
    assert all(r.reason for r in intel.rejects)
    matched = intel.match(fuzzy_hashes(edited(sample(1))))
    assert {entry.location.rsplit(":", 1)[1] for entry, _ in matched} == {"3", "4"}
    assert intel.match(fuzzy_hashes(sample(2))) == []


def test_an_unreadable_intel_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hint"):
        FuzzyIntel.from_paths([tmp_path / "absent.txt"])


def test_a_missing_library_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fuzzy, "_tlsh", None)
    assert "tlsh" not in fuzzy_hashes(sample(1))
    with pytest.raises(ConfigError, match=r"py-tlsh.*hint: pip install"):
        tlsh_distance("T1" + "0" * 70, "T1" + "0" * 70)
    intel = FuzzyIntel()
    intel.add_text("tlsh:T1" + "A" * 70, feed="x")
    assert intel.entries == [] and "py-tlsh" in intel.rejects[0].reason


def test_intel_lines_of_a_hash_this_installation_lacks_are_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one such line used to stop the whole load; now each says what to install
    tlsh = fuzzy_hashes(sample(1))["tlsh"]
    monkeypatch.setattr(fuzzy, "_ssdeep", None)
    intel = FuzzyIntel()
    intel.add_text(
        f"tlsh:{tlsh}\nssdeep:3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C ; a dropper\n",
        feed="lab",
        path="lab.txt",
    )
    assert [entry.algorithm for entry in intel.entries] == ["tlsh"]
    [reject] = intel.rejects
    assert (reject.code, reject.location) == ("fuzzy_hash_unavailable", "lab.txt:2")
    assert "pydeep2" in reject.reason and "pip install" in reject.reason
