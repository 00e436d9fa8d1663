"""Checkpoints that are damaged or from another version: a clear error, never a crash.

``run --resume`` keeps each detector's version beside its state; a state it
cannot restore (malformed JSON, a missing key, another detector version, a
checkpoint from before versions were kept) is a ``ConfigError`` naming the
detector, with the way to start fresh, and the run stops before reading events.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.behaviour_baseline import BehaviourBaselineDetector
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext
from trustwatch.runtime.embedded import run_embedded
from trustwatch.runtime.pipeline import CHECKPOINT_FORMAT, Pipeline
from trustwatch.storage.sqlite import SqliteStore
from trustwatch.testing import check_detector, synthetic_events

HINT = "hint: run once with --resume --reset-state to start from fresh"
Edit = Callable[[dict[str, Any]], object]


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two event files that follow each other in time."""
    folder = tmp_path_factory.mktemp("events")
    events = synthetic_events(600)
    paths = (folder / "first.jsonl", folder / "second.jsonl")
    for path, part in zip(paths, (events[:300], events[300:]), strict=True):
        path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in part))
    return paths


def resumed_store(tmp_path: Path, first: Path) -> str:
    """Return a store left by one ``run --resume`` over ``first``."""
    db = str(tmp_path / "store.sqlite")
    assert main(["run", str(first), "--db", db, "--no-geo", "--resume"]) == 0
    return db


def checkpoint(db: str) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'pipeline_state'")
        value: dict[str, Any] = json.loads(row.fetchone()[0])
    return value


