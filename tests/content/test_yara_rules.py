"""YARA rule sets load rule by rule, and scans are bounded in time and size."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yara

from trustwatch.content.yara_rules import (
    DEFAULT_RULE_SCORE,
    FALLBACK_PART_BYTES,
    RuleLoad,
    load_rule_text,
    load_rules,
    rule_score,
)
from trustwatch.errors import ConfigError


def eicar() -> bytes:
    """The EICAR anti-virus test file, assembled here so no file holds it whole."""
    head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    tail = "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*"
    return (head + tail).encode("ascii")


EICAR_MD5 = "44d88612fea8a8f36de82e1278abb02f"

GOOD_AND_BAD = """
import "pe"
/* a comment with rule braces } { and a "quote */
rule good_one : demo {
    meta:
        description = "a brace } in a string"
        score = 70
    strings:
        $text = "plain marker"
        $hex = { 70 6C 61 [1-3] 6E // a comment } inside hex
            }
        $re = /mark(er|ing)\\}/
    condition:
        $text or $hex or $re
}

rule bad_one {
    condition:
        pe.no_such_field == 1
}

private rule helper { strings: $h = "helper text" condition: $h }

rule uses_helper { condition: helper }

rule uses_bad { condition: bad_one }

rule good_two { strings: $a = "second marker" condition: $a }
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def names(load: RuleLoad) -> set[str]:
    return {rule.name for rule in load.accepted}


def test_a_bad_rule_is_rejected_alone_with_its_reason(tmp_path: Path) -> None:
    write(tmp_path, "mixed.yar", GOOD_AND_BAD)
    load = load_rules([tmp_path])
    assert names(load) == {"good_one", "helper", "uses_helper", "good_two"}
    rejected = {r.name: r for r in load.rejected}
    assert set(rejected) == {"bad_one", "uses_bad"}
    assert "no_such_field" in rejected["bad_one"].reason
    assert rejected["bad_one"].line == 17
    assert rejected["uses_bad"].reason == "depends on a rejected rule"
    counts = load.sources[str(tmp_path / "mixed.yar")]
    assert (counts.accepted, counts.rejected) == (4, 2)
    hits = load.scan(b"xx helper text and a second marker", timeout=5, max_bytes=1024)
    assert {h.rule for h in hits} == {"uses_helper", "good_two"}


def test_braces_in_strings_comments_regexes_and_hex_do_not_split_rules(
    tmp_path: Path,
) -> None:
    write(tmp_path, "mixed.yar", GOOD_AND_BAD)
    load = load_rules([tmp_path])
    hits = load.scan(b"... marking} ...", timeout=5, max_bytes=1024)
    assert [h.rule for h in hits] == ["good_one"]
    assert hits[0].score == pytest.approx(0.7)
    assert hits[0].strings == ("$re@0x4",)
    assert hits[0].tags == ("demo",)


def test_unknown_module_is_named_as_the_reason(tmp_path: Path) -> None:
    write(
        tmp_path,
        "mod.yar",
        'import "no_such_module"\nimport "pe"\n'
        "rule needs_module { condition: no_such_module.x == 1 }\n"
        "rule plain { condition: filesize > 0 }\n",
    )
    load = load_rules([tmp_path / "mod.yar"])
    assert names(load) == {"plain"}
    assert load.rejected[0].reason == "module 'no_such_module' unavailable"


def test_unparseable_text_rejects_only_that_part(tmp_path: Path) -> None:
    write(
        tmp_path,
        "broken.yar",
        'rule open_string { strings: $a = "never closed\n condition: $a }\n'
        "rule fine { condition: true }\n",
    )
    load = load_rules([tmp_path])
    assert names(load) == {"fine"}
    assert any(r.reason == "unparseable" for r in load.rejected)
    assert all(r.message for r in load.rejected)


