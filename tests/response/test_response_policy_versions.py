"""Actions of another policy version than the one dispatch loaded: warned."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from response_rig import T0, log_config, make_action

from trustwatch.decisions.model import Action
from trustwatch.response.adapters import build_adapters
from trustwatch.response.delay import TEST_DELAY_KEY
from trustwatch.response.dispatch import Dispatcher
from trustwatch.response.ledger import DispatchLedger


def _dispatcher(ledger: DispatchLedger, log: Path, policy_ref: str) -> Dispatcher:
    config = log_config(log)
    return Dispatcher(
        ledger,
        config,
        build_adapters(config),
        rng=random.Random(3),
        delays={"other-rule": (timedelta(minutes=5), timedelta(minutes=30))},
        delay_key=TEST_DELAY_KEY,
        policy_ref=policy_ref,
    )


def _of(policy: str, number: int) -> Action:
    action = make_action(number)
    return Action(
        **{f: getattr(action, f) for f in action.__struct_fields__}
        | {"actor": f"policy:{policy}#lock-stuffed"}
    )


def test_actions_of_another_policy_version_are_warned_about_once_per_policy(
    ledger: DispatchLedger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger.store.write_actions(
        [_of("default@trial-2", 1), _of("default@trial-2", 2), _of("default@1", 3)]
    )
    dispatcher = _dispatcher(ledger, tmp_path / "a.jsonl", "default@1")

    dispatcher.run_once(T0)
    ledger.store.write_actions([_of("default@trial-2", 4)])
    dispatcher.run_once(T0)

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    about = [w for w in warnings if "default@trial-2" in w]
    assert len(about) == 1
    assert "delays loaded are those of policy default@1" in about[0]
    assert "hint: pass --policy" in about[0]
    assert not [w for w in warnings if "policy default@1 are taken in" in w]
