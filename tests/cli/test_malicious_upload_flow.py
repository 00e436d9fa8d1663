"""A malicious upload, end to end through ``trustwatch run``.

The EICAR anti-virus test file is uploaded, linked and uploaded again by a
second account; a YARA rule (or an intel hash list) flags it on the first
upload, and the policy then quarantines every copy, disables every link to
it (those created later included) and sends its uploaders to review.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import msgspec
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.decisions.model import Action, Verdict
from trustwatch.events.model import EventBase, FileUploaded, LinkCreated
from trustwatch.storage.sqlite import SqliteStore

pytest.importorskip("yara", reason="YARA scanning needs yara-python")

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

EICAR_RULE = """
rule eicar_test_file : test {
    meta:
        description = "The EICAR anti-virus test file"
        score = 90
    strings:
        $marker = "STANDARD-ANTIVIRUS-TEST"
    condition:
        $marker at 34
}
"""


def eicar() -> bytes:
    """The EICAR anti-virus test file, assembled so no file holds it whole."""
    head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    tail = "EICAR-" + "STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*"
    return (head + tail).encode("ascii")


EICAR_SHA256 = hashlib.sha256(eicar()).hexdigest()


class Paths(NamedTuple):
    """What one scenario writes: events, uploaded content, rules, intel."""

    events: Path
    content: Path
    rules: Path
    intel: Path


def write_scenario(tmp_path: Path, payload: bytes | None = None) -> Paths:
    """Write the uploads, links, content folder, rules folder and hash list.

    Account ``a`` uploads ``payload`` (EICAR unless given) as ``f1`` and
    creates two public links to it; account ``b`` uploads the same bytes as
    ``f2``; later account ``c`` creates a link to ``f2``. The content is
    stored under its SHA-256; the hash list always lists EICAR's.
    """
    data = eicar() if payload is None else payload
    digest = hashlib.sha256(data).hexdigest()
    content = tmp_path / "content"
    content.mkdir()
    (content / digest).write_bytes(data)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "eicar.yar").write_text(EICAR_RULE, encoding="utf-8")
    intel = tmp_path / "hashes.txt"
    intel.write_text(f"{EICAR_SHA256};EICAR test file\n", encoding="utf-8")

    def at(minutes: int) -> datetime:
        return START + timedelta(minutes=minutes)

    records: list[EventBase] = [
        FileUploaded(
            event_id="up-a",
            ts=at(0),
            account="a",
            file_id="f1",
            name="eicar.com",
            size=len(data),
            sha256=digest,
        ),
        LinkCreated(
            event_id="link-a1", ts=at(1), account="a", link_id="l1", file_id="f1"
        ),
        LinkCreated(
            event_id="link-a2", ts=at(2), account="a", link_id="l2", file_id="f1"
        ),
        FileUploaded(
            event_id="up-b",
            ts=at(3),
            account="b",
            file_id="f2",
            name="copy.com",
            size=len(data),
            sha256=digest,
        ),
        LinkCreated(
            event_id="link-c3", ts=at(30), account="c", link_id="l3", file_id="f2"
        ),
    ]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(msgspec.json.encode(r) for r in records) + b"\n")
    return Paths(events, content, rules, intel)


@contextmanager
def opened(db: Path) -> Iterator[SqliteStore]:
    """Open the store a run wrote."""
    with SqliteStore(db) as store:
        yield store


def stored(db: Path) -> tuple[dict[str, Verdict], list[Action]]:
    """Return the stored verdicts by event id, and every stored action."""
    with opened(db) as store:
        verdicts = {v.event_id: v for v in store.iter_verdicts()}
        actions = list(store.iter_actions())
    return verdicts, actions


def targets_of(actions: list[Action], kind: str) -> dict[str, set[str]]:
    """Map each target of actions of one type to the events that caused it."""
    found: dict[str, set[str]] = {}
    for action in actions:
        if action.type == kind:
            found.setdefault(action.target, set()).add(action.event_id)
    return found


def signal_kinds(verdict: Verdict) -> set[str]:
    """The kinds of the signals behind a verdict."""
    return {s.kind for s in verdict.signals}


def assert_spread_actions(verdicts: dict[str, Verdict], actions: list[Action]) -> None:
    """Every copy quarantined, every link disabled, each uploader reviewed."""
    upload = verdicts["up-a"]
    assert "malicious_content" in signal_kinds(upload)
    assert upload.decision == "quarantine_file"

    quarantined = targets_of(actions, "quarantine_file")
    assert "up-a" in quarantined.get("f1", set())
    assert "up-b" in quarantined.get("f2", set())

    disabled = targets_of(actions, "disable_link")
    assert set(disabled) == {"l1", "l2", "l3"}
    # each link disabled by the event that created it, once per link
    assert disabled == {"l1": {"link-a1"}, "l2": {"link-a2"}, "l3": {"link-c3"}}
    for event_id in ("link-a1", "link-a2", "link-c3"):
        assert "malicious_content" in signal_kinds(verdicts[event_id])
        assert verdicts[event_id].decision == "disable_link"

    reviewed = targets_of(actions, "send_to_review")
    assert {"a", "b"} <= set(reviewed)
    assert "c" not in reviewed  # linked to the copy, did not upload it


def run_args(paths: Paths, db: Path, *extra: str) -> list[str]:
    """The ``trustwatch run`` arguments for the scenario."""
    return [
        "run",
        str(paths.events),
        "--db",
        str(db),
        "--no-geo",
        "--content-dir",
        str(paths.content),
        *extra,
    ]


def test_yara_alone_catches_eicar_and_every_copy_and_link(tmp_path: Path) -> None:
    paths = write_scenario(tmp_path)
    db = tmp_path / "yara.sqlite"
    code = main(run_args(paths, db, "--yara", str(paths.rules)))
    assert code == ExitCode.OK

    verdicts, actions = stored(db)
    upload = verdicts["up-a"]
    assert {"yara_match", "malicious_content"} <= signal_kinds(upload)
    assert "intel_hash" not in signal_kinds(upload)
    yara_signal = next(s for s in upload.signals if s.kind == "yara_match")
    assert yara_signal.entity == f"sha256:{EICAR_SHA256}"
    assert yara_signal.evidence["rule"] == "eicar_test_file"
    assert yara_signal.evidence["file_id"] == "f1"
    spread = next(s for s in upload.signals if s.kind == "malicious_content")
    assert spread.evidence["because"] == "yara_match"
    assert spread.evidence["targets"]["file"] == ["f1"]
    assert spread.evidence["targets"]["account"] == ["a"]

    assert_spread_actions(verdicts, actions)


def test_intel_hash_alone_catches_eicar_and_every_copy_and_link(
    tmp_path: Path,
) -> None:
    paths = write_scenario(tmp_path)
    db = tmp_path / "intel.sqlite"
    code = main(run_args(paths, db, "--intel", str(paths.intel)))
    assert code == ExitCode.OK

    verdicts, actions = stored(db)
    upload = verdicts["up-a"]
    assert {"intel_hash", "malicious_content"} <= signal_kinds(upload)
    assert "yara_match" not in signal_kinds(upload)
    spread = next(s for s in upload.signals if s.kind == "malicious_content")
    assert spread.evidence["because"] == "intel_hash"

    assert_spread_actions(verdicts, actions)


def test_clean_content_raises_nothing_malicious(tmp_path: Path) -> None:
    paths = write_scenario(tmp_path, b"an ordinary text file\n")
    db = tmp_path / "clean.sqlite"
    code = main(run_args(paths, db, "--yara", str(paths.rules)))
    assert code == ExitCode.OK
    with opened(db) as store:
        assert not store.dead_letters()  # every upload was read and scanned

    verdicts, actions = stored(db)
    for verdict in verdicts.values():
        assert not {"yara_match", "malicious_content"} & signal_kinds(verdict)
    assert not targets_of(actions, "quarantine_file")
    assert not targets_of(actions, "disable_link")


@pytest.mark.parametrize("source", ["yara", "intel"])
def test_running_twice_adds_no_actions(tmp_path: Path, source: str) -> None:
    paths = write_scenario(tmp_path)
    db = tmp_path / "twice.sqlite"
    extra = (
        ("--yara", str(paths.rules))
        if source == "yara"
        else ("--intel", str(paths.intel))
    )
    assert main(run_args(paths, db, *extra)) == ExitCode.OK
    verdicts, actions = stored(db)
    assert actions  # the first run acted

    assert main(run_args(paths, db, *extra)) == ExitCode.OK
    again_verdicts, again_actions = stored(db)
    assert sorted(a.action_id for a in again_actions) == sorted(
        a.action_id for a in actions
    )
    assert set(again_verdicts) == set(verdicts)
    assert len(again_actions) == len({a.action_id for a in again_actions})


def test_links_made_before_the_content_was_known_are_disabled_together(
    tmp_path: Path,
) -> None:
    paths = write_scenario(tmp_path)
    lines = paths.events.read_bytes().splitlines(keepends=True)
    before, after = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
    before.write_bytes(b"".join(lines[:3]))  # f1 and its two links
    after.write_bytes(b"".join(lines[3:]))  # the copy f2 and the link to it
    blob = paths.content / EICAR_SHA256
    db = tmp_path / "resumed.sqlite"
    yara = ("--yara", str(paths.rules), "--resume")

    # the bytes of f1 are not in the content folder yet: nothing to scan
    blob.rename(tmp_path / "held-back")
    first = run_args(paths, db, *yara)
    first[1] = str(before)
    assert main(first) == ExitCode.OK
    assert not targets_of(stored(db)[1], "disable_link")

    (tmp_path / "held-back").rename(blob)
    second = run_args(paths, db, *yara)
    second[1] = str(after)
    assert main(second) == ExitCode.OK

    verdicts, actions = stored(db)
    copy = verdicts["up-b"]
    assert {"yara_match", "malicious_content"} <= signal_kinds(copy)
    spread = next(s for s in copy.signals if s.kind == "malicious_content")
    assert spread.evidence["targets"] == {
        "file": ["f1", "f2"],
        "link": ["l1", "l2"],
        "account": ["a", "b"],
    }
    assert targets_of(actions, "quarantine_file") == {"f1": {"up-b"}, "f2": {"up-b"}}
    assert targets_of(actions, "disable_link") == {
        "l1": {"up-b"},
        "l2": {"up-b"},
        "l3": {"link-c3"},
    }
    assert {"a", "b"} <= set(targets_of(actions, "send_to_review"))