def test_includes_resolve_inside_the_loaded_folder(tmp_path: Path) -> None:
    write(
        tmp_path,
        "lib/common.yar",
        "private rule is_mz { condition: uint16(0) == 0x5A4D }",
    )
    write(
        tmp_path,
        "main.yar",
        'include "lib/common.yar"\nrule mz_file { condition: is_mz }\n',
    )
    load = load_rules([tmp_path])
    assert {(r.name, Path(r.source).name) for r in load.accepted} == {
        ("is_mz", "common.yar"),
        ("mz_file", "main.yar"),
    }
    hits = load.scan(b"MZ\x90\x00", timeout=5, max_bytes=64)
    assert [h.rule for h in hits] == ["mz_file"]


def test_an_include_outside_the_loaded_folders_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path, "secret/other.yar", "rule outside { condition: true }")
    rules = tmp_path / "rules"
    write(
        rules,
        "main.yar",
        f'include "{outside}"\ninclude "../secret/other.yar"\n'
        "rule mine { condition: true }\n",
    )
    load = load_rules([rules])
    assert names(load) == {"mine"}
    refused = [r for r in load.rejected if r.name is None]
    assert [r.reason for r in refused] == ["include outside the loaded folders"] * 2


def test_an_include_cycle_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yar", 'include "b.yar"\nrule in_a { condition: true }\n')
    write(tmp_path, "b.yar", 'include "a.yar"\nrule in_b { condition: true }\n')
    load = load_rules([tmp_path])
    assert names(load) == {"in_a", "in_b"}
    reasons = {r.reason for r in load.rejected if r.name is None}
    assert reasons == {"include cycle"}


def test_an_index_of_loaded_files_is_skipped_so_nothing_counts_twice(
    tmp_path: Path,
) -> None:
    write(tmp_path, "one.yar", "rule one { condition: true }")
    write(tmp_path, "index.yar", 'include "./one.yar"\n')
    load = load_rules([tmp_path])
    assert [r.name for r in load.accepted] == ["one"]
    assert load.index_files == 1
    assert len(load.scan(b"x", timeout=5, max_bytes=8)) == 1


def test_an_index_alone_loads_what_it_includes(tmp_path: Path) -> None:
    write(tmp_path, "one.yar", "rule one { condition: true }")
    index = write(tmp_path, "index.yar", 'include "./one.yar"\n')
    load = load_rules([index])
    assert load.index_files == 0
    assert [h.rule for h in load.scan(b"x", timeout=5, max_bytes=8)] == ["one"]


def test_same_rule_name_in_two_files_gets_two_namespaces(tmp_path: Path) -> None:
    write(tmp_path, "vendor_a/x.yar", 'rule Same { strings: $a = "AAA" condition: $a }')
    write(tmp_path, "vendor_b/x.yar", 'rule Same { strings: $b = "BBB" condition: $b }')
    load = load_rules([tmp_path])
    assert len(load.accepted) == 2
    assert {r.namespace for r in load.accepted} == {"vendor_a/x.yar", "vendor_b/x.yar"}
    hits = load.scan(b"AAA BBB", timeout=5, max_bytes=64)
    assert sorted(h.namespace for h in hits) == ["vendor_a/x.yar", "vendor_b/x.yar"]


def test_a_duplicate_name_within_a_file_rejects_the_second(tmp_path: Path) -> None:
    write(
        tmp_path,
        "dup.yar",
        "rule twice { condition: true }\nrule twice { condition: false }\n",
    )
    load = load_rules([tmp_path])
    assert len(load.accepted) == 1
    assert [r.reason for r in load.rejected] == ["duplicate rule name"]


def test_externals_of_public_rule_sets_are_defined(tmp_path: Path) -> None:
    write(
        tmp_path,
        "ext.yar",
        'rule by_name { condition: filename == "evil.exe" and extension == ".exe" }\n'
        'rule owner_rule { condition: owner == "" and filepath == "" }\n',
    )
    load = load_rules([tmp_path])
    assert load.rejected == []
    plain = {h.rule for h in load.scan(b"x", timeout=5, max_bytes=8)}
    named = {
        h.rule for h in load.scan(b"x", timeout=5, max_bytes=8, file_name="evil.exe")
    }
    assert plain == {"owner_rule"}
    assert named == {"owner_rule", "by_name"}


