"""An action an attempt may have applied stays in force until its reversal is
confirmed, and reversals go through the adapter that applied the action; on
SQLite and PostgreSQL."""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from ledger_backends import CountingAdapter, any_ledger
from response_rig import T0, make_action

from trustwatch.decisions.model import stable_id
from trustwatch.response.adapters import Adapter, AdapterError, Delivery
from trustwatch.response.config import ResponseConfig, response_config_from_dict
from trustwatch.response.dispatch import Dispatcher, reverse_action
from trustwatch.response.ledger import DispatchLedger
from trustwatch.response.ledger_tables import SQLITE_SCHEMA

__all__ = ["any_ledger"]

ACTION = "act-lock-stuffed-00001"
REVERSAL = stable_id("rev", ACTION)


class RefusingPlatform:
    """Refuses every reversal (HTTP 400), takes every apply."""

    name = "platform"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, delivery: Delivery) -> None:
        self.sent.append((delivery.operation, delivery.key))
        if delivery.operation == "reverse":
            raise AdapterError("platform: answered HTTP 400", permanent=True)

    def close(self) -> None:
        return


def _config(route: str = "platform", *names: str) -> ResponseConfig:
    adapters = {
        name: {"kind": "log", "path": "unused.jsonl"}
        for name in (names or ("platform", "platform2"))
    }
    return response_config_from_dict(
        {
            "adapters": adapters,
            "routes": {"default": route},
            "retry": {"max_attempts": 3, "first_backoff": "10s", "max_backoff": "5m"},
        },
        "test",
    )


def _dispatcher(
    ledger: DispatchLedger, config: ResponseConfig, adapters: dict[str, Adapter]
) -> Dispatcher:
    return Dispatcher(ledger, config, adapters, rng=random.Random(3))


def _state(ledger: DispatchLedger, action_id: str) -> str | None:
    found = ledger.record(action_id)
    return found.state if found else None


def _in_flight(ledger: DispatchLedger) -> None:
    """An action a dispatcher claimed and was killed while sending."""
    ledger.store.write_actions([make_action(1, expires=timedelta(hours=1))])
    ledger.add(ACTION, T0)
    assert ledger.claim(ACTION, T0, T0 + timedelta(minutes=5)) == 1


# -- in force until the reversal is confirmed ----------------------------------


def test_a_refused_reversal_of_an_action_in_flight_leaves_it_in_force(
    any_ledger: DispatchLedger,
) -> None:
    _in_flight(any_ledger)
    platform = RefusingPlatform()

    reverse_action(any_ledger, ACTION, "dave", "x", T0)
    assert _state(any_ledger, ACTION) == "dispatched"
    _dispatcher(any_ledger, _config(), {"platform": platform}).run_once(
        T0 + timedelta(minutes=5)
    )

    assert platform.sent == [("reverse", REVERSAL)]
    assert _state(any_ledger, REVERSAL) == "failed"
    record = any_ledger.record(ACTION)
    assert record is not None and record.state == "dispatched"
    assert "in force until the platform confirms" in (record.last_error or "")


def test_an_expired_action_in_flight_stays_in_force_until_its_reversal_is_taken(
    any_ledger: DispatchLedger,
) -> None:
    _in_flight(any_ledger)
    platform = RefusingPlatform()
    dispatcher = _dispatcher(any_ledger, _config(), {"platform": platform})

    dispatcher.run_once(T0 + timedelta(hours=1))
    assert _state(any_ledger, ACTION) == "dispatched"
    dispatcher.run_once(T0 + timedelta(hours=1, minutes=5))

    assert platform.sent == [("reverse", REVERSAL)]
    assert _state(any_ledger, REVERSAL) == "failed"
    assert _state(any_ledger, ACTION) == "dispatched"
    any_ledger.retry(REVERSAL, "dave", "platform fixed", T0 + timedelta(hours=2))
    counting = CountingAdapter()
    _dispatcher(any_ledger, _config(), {"platform": counting}).run_once(
        T0 + timedelta(hours=2)
    )
    assert _state(any_ledger, ACTION) == "expired"


def test_a_dropped_held_action_with_an_attempt_stays_in_force_until_confirmed(
    any_ledger: DispatchLedger,
) -> None:
    _in_flight(any_ledger)
    any_ledger.set_state(ACTION, "held", leaving=("pending",), error="budget: full")

    any_ledger.drop(ACTION, "dave", "not needed", T0)

    assert _state(any_ledger, ACTION) == "dispatched"
    counting = CountingAdapter()
    _dispatcher(any_ledger, _config(), {"platform": counting}).run_once(T0)
    assert counting.operations == [("reverse", ACTION)]
    assert _state(any_ledger, ACTION) == "reversed"


# -- through the adapter that applied it ---------------------------------------


