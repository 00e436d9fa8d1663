"""Commands for enforced actions: list, show, reverse, release, drop and retry
them; run the dispatcher. ``--db`` takes the SQLite store file or a ``postgresql://``
address of the decision store."""

from __future__ import annotations

import json
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.options import DEFAULT_DB
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.errors import ConfigError
from trustwatch.response.ledger import (
    STATES,
    DispatchLedger,
    DispatchRecord,
    open_ledger,
)
from trustwatch.storage.checkpoints import POSTGRES_SCHEMES

if TYPE_CHECKING:
    from trustwatch.response.config import ResponseConfig

__all__ = ["actions", "dispatch"]

console = output_console()
F = TypeVar("F", bound=Callable[..., Any])


def store_option(func: F) -> F:
    """Add ``--db`` (a store file or a ``postgresql://`` address) and
    ``--db-schema``."""
    func = click.option(
        "--db-schema",
        default="trustwatch",
        show_default=True,
        envvar="TRUSTWATCH_DB_SCHEMA",
        show_envvar=True,
        help="PostgreSQL schema of the decision store.",
    )(func)
    return click.option(
        "--db",
        default=DEFAULT_DB,
        show_default=True,
        envvar="TRUSTWATCH_DB",
        show_envvar=True,
        help="The decision store: a SQLite file or postgresql://user@host/db.",
    )(func)


def review_option(func: F) -> F:
    """Add ``--review-db`` and ``--review-schema``: the audit log to write to."""
    func = click.option(
        "--review-schema",
        default="trustwatch",
        show_default=True,
        envvar="TRUSTWATCH_REVIEW_SCHEMA",
        show_envvar=True,
        help="PostgreSQL schema of the review store.",
    )(func)
    return click.option(
        "--review-db",
        envvar="TRUSTWATCH_REVIEW_DB",
        show_envvar=True,
        help="Write the change to this review store's audit log, as the API does.",
    )(func)


@contextmanager
def _audit_log(
    review_db: str | None, schema: str
) -> Iterator[Callable[[str, str, str, dict[str, object]], None]]:
    """Open the audit log first (a bad store fails before anything changes).

    Yields a function ``write(action, actor, action_id, detail)`` that writes
    one entry with the action names and detail fields the API uses; it does
    nothing when no review store is named.
    """
    if not review_db:
        yield lambda *_: None
        return
    from trustwatch.decisions.model import stable_id
    from trustwatch.review.model import AuditEntry
    from trustwatch.review.store import open_review_store

    with open_review_store(review_db, schema=schema) as review:

        def write(
            action: str, actor: str, action_id: str, detail: dict[str, object]
        ) -> None:
            now = datetime.now(UTC)
            review.audit(
                AuditEntry(
                    entry_id=stable_id("audit", now.isoformat(), secrets.token_hex(8)),
                    at=now,
                    actor=actor,
                    role="analyst",
                    action=action,
                    target_type="action",
                    target=action_id,
                    detail=detail,
                    source="cli",
                )
            )

        yield write


def _ledger(db: str, schema: str) -> DispatchLedger:
    if not db.startswith(POSTGRES_SCHEMES) and not Path(db).is_file():
        raise ConfigError(f"no store at {db}; hint: run `trustwatch run` or pass --db")
    return open_ledger(db, schema=schema)


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
        "adapter": record.adapter,
        "expires_at": record.expires_at,
    }


@click.group()
def actions() -> None:
    """Enforced actions: their dispatch state; reversal, release, drop and retry
    by hand."""


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
@store_option
def list_actions(
    state: str | None,
    action_type: str | None,
    limit: int,
    as_json: bool,
    db: str,
    db_schema: str,
) -> None:
    """List enforced actions and reversals with their dispatch state."""
    with _ledger(db, db_schema) as ledger:
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
@store_option
def show_action(action_id: str, db: str, db_schema: str) -> None:
    """Show one action: its record, provenance, dispatch state, reversal and
    releases from the breaker's hold."""
    with _ledger(db, db_schema) as ledger:
        record = ledger.record(action_id)
        reversal = ledger.reversal(action_id) if record and record.reversal_of else None
        target_id = record.reversal_of if record and record.reversal_of else action_id
        action = ledger.action(target_id)
        if action is None:
            raise ConfigError(
                f"no action {action_id} in {ledger.path}; hint: "
                "`trustwatch actions list`"
            )
        reversed_by = ledger.reversal_of(target_id)
        releases = ledger.releases(target_id)
        found = reversal or reversed_by
        sending = ledger.record(found.reversal_id) if found is not None else None
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
        "releases": [
            {
                "release_id": release.release_id,
                "actor": release.actor,
                "reason": release.reason,
                "released_at": release.released_at,
            }
            for release in releases
        ],
    }
    if found is not None:
        shown["reversal"] = {
            "reversal_id": found.reversal_id,
            "actor": found.actor,
            "reason": found.reason,
            "requested_at": found.requested_at,
            # how its sending stands (None: recorded only, nothing to send)
            "state": sending.state if sending else None,
            "last_error": sending.last_error if sending else None,
        }
    # json.dumps escapes control and non-ASCII characters: safe to print
    click.echo(json.dumps(shown, indent=2, sort_keys=True))


