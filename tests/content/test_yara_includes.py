"""YARA includes are expanded once per file, within YARA's depth and a budget,
and rules that need other rules (by name or wildcard) load with them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yara

from trustwatch.content import yara_rules
from trustwatch.content.yara_rules import MAX_INCLUDE_DEPTH, load_rules


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def bomb(folder: Path, levels: int) -> Path:
    """Files f0..fN, each including the next twice; the last holds a rule."""
    for level in range(levels):
        nxt = f"f{level + 1}.yar"
        write(folder, f"f{level}.yar", f'include "{nxt}"\ninclude "{nxt}"\n')
    write(
        folder,
        f"f{levels}.yar",
        'private rule Leaf { strings: $a = "LEAF" condition: $a }',
    )
    top = folder / "f0.yar"
    top.write_text(top.read_text() + "rule Top { condition: Leaf }\n")
    return top


def chain(folder: Path, levels: int) -> Path:
    """Files c0..cN, each including the next; the last holds a rule."""
    for level in range(levels):
        write(folder, f"c{level}.yar", f'include "c{level + 1}.yar"\n')
    write(folder, f"c{levels}.yar", "rule Deep { condition: true }")
    top = folder / "c0.yar"
    top.write_text(top.read_text() + "rule Top { condition: Deep }\n")
    return top


def test_a_file_included_many_times_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    splits = 0
    split = yara_rules._split

    def counted(text: str) -> yara_rules._Split:
        nonlocal splits
        splits += 1
        return split(text)

    monkeypatch.setattr(yara_rules, "_split", counted)
    top = bomb(tmp_path, 10)
    load = load_rules([top])
    # f0 once as the loaded file, then each included file once
    assert splits == 11
    assert load.rejected == []
    assert [r.name for r in load.accepted] == ["Top"]
    assert [h.rule for h in load.scan(b"LEAF", timeout=5, max_bytes=64)] == ["Top"]


def test_a_shared_include_of_two_includes_is_taken_in_once(tmp_path: Path) -> None:
    write(
        tmp_path, "d.yar", 'private rule D_common { strings: $a = "DDD" condition: $a }'
    )
    write(
        tmp_path, "b.yar", 'include "d.yar"\nprivate rule B { condition: D_common }\n'
    )
    write(
        tmp_path, "c.yar", 'include "d.yar"\nprivate rule C { condition: D_common }\n'
    )
    top = write(
        tmp_path,
        "a.yar",
        'include "b.yar"\ninclude "c.yar"\nrule A { condition: B and C }\n',
    )
    load = load_rules([top])
    assert load.rejected == []
    assert [h.rule for h in load.scan(b"DDD", timeout=5, max_bytes=64)] == ["A"]


def test_includes_nest_as_deep_as_yara_allows_and_no_deeper(tmp_path: Path) -> None:
    deepest = chain(tmp_path / "ok", MAX_INCLUDE_DEPTH)
    yara.compile(filepath=str(deepest))
    load = load_rules([deepest])
    assert load.rejected == []
    assert [r.name for r in load.accepted] == ["Top"]

    too_deep = chain(tmp_path / "deep", MAX_INCLUDE_DEPTH + 1)
    with pytest.raises(yara.Error, match="depth"):
        yara.compile(filepath=str(too_deep))
    load = load_rules([too_deep])
    assert [(r.name, r.reason) for r in load.rejected] == [
        (None, "include depth exceeded"),
        ("Top", 'undefined identifier "Deep"'),
    ]
    assert "c16.yar" in load.rejected[0].message


def test_a_bomb_deeper_than_yara_allows_is_refused_quickly(tmp_path: Path) -> None:
    top = bomb(tmp_path, 24)
    load = load_rules([top])
    assert {r.reason for r in load.rejected if r.name is None} == {
        "include depth exceeded"
    }


def test_includes_over_the_budget_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yara_rules, "MAX_INCLUDED_FILES", 3)
    for number in range(5):
        write(tmp_path, f"lib/r{number}.yar", f"rule R{number} {{ condition: true }}")
    includes = "".join(f'include "lib/r{number}.yar"\n' for number in range(5))
    top = write(tmp_path, "all.yar", includes + "rule Mine { condition: true }\n")
    load = load_rules([top])
    refused = [(r.line, r.reason) for r in load.rejected]
    assert refused == [(4, "includes too large"), (5, "includes too large")]
    assert "3 files" in load.rejected[0].message
    assert [r.name for r in load.accepted] == ["Mine"]

    monkeypatch.setattr(yara_rules, "MAX_INCLUDED_FILES", 1000)
    monkeypatch.setattr(yara_rules, "MAX_INCLUDED_BYTES", 100)
    write(tmp_path, "lib/big.yar", f"rule Big {{ condition: true }} // {'x' * 200}")
    top = write(
        tmp_path, "big.yar", 'include "lib/big.yar"\nrule Mine { condition: true }'
    )
    load = load_rules([top])
    assert [r.reason for r in load.rejected] == ["includes too large"]
    assert "100 bytes" in load.rejected[0].message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_an_include_of_something_not_a_file_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yar")
    top = write(tmp_path, "a.yar", 'include "pipe.yar"\nrule A { condition: true }')
    load = load_rules([top])
    assert [r.reason for r in load.rejected] == ["include not found"]
    assert "not a regular file" in load.rejected[0].message


def test_a_refused_include_leaves_its_files_to_other_includes(tmp_path: Path) -> None:
    write(tmp_path, "d.yar", "private rule D { condition: true }")
    write(tmp_path, "b.yar", 'include "d.yar"\ninclude "missing.yar"\n')
    write(tmp_path, "c.yar", 'include "d.yar"\nprivate rule C { condition: D }\n')
    top = write(
        tmp_path, "a.yar", 'include "b.yar"\ninclude "c.yar"\nrule A { condition: C }'
    )
    load = load_rules([top])
    assert [(r.line, r.reason) for r in load.rejected] == [(1, "include not found")]
    assert [h.rule for h in load.scan(b"x", timeout=5, max_bytes=8)] == ["A"]


def test_included_files_that_do_not_compile_are_the_reason_given(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "b.yar",
        "rule Shared { condition: true }\nrule B { condition: Shared }",
    )
    write(
        tmp_path,
        "c.yar",
        "rule Shared { condition: true }\nrule C { condition: Shared }",
    )
    top = write(
        tmp_path,
        "a.yar",
        'include "b.yar"\ninclude "c.yar"\n'
        "rule A { condition: B }\nrule Own { condition: true }\n",
    )
    load = load_rules([top])
    assert [(r.name, r.line, r.reason) for r in load.rejected] == [
        (None, 1, "included files do not compile"),
        ("A", 3, "depends on an include that does not compile"),
    ]
    assert all('duplicated identifier "Shared"' in r.message for r in load.rejected)
    assert "b.yar" in load.rejected[1].message
    assert [r.name for r in load.accepted] == ["Own"]


WILDCARDS = """
private rule Rone { strings: $a = "AAA-ONE" condition: $a }
private rule Rtwo { strings: $a = "BBB-TWO" condition: $a }
rule Agg { condition: any of (Rt*) }
rule Broken { condition: $nope }
"""


def test_a_rule_set_wildcard_needs_the_rules_it_matches(tmp_path: Path) -> None:
    load = load_rules([write(tmp_path, "w.yar", WILDCARDS)])
    assert [(r.name, r.reason) for r in load.rejected] == [
        ("Broken", 'undefined string "$nope"')
    ]
    assert [h.rule for h in load.scan(b"BBB-TWO", timeout=5, max_bytes=64)] == ["Agg"]
    assert load.scan(b"AAA-ONE", timeout=5, max_bytes=64) == []


def test_a_wildcard_over_a_rejected_rule_is_rejected_for_it(tmp_path: Path) -> None:
    text = (
        "rule Rgood { condition: true }\n"
        "rule Rbad { condition: $nope }\n"
        "rule Agg { condition: all of (R*, Rgood) }\n"
        "rule Other { condition: Rgood }\n"
    )
    load = load_rules([write(tmp_path, "w.yar", text)])
    assert [(r.name, r.reason) for r in load.rejected] == [
        ("Rbad", 'undefined string "$nope"'),
        ("Agg", "depends on a rejected rule"),
    ]
    assert {r.name for r in load.accepted} == {"Rgood", "Other"}


def test_multiplication_is_not_a_wildcard(tmp_path: Path) -> None:
    text = (
        "rule filesizeBad { condition: $nope }\n"
        "rule Mul { condition: (filesize*2) > 0 }\n"
    )
    load = load_rules([write(tmp_path, "m.yar", text)])
    assert [r.name for r in load.accepted] == ["Mul"]