def test_hash_02_uppercase_hash_literals_are_lowercased_and_match(
    tmp_path: Path, hardcases: dict[str, dict[str, Any]]
) -> None:
    case = hardcases["HASH-02"]
    write(tmp_path, "hash02.yar", case["input"])
    load = load_rules([tmp_path])
    assert load.lint_fixes == 1
    assert hashlib.md5(eicar()).hexdigest() == EICAR_MD5
    hits = load.scan(eicar(), timeout=5, max_bytes=1024)
    assert [h.rule for h in hits] == ["eicar_md5"]
    assert load.scan(b"not eicar", timeout=5, max_bytes=1024) == []


def test_uppercase_literals_on_either_side_and_imphash_are_fixed(
    tmp_path: Path,
) -> None:
    upper = EICAR_MD5.upper()
    write(
        tmp_path,
        "sides.yar",
        'import "hash"\nimport "pe"\n'
        f'rule left {{ condition: "{upper}" == hash.md5(0, filesize) }}\n'
        f'rule imp {{ condition: pe.is_pe and pe.imphash() == "{upper}" }}\n'
        f'rule not_a_hash {{ strings: $a = "{upper}" condition: $a }}\n',
    )
    load = load_rules([tmp_path])
    assert load.lint_fixes == 2
    assert [h.rule for h in load.scan(eicar(), timeout=5, max_bytes=1024)] == ["left"]
    text = f"x {upper} x".encode()
    assert [h.rule for h in load.scan(text, timeout=5, max_bytes=1024)] == [
        "not_a_hash"
    ]


def test_eicar_matches_a_string_rule(tmp_path: Path) -> None:
    write(
        tmp_path,
        "eicar.yar",
        'rule EICAR_Test { meta: severity = "high" '
        'strings: $e = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $e }',
    )
    hits = load_rules([tmp_path]).scan(eicar(), timeout=5, max_bytes=1024)
    assert [h.rule for h in hits] == ["EICAR_Test"]
    assert hits[0].score == pytest.approx(0.85)
    assert hits[0].evidence["truncated"] is False


def test_oversized_content_is_scanned_up_to_the_limit_and_says_so(
    tmp_path: Path,
) -> None:
    write(tmp_path, "m.yar", 'rule marker { strings: $m = "MARK" condition: $m }')
    load = load_rules([tmp_path])
    early = b"MARK" + b"\x00" * 100
    late = b"\x00" * 100 + b"MARK"
    hits = load.scan(early, timeout=5, max_bytes=50)
    assert [h.rule for h in hits] == ["marker"]
    assert hits[0].evidence == {
        "scanned_bytes": 50,
        "size": 104,
        "truncated": True,
        "timed_out": False,
    }
    missed = load.scan(late, timeout=5, max_bytes=50)
    assert missed == [] and missed.truncated and missed.scanned_bytes == 50


def test_a_string_matching_too_often_is_evidence_not_a_warning(
    tmp_path: Path,
) -> None:
    # YARA stops counting a string after a million matches and warns; the
    # warning must not escape as a Python warning (an error in a strict run);
    # only a string its rule counts is looked for past its first match
    write(tmp_path, "z.yar", "rule zeros { strings: $z = { 00 } condition: #z > 9 }")
    load = load_rules([tmp_path])
    hits = load.scan(b"\x00" * 1_100_000, timeout=30, max_bytes=2_000_000)
    assert [h.rule for h in hits] == ["zeros"]
    assert hits[0].evidence["too_many_matches"] == ["zeros:$z"]


def test_a_scan_that_runs_out_of_time_is_a_clear_result(tmp_path: Path) -> None:
    write(tmp_path, "t.yar", "rule any { condition: true }")
    load = load_rules([tmp_path])

    class SlowRules:
        def match(self, **kwargs: Any) -> None:
            assert kwargs["timeout"] == 1  # 0.2 s rounds up to YARA's whole second
            raise yara.TimeoutError("scan timed out")

    load.compiled = SlowRules()
    hits = load.scan(b"data", timeout=0.2, max_bytes=16)
    assert hits == [] and hits.timed_out is True and hits.error is None
    assert hits.parts == [] and hits.complete is False  # too small to split