@actions.command("reverse")
@click.argument("action_id")
@click.option(
    "--as", "--actor", "actor", required=True, help="Who reverses it (recorded)."
)
@click.option("--reason", required=True, help="Why (recorded).")
@store_option
@review_option
def reverse(
    action_id: str,
    actor: str,
    reason: str,
    db: str,
    db_schema: str,
    review_db: str | None,
    review_schema: str,
) -> None:
    """Reverse an enforced action: unsent ones are never sent, sent ones undone."""
    from trustwatch.response.dispatch import reverse_action

    _by_hand(
        "reverse",
        action_id,
        actor,
        reason,
        (db, db_schema, review_db, review_schema),
        lambda ledger, now: reverse_action(ledger, action_id, actor, reason, now),
    )


@actions.command("release")
@click.argument("action_id")
@click.option("--as", "actor", required=True, help="Who releases it (recorded).")
@click.option("--reason", required=True, help="Why it may go out after all.")
@store_option
@review_option
def release(
    action_id: str,
    actor: str,
    reason: str,
    db: str,
    db_schema: str,
    review_db: str | None,
    review_schema: str,
) -> None:
    """Send an action the breaker held after all: due now, attempts from zero.

    It still goes through its type's budget when it is sent.
    """
    _by_hand(
        "release",
        action_id,
        actor,
        reason,
        (db, db_schema, review_db, review_schema),
        lambda ledger, now: ledger.release(action_id, actor, reason, now),
    )


@actions.command("drop")
@click.argument("action_id")
@click.option("--as", "actor", required=True, help="Who drops it (recorded).")
@click.option("--reason", required=True, help="Why it must never go out.")
@store_option
@review_option
def drop(
    action_id: str,
    actor: str,
    reason: str,
    db: str,
    db_schema: str,
    review_db: str | None,
    review_schema: str,
) -> None:
    """Keep an action the breaker held from ever being sent (recorded as reversed)."""
    _by_hand(
        "drop",
        action_id,
        actor,
        reason,
        (db, db_schema, review_db, review_schema),
        lambda ledger, now: ledger.drop(action_id, actor, reason, now),
    )


def _by_hand(
    verb: str,
    action_id: str,
    actor: str,
    reason: str,
    stores: tuple[str, str, str | None, str],
    change: Callable[[DispatchLedger, datetime], str],
) -> None:
    """Make a change by hand to one action, audit it, and say what happened.

    ``stores`` holds the decision store and its schema, then the review store
    (``None`` for no audit log) and its schema.
    """
    db, db_schema, review_db, review_schema = stores
    with (
        _audit_log(review_db, review_schema) as audit,
        _ledger(db, db_schema) as ledger,
    ):
        outcome = change(ledger, datetime.now(UTC))
        audit(verb, actor, action_id, {"reason": reason, "outcome": outcome})
    console.print(f"{clean(action_id)}: {clean(outcome)}", markup=False)


@actions.command("retry")
@click.argument("action_id")
@click.option("--as", "actor", required=True, help="Who retries it (recorded).")
@click.option("--reason", required=True, help="Why it should go out again.")
@store_option
@review_option
def retry(
    action_id: str,
    actor: str,
    reason: str,
    db: str,
    db_schema: str,
    review_db: str | None,
    review_schema: str,
) -> None:
    """Queue a failed action or reversal again: due now, attempts from zero.

    A reversal the platform refused stays failed, and its action in force,
    until it is retried: give the reversal's id (`actions show ACTION`
    names it).
    """
    _by_hand(
        "retry",
        action_id,
        actor,
        reason,
        (db, db_schema, review_db, review_schema),
        lambda ledger, now: ledger.retry(action_id, actor, reason, now),
    )


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
@store_option
def dispatch(
    config_path: Path, policy: Path | None, once: bool, db: str, db_schema: str
) -> None:
    """Send enforced actions to the platform through the configured adapters.

    With --once, the exit status is 4 when an action failed for good in the
    pass (the platform refused it, or kept refusing it). The pass's summary
    (JSON) goes to standard output, or to standard error when a log adapter
    writes its lines to standard output (path "-").
    """
    from trustwatch.cli.pipeline_setup import checked_policy
    from trustwatch.response.adapters import Adapter, build_adapter, build_adapters
    from trustwatch.response.config import load_response_config
    from trustwatch.response.delay import delay_key
    from trustwatch.response.dispatch import Dispatcher, PassSummary, policy_delays

    config = load_response_config(config_path)
    loaded = checked_policy(policy)
    delays = policy_delays(loaded)
    key = delay_key(config.delay_secret_env) if delays else None
    adapters = build_adapters(config)
    stopping = threading.Event()

    def build(name: str) -> Adapter:
        # an adapter no route names any more, for a reversal sent through it
        adapters[name] = build_adapter(config, name)
        return adapters[name]

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    def report(summary: PassSummary) -> None:
        counts = " ".join(f"{k}={v}" for k, v in summary.as_dict().items())
        error_console().print(f"dispatch pass: {counts}")

    try:
        with _ledger(db, db_schema) as ledger:
            dispatcher = Dispatcher(
                ledger,
                config,
                adapters,
                delays=delays,
                delay_key=key,
                policy_ref=loaded.ref,
                build=build,
            )
            if once:
                summary = dispatcher.run_once()
                click.echo(
                    json.dumps(summary.as_dict(), sort_keys=True),
                    err=_logs_to_stdout(config),
                )
                if summary.failed:
                    # for cron and monitoring: the platform refused something
                    raise click.exceptions.Exit(int(ExitCode.DEPENDENCY_FAILED))
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


def _logs_to_stdout(config: ResponseConfig) -> bool:
    """Whether a routed log adapter writes its lines to standard output."""
    used = set(config.routes.values())
    return any(
        settings.kind == "log" and str(settings.settings.get("path", "-")) == "-"
        for name, settings in config.adapters.items()
        if name in used
    )
