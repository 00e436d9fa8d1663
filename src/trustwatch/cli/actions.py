"""Commands for enforced actions: list, show and reverse them; run the dispatcher."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click
from rich.table import Table

from trustwatch.cli.options import db_option
from trustwatch.cli.render import clean, output_console
from trustwatch.errors import ConfigError
from trustwatch.response.ledger import STATES, DispatchLedger, DispatchRecord

__all__ = ["actions", "dispatch"]

console = output_console()


def _ledger(db: Path) -> DispatchLedger:
    if not db.is_file():
        raise ConfigError(f"no store at {db}; hint: run `trustwatch run` or pass --db")
    return DispatchLedger(db)


def _record_dict(record: DispatchRecord) -> dict[str, object]:
    return {
        "action_id": record.action_id,
        "state": record.state,
        "attempts": record.attempts,
        "due_at": record.due_at,
        "next_attempt_at": record.next_attempt_at,
        "dispatched_at": record.dispatched_at,
        "last_error": record.last_error,
        "reversal_of": record.reversal_of,
    }


@click.group()
def actions() -> None:
    """Enforced actions: their dispatch state, and reversal by hand."""


@actions.command("list")
@click.option("--state", type=click.Choice(STATES), help="Only actions in this state.")
@click.option("--type", "action_type", help="Only this action type (lock_account...).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Most rows to list, latest due first.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
@db_option
def list_actions(
    state: str | None, action_type: str | None, limit: int, as_json: bool, db: Path
) -> None:
    """List enforced actions and reversals with their dispatch state."""
    with _ledger(db) as ledger:
        rows = ledger.listing(state, action_type, limit)
    if as_json:
        for record, action in rows:
            line = _record_dict(record) | {
                "type": action.type,
                "target_type": action.target_type,
                "target": action.target,
                "actor": action.actor,
            }
            sys.stdout.write(json.dumps(line, sort_keys=True) + "\n")
        return
    table = Table("action", "state", "type", "target", "attempts", "due", "last error")
    for record, action in rows:
        name = record.action_id
        if record.reversal_of:
            name += f" (reverses {record.reversal_of})"
        table.add_row(
            clean(name),
            record.state,
            clean(action.type),
            clean(f"{action.target_type}:{action.target}"),
            str(record.attempts),
            record.due_at,
            clean(record.last_error or ""),
        )
    console.print(table)


@actions.command("show")
@click.argument("action_id")
@db_option
def show_action(action_id: str, db: Path) -> None:
    """Show one action: its record, provenance, dispatch state and reversal."""
    with _ledger(db) as ledger:
        record = ledger.record(action_id)
        reversal = ledger.reversal(action_id) if record and record.reversal_of else None
        target_id = record.reversal_of if record and record.reversal_of else action_id
        action = ledger.action(target_id)
        if action is None:
            raise ConfigError(
                f"no action {action_id} in {db}; hint: `trustwatch actions list`"
            )
        reversed_by = ledger.reversal_of(target_id)
    shown: dict[str, object] = {
        "action": {
            "action_id": action.action_id,
            "type": action.type,
            "target_type": action.target_type,
            "target": action.target,
            "mode": action.mode,
            "actor": action.actor,
            "reason": action.reason,
            "verdict_id": action.verdict_id,
            "event_id": action.event_id,
            "created_at": action.created_at.isoformat(),
            "expires_at": action.expires_at.isoformat() if action.expires_at else None,
        },
        "dispatch": _record_dict(record) if record else None,
        "reversal": None,
    }
    found = reversal or reversed_by
    if found is not None:
        shown["reversal"] = {
            "reversal_id": found.reversal_id,
            "actor": found.actor,
            "reason": found.reason,
            "requested_at": found.requested_at,
        }
    # json.dumps escapes control and non-ASCII characters: safe to print
    click.echo(json.dumps(shown, indent=2, sort_keys=True))


@actions.command("reverse")
@click.argument("action_id")
@click.option("--actor", required=True, help="Who reverses it (recorded).")
@click.option("--reason", required=True, help="Why (recorded).")
@db_option
def reverse(action_id: str, actor: str, reason: str, db: Path) -> None:
    """Reverse an enforced action: unsent ones are never sent, sent ones undone."""
    from trustwatch.response.dispatch import reverse_action

    with _ledger(db) as ledger:
        outcome = reverse_action(ledger, action_id, actor, reason, datetime.now(UTC))
    console.print(f"{clean(action_id)}: {clean(outcome)}", markup=False)


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    envvar="TRUSTWATCH_RESPONSE_CONFIG",
    show_envvar=True,
    help="The response settings (response.toml).",
)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TRUSTWATCH_POLICY",
    show_envvar=True,
    help="The policy whose rules' delays apply; the shipped default otherwise.",
)
@click.option("--once", is_flag=True, help="One pass, then exit (for cron and tests).")
@db_option
def dispatch(config_path: Path, policy: Path | None, once: bool, db: Path) -> None:
    """Send enforced actions to the platform through the configured adapters."""
    from trustwatch.cli.pipeline_setup import checked_policy
    from trustwatch.response.adapters import build_adapters
    from trustwatch.response.config import load_response_config
    from trustwatch.response.delay import delay_key
    from trustwatch.response.dispatch import Dispatcher, PassSummary, policy_delays

    config = load_response_config(config_path)
    delays = policy_delays(checked_policy(policy))
    key = delay_key(config.delay_secret_env) if delays else None
    adapters = build_adapters(config)
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    def report(summary: PassSummary) -> None:
        counts = " ".join(f"{k}={v}" for k, v in summary.as_dict().items())
        click.echo(f"dispatch pass: {counts}", err=True)

    try:
        with _ledger(db) as ledger:
            dispatcher = Dispatcher(
                ledger, config, adapters, delays=delays, delay_key=key
            )
            if once:
                summary = dispatcher.run_once()
                click.echo(json.dumps(summary.as_dict(), sort_keys=True))
                return
            previous = signal.signal(signal.SIGTERM, stop)
            try:
                dispatcher.run_forever(
                    should_stop=stopping.is_set, sleep=stopping.wait, on_pass=report
                )
            except KeyboardInterrupt:
                pass
            finally:
                signal.signal(signal.SIGTERM, previous)
    finally:
        for adapter in adapters.values():
            adapter.close()
