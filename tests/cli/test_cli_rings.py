"""``trustwatch rings``: the risky rings a run stored, their evidence and picture."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.graph.inject import RingSpec, inject_rings
from trustwatch.graph.rings import RingSnapshot
from trustwatch.simulation import SimulationConfig, simulate, write_simulation
from trustwatch.storage.sqlite import SqliteStore


@pytest.fixture(scope="module")
def ring_store(tmp_path_factory) -> tuple[Path, list[str]]:
    """A store written by `trustwatch run` over telemetry with one ring mixed in."""
    folder = tmp_path_factory.mktemp("rings")
    sim = simulate(SimulationConfig(seed=5, accounts=300, days=1))
    events, key = inject_rings(sim.events, [RingSpec(members=15, proxies=2)], seed=5)
    paths = write_simulation(replace(sim, events=events), folder)
    db = folder / "store.sqlite"
    assert main(["run", str(paths.events), "--db", str(db), "--no-geo"]) == 0
    return db, list(key[0].members)


def _listed(db: Path, capsys, *more: str) -> list[dict]:
    capsys.readouterr()
    assert main(["rings", "--db", str(db), "--json", *more]) == ExitCode.OK
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_cli_rings_lists_the_ring_a_run_found(ring_store, capsys) -> None:
    db, members = ring_store
    rings = _listed(db, capsys)
    assert len(rings) == 1
    ring = rings[0]
    assert ring["method"] == "lockstep"
    assert set(ring["members"]) == set(members)
    assert ring["risk"] >= 0.6
    assert any("lockstep" in reason for reason in ring["reasons"])
    kinds = {attribute.split(":", 1)[0] for attribute, _ in ring["evidence"]}
    assert {"ip", "file", "url"} <= kinds


def test_cli_rings_filters_by_account_and_risk(ring_store, capsys) -> None:
    db, members = ring_store
    assert len(_listed(db, capsys, "--account", members[3])) == 1
    assert _listed(db, capsys, "--account", "nobody-at-all") == []
    assert _listed(db, capsys, "--min-risk", "1.0") == []
    assert _listed(db, capsys, "--method", "communities") == []


def test_cli_rings_table_and_show_with_picture(ring_store, capsys, tmp_path) -> None:
    db, members = ring_store
    ring_id = _listed(db, capsys)[0]["ring_id"]
    assert main(["rings", "--db", str(db)]) == ExitCode.OK
    table = capsys.readouterr().out
    assert ring_id in table and "lockstep" in table
    pictures = tmp_path / "pictures"
    args = ["rings", "--db", str(db), "show", ring_id, "--picture", str(pictures)]
    assert main(args) == ExitCode.OK
    shown = capsys.readouterr().out
    assert "shared evidence" in shown and members[0] in shown
    png = pictures / f"{ring_id}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_rings_show_unknown_ring_is_a_clear_error(ring_store, capsys) -> None:
    db, _ = ring_store
    assert main(["rings", "--db", str(db), "show", "ring-missing"]) != ExitCode.OK
    assert "no ring 'ring-missing'" in capsys.readouterr().err


def test_cli_rings_reads_a_store_kept_before_rings_were(tmp_path, capsys) -> None:
    db = tmp_path / "old.sqlite"
    with SqliteStore(db) as store:
        store._db.execute("DROP TABLE ring_members")
        store._db.execute("DROP TABLE rings")
    assert _listed(db, capsys) == []


def test_cli_rings_keeps_the_newest_snapshot(tmp_path) -> None:
    newer = RingSnapshot(
        ring_id="ring-x",
        method="lockstep",
        size=3,
        risk=0.9,
        reasons=("3 accounts acting in lockstep",),
        founded=1_700_000_000.0,
        updated=1_700_000_600.0,
        members=("a", "b", "c"),
        evidence=(("ip:192.0.2.1", 3),),
        holdings={"a": ("ip:192.0.2.1",)},
    )
    older = replace(newer, size=2, members=("a", "b"), updated=1_700_000_100.0)
    with SqliteStore(tmp_path / "s.sqlite") as store:
        assert store.write_rings([newer]) == 1
        assert store.write_rings([older]) == 0
        assert store.ring("ring-x") == newer
        grown = replace(newer, size=4, members=("a", "b", "c", "d"), updated=1.8e9)
        assert store.write_rings([grown]) == 1
        assert [r.size for r in store.rings(account="d")] == [4]
        assert store.rings(account="zz") == []


def test_cli_run_adds_named_detectors(ring_store, tmp_path, capsys) -> None:
    db, members = ring_store
    events = db.parent / "events.jsonl"
    swept = tmp_path / "swept.sqlite"
    args = ["run", str(events), "--db", str(swept), "--no-geo"]
    assert main([*args, "--add-detector", "communities"]) == ExitCode.OK
    found = _listed(swept, capsys, "--method", "communities")
    assert found, "the Leiden sweep should find the injected ring"
    assert set(members) <= {m for ring in found for m in ring["members"]}
    assert main([*args, "--add-detector", "rings"]) != ExitCode.OK
    assert "already runs" in capsys.readouterr().err
    assert main([*args, "--add-detector", "no-such-detector"]) != ExitCode.OK
    assert "no detector named 'no-such-detector'" in capsys.readouterr().err


def _hostile_store(path: Path, ring_id: str) -> Path:
    ring = RingSnapshot(
        ring_id=ring_id,
        method="lockstep",
        size=2,
        risk=0.9,
        reasons=("2 accounts acting in lockstep",),
        founded=1_700_000_000.0,
        updated=1_700_000_600.0,
        members=("a", "b"),
        evidence=(("ip:192.0.2.1", 1), ("file:ab", 1)),
        holdings={"a": ("ip:192.0.2.1",), "b": ("ip:192.0.2.1", "file:ab")},
        evidence_kinds={"ip": 3, "file": 1},
    )
    with SqliteStore(path) as store:
        store.write_rings([ring])
    return path


def test_cli_rings_escape_stored_ids_and_shorten_long_file_names(
    tmp_path, capsys
) -> None:
    nasty = "ring-\x1b[31mRED\x1b]0;title\x07\u202egnp"
    db = _hostile_store(tmp_path / "h.sqlite", nasty)
    assert main(["rings", "--db", str(db)]) == ExitCode.OK
    listed = capsys.readouterr().out
    assert "\x1b" not in listed and "\u202e" not in listed
    assert main(["rings", "--db", str(db), "show", nasty]) == ExitCode.OK
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\u202e" not in shown
    # the full evidence has 4 attributes; the snapshot lists the 2 most cited
    assert "the 2 most cited of 4" in shown
    assert "ip #" in shown  # the label the picture uses
    long_id = "r" * 300
    db = _hostile_store(tmp_path / "long.sqlite", long_id)
    pictures = tmp_path / "pictures"
    args = ["rings", "--db", str(db), "show", long_id, "--picture", str(pictures)]
    assert main(args) == ExitCode.OK
    (written,) = pictures.iterdir()
    assert written.suffix == ".png" and len(written.name) <= 84


def test_cli_rings_damaged_row_is_a_clear_error(tmp_path, capsys) -> None:
    db = _hostile_store(tmp_path / "d.sqlite", "ring-d")
    with SqliteStore(db) as store, store._db:
        store._db.execute("UPDATE rings SET body = X'00FF' WHERE ring_id = 'ring-d'")
    assert main(["rings", "--db", str(db)]) != ExitCode.OK
    assert "the stored ring 'ring-d'" in capsys.readouterr().err
    assert main(["rings", "--db", str(db), "show", "ring-d"]) != ExitCode.OK
    assert "is damaged" in capsys.readouterr().err


def test_cli_rings_method_must_be_known_and_a_cut_list_says_so(
    ring_store, capsys
) -> None:
    db, _ = ring_store
    assert main(["rings", "--db", str(db), "--method", "bogus"]) != ExitCode.OK
    assert "bogus" in capsys.readouterr().err
    assert main(["rings", "--db", str(db), "--limit", "1"]) == ExitCode.OK
    assert "--limit shows more" in capsys.readouterr().out