def test_a_reversal_goes_through_the_adapter_that_applied_the_action(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    first, second = CountingAdapter("platform"), CountingAdapter("platform2")
    adapters: dict[str, Adapter] = {"platform": first, "platform2": second}
    _dispatcher(any_ledger, _config("platform"), adapters).run_once(T0)

    reverse_action(any_ledger, ACTION, "dave", "x", T0)
    _dispatcher(any_ledger, _config("platform2"), adapters).run_once(T0)

    assert first.operations == [("apply", ACTION), ("reverse", ACTION)]
    assert second.operations == []
    assert _state(any_ledger, ACTION) == "reversed"
    assert any_ledger.record(ACTION).adapter == "platform"
    assert any_ledger.record(REVERSAL).adapter == "platform"


def test_an_adapter_no_route_names_is_built_for_the_reversal(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    first, second = CountingAdapter("platform"), CountingAdapter("platform2")
    _dispatcher(any_ledger, _config("platform"), {"platform": first}).run_once(T0)
    reverse_action(any_ledger, ACTION, "dave", "x", T0)

    built: list[str] = []

    def build(name: str) -> Adapter:
        built.append(name)
        return first

    Dispatcher(
        any_ledger, _config("platform2"), {"platform2": second}, build=build
    ).run_once(T0)

    assert built == ["platform"]
    assert first.operations[-1] == ("reverse", ACTION)
    assert second.operations == []


def test_a_reversal_waits_when_its_adapter_left_the_config(
    any_ledger: DispatchLedger, caplog: pytest.LogCaptureFixture
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    first, second = CountingAdapter("platform"), CountingAdapter("platform2")
    _dispatcher(any_ledger, _config("platform"), {"platform": first}).run_once(T0)
    reverse_action(any_ledger, ACTION, "dave", "x", T0)

    summary = _dispatcher(
        any_ledger, _config("platform2", "platform2"), {"platform2": second}
    ).run_once(T0)

    assert summary.waiting_for_adapter == 1
    assert second.operations == []
    record = any_ledger.record(REVERSAL)
    assert record is not None and record.state == "pending"
    assert "adapter 'platform', which the config no longer has" in (
        record.last_error or ""
    )
    assert "reversal waits" in caplog.text
    assert _state(any_ledger, ACTION) == "dispatched"


def test_an_older_store_file_gains_the_column_and_reverses_by_the_route(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with DispatchLedger(path) as ledger:
        ledger.store.write_actions([make_action(1)])
    # the ledger's tables as the first version made them, one row dispatched
    with sqlite3.connect(path) as db:
        db.executescript(
            "DROP TABLE action_dispatch; DROP TABLE action_reversals;"
            + SQLITE_SCHEMA
            + "INSERT INTO action_dispatch (action_id, state, attempts, "
            "dispatched_at, due_at) VALUES ('act-lock-stuffed-00001', "
            "'dispatched', 1, '2026-12-01T12:00:00.000000Z', "
            "'2026-12-01T12:00:00.000000Z');"
        )
    second = CountingAdapter("platform2")

    with DispatchLedger(path) as ledger:
        assert ledger.record(ACTION).adapter is None
        reverse_action(ledger, ACTION, "dave", "x", T0)
        _dispatcher(ledger, _config("platform2"), {"platform2": second}).run_once(T0)
        assert _state(ledger, ACTION) == "reversed"

    assert second.operations == [("reverse", ACTION)]


def test_a_waiting_reversal_says_why_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from trustwatch.cli.main import main

    db = tmp_path / "store.db"
    with DispatchLedger(db) as ledger:
        ledger.store.write_actions([make_action(1)])
    config = tmp_path / "response.toml"
    adapter = '[adapters.{0}]\nkind = "log"\npath = "{1}"\n\n'
    config.write_text(
        adapter.format("platform", tmp_path / "a.jsonl")
        + '[routes]\ndefault = "platform"\n'
    )
    store = ["--db", str(db)]
    assert main(["dispatch", "--config", str(config), *store, "--once"]) == 0
    assert (
        main(["actions", "reverse", ACTION, "--as", "dave", "--reason", "x", *store])
        == 0
    )
    config.write_text(
        adapter.format("platform2", tmp_path / "b.jsonl")
        + '[routes]\ndefault = "platform2"\n'
    )
    capsys.readouterr()

    assert main(["dispatch", "--config", str(config), *store, "--once"]) == 0
    assert json.loads(capsys.readouterr().out)["waiting_for_adapter"] == 1
    assert main(["actions", "show", ACTION, *store]) == 0
    shown = json.loads(capsys.readouterr().out)

    assert shown["dispatch"]["state"] == "dispatched"
    assert shown["reversal"]["state"] == "pending"
    assert (
        "adapter 'platform', which the config no longer has"
        in (shown["reversal"]["last_error"])
    )
    assert not (tmp_path / "b.jsonl").exists()