def put_checkpoint(db: str, text: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'pipeline_state'", (text,))
    conn.close()


def edited(db: str, edit: Edit) -> None:
    state = checkpoint(db)
    edit(state)
    put_checkpoint(db, json.dumps(state))


def resume_fails(db: str, second: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Resume over ``second``; return the error, checking the exit and that
    nothing was decided."""
    with SqliteStore(db) as store:
        before = store.counts()
    code = main(["run", str(second), "--db", db, "--no-geo", "--resume"])
    err = capsys.readouterr().err
    assert code == ExitCode.BAD_CONFIG, err
    assert "Traceback" not in err
    assert err.startswith("error: cannot resume from the checkpoint in ")
    assert HINT in err
    with SqliteStore(db) as store:
        assert store.counts() == before  # stopped before reading an event
    return " ".join(err.split())


def _no_alerted(state: dict[str, Any]) -> None:
    accounts = state["pipeline"]["detectors"]["behaviour_baseline"]["state"]
    assert accounts["accounts"], "the events left no account to damage"
    for _, account in accounts["accounts"]:
        del account["alerted"]


def test_a_good_checkpoint_resumes_and_keeps_each_detector_s_version(
    tmp_path, halves, capsys
):
    first, second = halves
    db = resumed_store(tmp_path, first)
    pipeline = checkpoint(db)["pipeline"]
    assert pipeline["format"] == CHECKPOINT_FORMAT
    saved = pipeline["detectors"]
    assert saved["behaviour_baseline"]["version"] == BehaviourBaselineDetector.version
    assert saved["credential_attacks"]["version"] == CredentialAttackDetector.version
    assert set(saved["credential_attacks"]) == {"version", "state"}
    assert main(["run", str(second), "--db", db, "--no-geo", "--resume"]) == 0


def test_malformed_json_is_a_clear_error(tmp_path, halves, capsys):
    first, second = halves
    db = resumed_store(tmp_path, first)
    put_checkpoint(db, "{not json")
    err = resume_fails(db, second, capsys)
    assert "checkpoint 'pipeline_state' is damaged: not valid JSON" in err


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            _no_alerted,
            "detector state for behaviour_baseline is damaged or from "
            "another version (KeyError: 'alerted')",
        ),
        (
            lambda s: s["pipeline"]["detectors"]["takeover_chain"]["state"].pop(
                "chains"
            ),
            "detector state for takeover_chain is damaged or from another "
            "version (KeyError: 'chains')",
        ),
        (
            lambda s: s["pipeline"]["detectors"]["login_risk"].pop("state"),
            "detector state for login_risk is damaged (no state)",
        ),
        (
            lambda s: s["pipeline"]["engine"].update(active=[[1]]),
            "the actions in force are damaged (ValueError",
        ),
        # a checkpoint saved before holds only the newest time
        (
            lambda s: (s.pop("lateness"), s.update(newest="yesterday")),
            "could not convert string",
        ),
        (lambda s: s.update(lateness={"newest": "yesterday"}), "could not convert"),
        (lambda s: s.pop("pipeline"), "the checkpoint holds no pipeline state"),
    ],
    ids=[
        "missing-key",
        "missing-chains",
        "no-state",
        "engine",
        "newest",
        "lateness",
        "empty",
    ],
)
def test_a_damaged_detector_state_names_the_detector(
    tmp_path, halves, capsys, edit, expected
):
    first, second = halves
    db = resumed_store(tmp_path, first)
    edited(db, edit)
    assert expected in resume_fails(db, second, capsys)


def test_a_state_from_another_detector_version_is_refused(
    tmp_path, halves, capsys, monkeypatch
):
    first, second = halves
    db = resumed_store(tmp_path, first)
    written = BehaviourBaselineDetector.version
    # an upgrade: the same checkpoint met by a newer behaviour_baseline
    monkeypatch.setattr(BehaviourBaselineDetector, "version", "99")
    err = resume_fails(db, second, capsys)
    assert (
        "detector state for behaviour_baseline was written by behaviour_baseline "
        f"version '{written}', this is version '99'"
    ) in err


def test_a_checkpoint_from_before_versions_were_kept_is_refused(
    tmp_path, halves, capsys
):
    first, second = halves
    db = resumed_store(tmp_path, first)

    def unversioned(state: dict[str, Any]) -> None:
        pipeline = state["pipeline"]
        del pipeline["format"]
        pipeline["detectors"] = {
            name: saved["state"] for name, saved in pipeline["detectors"].items()
        }

    edited(db, unversioned)
    err = resume_fails(db, second, capsys)
    assert "written by an earlier trustwatch that kept no detector versions" in err


def test_reset_state_starts_fresh_and_replaces_an_unreadable_checkpoint(
    tmp_path, halves
):
    first, second = halves
    db = resumed_store(tmp_path, first)
    put_checkpoint(db, "{not json")
    with SqliteStore(db) as store:
        with pytest.raises(ConfigError, match="not valid JSON"):
            run_embedded([second], store, resume=True)
        fresh = run_embedded([second], store, resume=True, reset_state=True)
        assert (fresh.events, fresh.late_events) == (300, 0)  # nothing restored
        assert store.load_state("pipeline_state")["pipeline"]["format"] == 2
        again = run_embedded([second], store, resume=True)
    # it restored the state reset_state left, with the events it read: the
    # same file again is skipped as repeats
    assert (again.events, again.repeats) == (0, 300)


def test_reset_state_without_resume_is_refused(tmp_path, halves):
    first, _ = halves
    refused = pytest.raises(ConfigError, match="only applies with --resume")
    with SqliteStore(tmp_path / "s.sqlite") as store, refused:
        run_embedded([first], store, reset_state=True)


class Fragile(Detector):
    """Counts its events; its state is restored by a strict reader."""

    name = "fragile"
    version = "3"

    def __init__(self) -> None:
        self.seen = 0

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        self.seen += 1
        return ()

    def get_state(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def set_state(self, state: dict[str, Any]) -> None:
        if state["seen"] < 0:
            raise RuntimeError("x" * 500 + "; hint: a hint of its own")
        self.seen = state["seen"]


def pipeline_of(*detectors: Detector) -> Pipeline:
    return Pipeline(list(detectors), DecisionEngine(default_policy()))


def test_the_pipeline_restores_what_it_saved_and_starts_missing_detectors_fresh():
    saved = pipeline_of(Fragile())
    for event in synthetic_events(5):
        saved.process_one(event)
    state = msgspec.json.decode(msgspec.json.encode(saved.get_state()))
    assert state["detectors"]["fragile"] == {"version": "3", "state": {"seen": 5}}

    restored, newcomer = Fragile(), CredentialAttackDetector()
    pipeline_of(restored, newcomer).set_state(state)
    assert restored.seen == 5
    assert newcomer.get_state() == CredentialAttackDetector().get_state()
    # a saved detector the pipeline does not run is kept for a later run
    without = pipeline_of(CredentialAttackDetector())
    without.set_state(state)
    passed_on = without.get_state()
    assert passed_on["detectors"]["fragile"] == state["detectors"]["fragile"]
    again = Fragile()
    pipeline_of(again, CredentialAttackDetector()).set_state(passed_on)
    assert again.seen == 5


def test_any_failure_of_a_detector_s_set_state_becomes_a_config_error():
    state = pipeline_of(Fragile()).get_state()
    state["detectors"]["fragile"]["state"]["seen"] = -1
    with pytest.raises(ConfigError) as caught:
        pipeline_of(Fragile()).set_state(state)
    message = str(caught.value)
    assert message.startswith(
        "detector state for fragile is damaged or from another version "
        "(RuntimeError: xxx"
    )
    assert "hint" not in message  # the caller gives the hint
    assert len(message) < 300  # a long message is cut
    assert isinstance(caught.value.__cause__, RuntimeError)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ([], "the checkpoint is a list, not a pipeline state"),
        ({"format": 7, "detectors": {}}, "format 7, this trustwatch reads format 2"),
        ({"format": 2, "detectors": []}, "holds no detector states"),
        (
            {"format": 2, "detectors": {"fragile": {"version": "2", "state": {}}}},
            "written by fragile version '2', this is version '3'",
        ),
    ],
)
def test_a_checkpoint_of_the_wrong_shape_is_a_config_error(state, expected):
    with pytest.raises(ConfigError, match=expected):
        pipeline_of(Fragile()).set_state(state)


class Panic(BaseException):
    """What a native extension may raise: not an ``Exception``."""


class Panicking(Fragile):
    """Restores its own state, but panics on a damaged one."""

    name = "panicking"

    def set_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or "seen" not in state:
            raise Panic("unwrap on an Err value")
        self.seen = state["seen"]


def test_the_conformance_suite_refuses_a_detector_that_panics_on_damage():
    check_detector(Fragile)
    with pytest.raises(AssertionError, match="raised Panic, not an Exception"):
        check_detector(Panicking)


def test_reset_state_from_the_command_line(tmp_path, halves, capsys):
    first, second = halves
    db = resumed_store(tmp_path, first)
    put_checkpoint(db, "{not json")
    resume = ["run", str(second), "--db", str(db), "--no-geo", "--resume"]
    assert main(resume) == ExitCode.BAD_CONFIG
    assert "--reset-state" in capsys.readouterr().err
    assert main([*resume, "--reset-state"]) == ExitCode.OK
    assert main(resume) == ExitCode.OK  # the fresh checkpoint restores


def test_a_resumed_run_without_an_opt_in_detector_keeps_its_state(tmp_path, halves):
    first, second = halves
    db = str(tmp_path / "store.sqlite")
    args = ["--db", db, "--no-geo", "--resume"]
    assert main(["run", str(first), *args, "--add-detector", "communities"]) == 0
    saved = checkpoint(db)["pipeline"]["detectors"]["communities"]
    assert main(["run", str(second), *args]) == 0
    assert checkpoint(db)["pipeline"]["detectors"]["communities"] == saved