def test_after_a_timeout_both_ends_are_rescanned_and_their_hits_kept(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "ends.yar",
        'rule head { strings: $h = "HEADMARK" condition: $h }\n'
        'rule tail { strings: $t = "TAILMARK" condition: $t }\n'
        'rule middle { strings: $m = "MIDMARK" condition: $m }',
    )
    load = load_rules([tmp_path])
    real = load.compiled
    windows: list[int] = []

    class SlowOnLarge:
        def match(self, **kwargs: Any) -> Any:
            windows.append(len(kwargs["data"]))
            if len(kwargs["data"]) > FALLBACK_PART_BYTES:
                raise yara.TimeoutError("scan timed out")
            return real.match(**kwargs)

    load.compiled = SlowOnLarge()
    middle = b"a" * FALLBACK_PART_BYTES + b"MIDMARK" + b"a" * FALLBACK_PART_BYTES
    data = b"HEADMARK" + middle + b"TAILMARK"
    hits = load.scan(data, timeout=1, max_bytes=len(data))
    assert hits.timed_out is True and hits.complete is False
    assert windows == [len(data), FALLBACK_PART_BYTES, FALLBACK_PART_BYTES]
    found = {hit.rule: hit for hit in hits}
    assert sorted(found) == ["head", "tail"]  # the middle was never scanned alone
    assert found["head"].evidence["scanned_part"]["part"] == "start"
    tail = found["tail"]
    assert tail.evidence["scanned_part"]["offset"] == len(data) - FALLBACK_PART_BYTES
    assert tail.strings == (f"$t@{len(data) - 8:#x}",)  # offset in the whole file
    assert [part["rules_matched"] for part in hits.parts] == [1, 1]


def test_files_yara_warns_are_slow_are_scanned_apart_and_cannot_cancel_the_rest(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "fast.yar",
        'rule marker { strings: $m = "PLAIN-MARKER-TEXT" condition: $m }',
    )
    write(tmp_path, "slow.yar", "rule slow { strings: $r = /a.*b/ condition: $r }")
    load = load_rules([tmp_path])
    assert load.slow_namespaces == {"slow.yar"}
    assert load.slow_compiled is not None

    class OutOfTime:
        def match(self, **kwargs: Any) -> None:
            raise yara.TimeoutError("scan timed out")

    load.slow_compiled = OutOfTime()
    hits = load.scan(b"xx PLAIN-MARKER-TEXT xx", timeout=1, max_bytes=1024)
    assert [hit.rule for hit in hits] == ["marker"]
    assert hits[0].evidence["stage"] == "fast"
    assert hits[0].evidence["timed_out"] is False
    assert hits.timed_out is True  # the slow stage did not finish


def test_without_slow_warnings_all_rules_scan_in_one_stage(tmp_path: Path) -> None:
    write(tmp_path, "a.yar", 'rule a { strings: $m = "MARKER-ONE" condition: $m }')
    load = load_rules([tmp_path])
    assert load.slow_compiled is None and load.slow_namespaces == set()
    hits = load.scan(b"MARKER-ONE", timeout=1, max_bytes=1024)
    assert [hit.rule for hit in hits] == ["a"] and "stage" not in hits[0].evidence


def test_bad_limits_are_config_errors(tmp_path: Path) -> None:
    write(tmp_path, "t.yar", "rule any { condition: true }")
    load = load_rules([tmp_path])
    with pytest.raises(ConfigError, match="hint"):
        load.scan(b"x", timeout=0, max_bytes=10)
    with pytest.raises(ConfigError, match="hint"):
        load.scan(b"x", timeout=1, max_bytes=0)


def test_a_path_without_rules_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hint"):
        load_rules([tmp_path / "missing"])
    with pytest.raises(ConfigError, match="hint"):
        load_rules([""])


def test_a_glob_loads_matching_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yar", "rule a { condition: true }")
    write(tmp_path, "b.yara", "rule b { condition: true }")
    write(tmp_path, "c.txt", "rule c { condition: true }")
    load = load_rules([str(tmp_path / "*")])
    assert names(load) == {"a", "b"}


def test_rule_score_reads_score_and_severity() -> None:
    assert rule_score({"score": 85}) == pytest.approx(0.85)
    assert rule_score({"score": 0.4}) == pytest.approx(0.4)
    assert rule_score({"severity": "Critical"}) == pytest.approx(0.95)
    assert rule_score({"severity": "50"}) == pytest.approx(0.5)
    assert rule_score({"score": "n/a"}) == DEFAULT_RULE_SCORE


def many_links(count: int) -> bytes:
    """An HTML page of ``count`` links, as the trial's 8.6 MB upload (smaller)."""
    link = '<a href="https://many.example.com/%d">x</a>'
    return ("<html><body>" + link * count + "</body></html>").encode() % tuple(
        range(count)
    )


class CountingRules:
    """Compiled rules that count the match instances YARA hands the scan."""

    def __init__(self, rules: Any) -> None:
        self.rules = rules
        self.instances = 0
        self.data_bytes = 0

    def match(self, **kwargs: Any) -> Any:
        callback = kwargs["callback"]

        def counting(match: dict[str, Any]) -> Any:
            for found in match["strings"]:
                self.instances += len(found.instances)
                for instance in found.instances:
                    self.data_bytes = max(self.data_bytes, len(instance.matched_data))
            return callback(match)

        return self.rules.match(**{**kwargs, "callback": counting})


def test_a_string_matching_all_over_a_file_keeps_one_match_instance() -> None:
    # one string matching 5,000 times used to keep 5,000 instances of 512 bytes
    load = load_rule_text(
        'rule Href { strings: $r = /href="https?:\\/\\/[a-z.]{1,40}\\.example'
        "\\.com/ nocase condition: $r }"
    )
    assert not load.rejected
    data = many_links(5_000)
    counting = CountingRules(load.compiled)
    load.compiled = counting
    hits = load.scan(data, timeout=5)
    assert [hit.rule for hit in hits] == ["Href"]
    assert hits[0].strings == (f"$r@{data.index(b'href'):#x}",)
    assert counting.instances == 1
    assert counting.data_bytes <= 1  # the matched bytes are never reported


def test_rules_that_count_or_place_strings_still_see_every_match() -> None:
    load = load_rule_text(
        'rule Counted { strings: $a = "many.example.com" condition: #a == 300 }\n'
        'rule Last { strings: $b = "/299\\"" condition: @b[1] > 1000 }\n'
        'rule Placed { strings: $c = "many" condition: $c at 29 }\n'
        'rule Within { strings: $d = "x</a>" condition: $d in (100..200) }'
    )
    data = many_links(300)
    assert data[29:33] == b"many" and data.index(b"x</a>") < 100
    hits = load.scan(data, timeout=5)
    assert sorted(hit.rule for hit in hits) == ["Counted", "Last", "Placed", "Within"]


def test_rules_yara_warns_are_slow_are_named_with_the_warning(tmp_path: Path) -> None:
    write(tmp_path, "fast.yar", 'rule marker { strings: $m = "MARKER" condition: $m }')
    write(
        tmp_path,
        "mixed.yar",
        'rule quick { strings: $q = "QUICK" condition: $q }\n\n'
        "rule slow_dot {\n  strings: $r = /.*.*.*a/\n  condition: $r\n}\n",
    )
    load = load_rules([tmp_path])
    [slow] = load.slow_rules
    assert (slow.name, slow.namespace) == ("slow_dot", "mixed.yar")
    assert slow.source == str(tmp_path / "mixed.yar")
    assert "slow down scanning" in slow.warning
    assert load.slow_namespaces == {"mixed.yar"}


def test_a_byte_order_mark_before_the_first_rule_is_accepted(tmp_path: Path) -> None:
    rule = 'rule bom { strings: $m = "MARKER" condition: $m }\n'
    (tmp_path / "bom.yar").write_bytes(b"\xef\xbb\xbf" + rule.encode())
    load = load_rules([tmp_path])
    assert load.rejected == [] and [r.name for r in load.accepted] == ["bom"]
    assert [hit.rule for hit in load.scan(b"a MARKER")] == ["bom"]
    assert load_rule_text("\ufeff" + rule).rejected == []
