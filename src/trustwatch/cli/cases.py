"""``trustwatch cases``: build review cases from alerts, and work them.

``cases build`` groups a decision store's alerts into cases (per ring or per
account) in the review store; ``list``, ``show``, ``assign`` and ``resolve``
are an analyst's queue. Every assignment and resolution is written to the
review store's audit log with the analyst's name (``--as``, or ``$USER``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import click
import msgspec
from rich.table import Table
from rich.text import Text

from trustwatch.cli.options import DEFAULT_DB
from trustwatch.cli.params import FiniteFloatRange
from trustwatch.cli.render import clean, output_console
from trustwatch.cli.review import one_signal_kind
from trustwatch.errors import ConfigError
from trustwatch.review.actions import ANALYST_ACTIONS
from trustwatch.review.model import LABEL_KINDS, Case, CaseQuery, LabelKind
from trustwatch.text import note_lines

__all__ = ["cases", "open_decisions", "open_review", "review_db_option"]

console = output_console()
_encode = msgspec.json.Encoder().encode
F = TypeVar("F", bound=Callable[..., Any])

#: Where the embedded review store lives unless ``--review-db`` says otherwise.
DEFAULT_REVIEW_DB = "trustwatch-data/review.sqlite"
_STATUSES = ("open", "assigned", "resolved")
_SUBJECT_TYPES = ("account", "ring", "link", "file", "ip")
_ACTIONS = ("none", *ANALYST_ACTIONS)


def review_db_option(func: F) -> F:
    """Add ``--review-db``: a SQLite file or a ``postgresql://`` address."""
    return click.option(
        "--review-db",
        default=DEFAULT_REVIEW_DB,
        show_default=True,
        envvar="TRUSTWATCH_REVIEW_DB",
        show_envvar=True,
        help="The review store: a SQLite file, or postgresql://user@host/db.",
    )(func)


def _schema_option(func: F) -> F:
    return click.option(
        "--review-schema",
        default="trustwatch",
        show_default=True,
        help="PostgreSQL schema of the review tables.",
    )(func)


def _actor_option(func: F) -> F:
    return click.option(
        "--as",
        "actor",
        envvar="USER",
        help="Who is acting, for the audit log (default: $USER).",
    )(func)


def _take_over_option(func: F) -> F:
    return click.option(
        "--take-over",
        is_flag=True,
        help="Act on a case another analyst holds (the audit log names them).",
    )(func)


def _label_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--label", "kind", required=True, type=click.Choice(LABEL_KINDS), help=help_text
    )


def _decisions_option(func: F) -> F:
    return click.option(
        "--db",
        default=DEFAULT_DB,
        show_default=True,
        envvar="TRUSTWATCH_DB",
        show_envvar=True,
        help="The decision store the alerts come from (SQLite file or "
        "postgresql://...).",
    )(func)


def _db_schema_option(func: F) -> F:
    return click.option(
        "--db-schema",
        default="trustwatch",
        show_default=True,
        envvar="TRUSTWATCH_DB_SCHEMA",
        show_envvar=True,
        help="PostgreSQL schema of the decision store's tables.",
    )(func)


@contextmanager
def open_review(
    target: str,
    schema: str = "trustwatch",
    *,
    create: bool = False,
    upgrade: bool = False,
) -> Iterator[Any]:
    """Open the review store ``target`` names.

    Parameters
    ----------
    target
        A SQLite file or a ``postgresql://`` address.
    schema
        The PostgreSQL schema of the review tables.
    create
        Create a missing SQLite file (and its folder) and migrate an older
        one, as the commands that write cases do. Off, the store must exist
        at the current revision, and nothing is created or changed.
    upgrade
        Without ``create``: the store must exist, and an older SQLite one is
        migrated (the commands that work existing cases).
    """
    from trustwatch.review.store import open_review_store

    if not target.strip():
        raise ConfigError("--review-db is empty; hint: give a file or postgresql://")
    if create and "://" not in target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    existing = not create
    # PostgreSQL schemas move only with `trustwatch db upgrade`
    migrate = existing and upgrade and "://" not in target
    store = open_review_store(target, schema=schema, existing=existing, migrate=migrate)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def open_decisions(
    target: str, *, writable: bool = False, schema: str = "trustwatch"
) -> Iterator[Any]:
    """Open an existing decision store, for reading unless ``writable``.

    ``schema`` is the PostgreSQL schema of its tables (unused for SQLite).
    """
    from trustwatch.storage.checkpoints import POSTGRES_SCHEMES
    from trustwatch.storage.postgres import PostgresStore
    from trustwatch.storage.sqlite import SqliteStore

    store: Any
    if target.startswith(POSTGRES_SCHEMES):
        store = PostgresStore(target, schema=schema, existing=True)
    elif not Path(target).is_file():
        raise ConfigError(
            f"no decision store at {target}; hint: run `trustwatch run` first, "
            "or pass --db"
        )
    else:
        store = SqliteStore(Path(target), readonly=not writable)
    try:
        yield store
    finally:
        store.close()


def _actor(actor: str | None) -> str:
    from trustwatch.api.schemas import reads_as_written

    if actor is None or not actor.strip():
        raise ConfigError("who is acting? hint: pass --as NAME (or set $USER)")
    if not reads_as_written(actor):
        # the audit log shows the name to other people: it must read as stored
        raise ConfigError(
            "--as holds control or format characters; hint: give the name as "
            "it should read in the audit log"
        )
    return actor.strip()


def _assignee(name: str) -> str:
    """Check ``--to`` as the API checks an assignee: shown to other analysts,
    it must read as stored."""
    from trustwatch.api.schemas import MAX_ID, reads_as_written

    if not name:
        raise click.BadParameter(
            "is empty; hint: --unassign hands the case back to the queue",
            param_hint="--to",
        )
    if len(name) > MAX_ID or not reads_as_written(name):
        raise click.BadParameter(
            f"must not be blank or hold control or format characters, and is "
            f"at most {MAX_ID} characters; hint: give the name as it should read",
            param_hint="--to",
        )
    return name


def _note(note: str) -> str:
    from trustwatch.api.schemas import MAX_NOTE, note_reads_as_written

    if len(note) > MAX_NOTE:
        raise ConfigError(
            f"--note holds {len(note):,} characters; hint: keep it to {MAX_NOTE:,} "
            "(the API and the console take no more)"
        )
    if not note_reads_as_written(note):
        # shown to other analysts, in the console and the audit log
        raise ConfigError(
            "--note holds control or format characters; hint: write it as it "
            "should read (line breaks and tabs are kept)"
        )
    return note


def _given(parameter: str) -> bool:
    """Whether the user set ``parameter`` (on the command line or in the env)."""
    source = click.get_current_context().get_parameter_source(parameter)
    return source not in (None, click.core.ParameterSource.DEFAULT)


def _print_json(record: object) -> None:
    sys.stdout.write(_encode(record).decode() + "\n")


@click.group()
def cases() -> None:
    """Review cases: alerts grouped per ring or account, worked by analysts."""


@cases.command()
@_decisions_option
@_db_schema_option
@review_db_option
@_schema_option
@click.option(
    "--review-threshold",
    type=FiniteFloatRange(0.0, 1.0),
    help="Also open cases for allowed events scoring at least this.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Read every alert again, not only those after the last build.",
)
def build(
    db: str,
    db_schema: str,
    review_db: str,
    review_schema: str,
    review_threshold: float | None,
    full: bool,
) -> None:
    """Put the decision store's new alerts into cases (reruns add only new ones)."""
    from trustwatch.review.cases import build_cases

    with (
        open_decisions(db, schema=db_schema) as decisions,
        open_review(review_db, review_schema, create=True) as rs,
    ):
        summary = build_cases(
            decisions, rs, review_threshold=review_threshold, full=full
        )
    console.print(
        f"{summary.verdicts:,} alerts read; {summary.alerts:,} new alerts into "
        f"{summary.cases_changed:,} cases ({summary.cases_opened:,} new)"
    )


@cases.command("list")
@review_db_option
@_schema_option
@click.option("--status", type=click.Choice(_STATUSES), help="Only this status.")
@click.option("--assignee", help="Only cases assigned to this analyst.")
@click.option("--account", help="Only cases about this account.")
@click.option("--subject-type", type=click.Choice(_SUBJECT_TYPES))
@click.option(
    "--kind",
    callback=one_signal_kind,
    help="Only cases with an alert of this signal kind.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    default=0,
    help="Skip this many cases first (the next page of 50: --offset 50).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
def list_cases(
    review_db: str,
    review_schema: str,
    status: str | None,
    assignee: str | None,
    account: str | None,
    subject_type: str | None,
    kind: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List cases, most urgent first."""
    query = CaseQuery(
        status=status,  # type: ignore[arg-type]
        assignee=assignee,
        account=account,
        subject_type=subject_type,  # type: ignore[arg-type]
        kind=kind,
        limit=limit,
        offset=offset,
    )
    with open_review(review_db, review_schema) as store:
        found: list[Case] = store.cases(query)
    if as_json:
        for case in found:
            _print_json(case)
        return
    if not found:
        console.print("no cases")
        return
    table = Table("case", "status", "priority", "assignee", "last alert", "title")
    for case in found:
        table.add_row(
            case.case_id,
            case.status,
            f"{case.priority:.2f}",
            clean(case.assignee or "-"),
            case.last_seen.strftime("%Y-%m-%d %H:%M"),
            clean(case.title),
        )
    console.print(table)


@cases.command()
@click.argument("case_id")
@review_db_option
@_schema_option
@_decisions_option
@_db_schema_option
@click.option(
    "--ledger/--no-ledger",
    default=True,
    show_default=True,
    help="Add the dispatch state of the actions (SQLite decision stores).",
)
@click.option("--json", "as_json", is_flag=True, help="The evidence as JSON.")
def show(
    case_id: str,
    review_db: str,
    review_schema: str,
    db: str,
    db_schema: str,
    ledger: bool,
    as_json: bool,
) -> None:
    """Show a case with its alerts, intel matches, rings and actions."""
    from trustwatch.review.cases import case_evidence
    from trustwatch.review.model import CaseNotFoundError

    with open_review(review_db, review_schema) as store:
        case = store.case(case_id)
    if case is None:
        raise CaseNotFoundError(f"no case {case_id!r}; hint: trustwatch cases list")
    with open_decisions(db, schema=db_schema) as decisions:
        dispatch = None
        if ledger and "://" not in db and _has_ledger(Path(db)):
            from trustwatch.response.ledger import DispatchLedger

            dispatch = DispatchLedger(Path(db))
        try:
            evidence = case_evidence(case, decisions, ledger=dispatch)
        finally:
            if dispatch is not None:
                dispatch.close()
    if as_json:
        _print_json(evidence)
        return
    _render_evidence(evidence)


def _has_ledger(path: Path) -> bool:
    """Whether a dispatcher has kept state in the store (read without writing)."""
    import sqlite3

    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as conn:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                "AND name = 'action_dispatch'"
            ).fetchone()
    except sqlite3.Error:
        return False
    return row is not None


def _render_evidence(evidence: Any) -> None:
    case = evidence.case
    console.print(Text(clean(case.title), style="bold"))
    console.print(
        f"{case.case_id}  {case.status}  priority {case.priority:.2f}  "
        f"assignee {clean(case.assignee or '-')}"
    )
    if case.status == "resolved":
        console.print(
            f"resolved as {case.label} by {clean(case.resolved_by or '-')}"
            f" ({clean(case.resolution_action or 'no action')})"
        )
        if case.note:
            shown = "\n      ".join(clean(line) for line in note_lines(case.note))
            console.print(f"note: {shown}", markup=False)
    table = Table("time", "verdict", "event", "account", "decision", "score", "why")
    for verdict in evidence.verdicts:
        reasons = "; ".join(r for s in verdict.signals for r in s.reasons[:1])
        table.add_row(
            verdict.ts.strftime("%Y-%m-%d %H:%M:%S"),
            verdict.verdict_id,
            verdict.event_type,
            clean(verdict.account or "-"),
            verdict.decision,
            f"{verdict.score:.2f}",
            clean(reasons[:120]),
        )
    console.print(table)
    for match in evidence.intel_matches:
        indicator = match["indicator"]
        console.print(
            f"intel: {clean(indicator.get('type'))} {clean(indicator.get('value'))} "
            f"({clean(', '.join(indicator.get('feeds', [])))})"
        )
    for ring in evidence.rings:
        console.print(
            f"ring {clean(ring['ring_id'])}: {ring['size']} members, risk "
            f"{ring['risk']:.2f} ({clean('; '.join(ring['reasons']))})"
        )
    for action in evidence.actions:
        state = evidence.dispatch.get(action.action_id, {}).get("state", "-")
        console.print(
            f"action {action.type} on {action.target_type} {clean(action.target)}: "
            f"{action.mode}, dispatch {state}"
        )
    if evidence.missing_verdicts:
        console.print(f"{len(evidence.missing_verdicts)} alerts no longer stored")


@cases.command()
@click.argument("case_id")
@click.option("--to", "assignee", help="The analyst to give the case to.")
@click.option("--unassign", is_flag=True, help="Hand the case back to the queue.")
@_take_over_option
@review_db_option
@_schema_option
@_actor_option
def assign(
    case_id: str,
    assignee: str | None,
    unassign: bool,
    take_over: bool,
    review_db: str,
    review_schema: str,
    actor: str | None,
) -> None:
    """Give a case to an analyst (or back to the queue with --unassign)."""
    from trustwatch.review.audit import record_action, taken_from

    who = _actor(actor)
    if unassign == (assignee is not None):
        raise ConfigError("give either --to NAME or --unassign")
    if assignee is not None:
        assignee = _assignee(assignee)
    with open_review(review_db, review_schema, upgrade=True) as store:
        before = store.case(case_id)
        case = store.assign(case_id, assignee, by=who, take_over=take_over)
        changed = before is not None and before.assignee != assignee
        record_action(
            store,
            actor=who,
            action="unassign" if unassign else "assign",
            target_type="case",
            target=case_id,
            detail={
                "assignee": case.assignee,
                **(taken_from(before, who) if changed else {}),
            },
        )
    console.print(f"{case_id}: {case.status} ({clean(case.assignee or 'queue')})")


@cases.command()
@click.argument("case_id")
@_label_option("The analyst's verdict on the subject (benign, or the kind of abuse).")
@click.option(
    "--action",
    type=click.Choice(_ACTIONS),
    help="An action to take on the case's subject (a ring's: on every member): "
    "recorded in the decision store in enforce mode by analyst:NAME, for "
    "`trustwatch dispatch` to send.",
)
@click.option("--note", default="", help="Free text kept with the case and label.")
@_take_over_option
@review_db_option
@_schema_option
@_decisions_option
@_db_schema_option
@_actor_option
def resolve(
    case_id: str,
    kind: str,
    action: str | None,
    note: str,
    take_over: bool,
    review_db: str,
    review_schema: str,
    db: str,
    db_schema: str,
    actor: str | None,
) -> None:
    """Close a case with a label; the label and the alerts' features are kept."""
    from trustwatch.review.actions import ActionNotApplicable, resolve_with_action
    from trustwatch.review.audit import record_action, taken_from

    who = _actor(actor)
    note = _note(note)
    taking = None if action in (None, "none") else action
    with contextlib.ExitStack() as stack:
        # the decision store gives the label its features, and takes the action;
        # one named on purpose (--db, $TRUSTWATCH_DB) must exist, the default
        # may be missing when there is no action to record
        decisions = None
        if taking is not None or "://" in db or Path(db).is_file() or _given("db"):
            decisions = stack.enter_context(
                open_decisions(db, writable=taking is not None, schema=db_schema)
            )
        store = stack.enter_context(open_review(review_db, review_schema, upgrade=True))
        before = store.case(case_id)
        try:
            case, label, taken = resolve_with_action(
                store,
                case_id,
                label=cast("LabelKind", kind),
                analyst=who,
                action=taking,
                write_actions=decisions.write_actions if decisions else None,
                decisions=decisions,
                note=note,
                take_over=take_over,
            )
        except ActionNotApplicable as exc:
            raise click.BadParameter(str(exc), param_hint="--action") from exc
        record_action(
            store,
            actor=who,
            action="resolve",
            target_type="case",
            target=case_id,
            detail={
                "label": kind,
                "action": action,
                "label_id": label.label_id,
                "actions": [a.action_id for a in taken],
                **(taken_from(before, who) if before else {}),
            },
        )
    console.print(f"{case_id}: resolved as {case.label}")
    for taken_action in taken:
        console.print(
            f"  {taken_action.type} {clean(taken_action.target)}: "
            f"{taken_action.action_id} (enforce; `trustwatch dispatch` sends it)"
        )


@cases.command()
@click.argument("case_id")
@_label_option("The corrected verdict on the case's subject.")
@click.option("--note", default="", help="Why the label changes; kept with it.")
@review_db_option
@_schema_option
@_actor_option
def correct(
    case_id: str,
    kind: str,
    note: str,
    review_db: str,
    review_schema: str,
    actor: str | None,
) -> None:
    """Correct a resolved case's label; training follows the correction.

    The earlier label stays on record (`cases labels` lists both); the
    correction is a later label on the same subject, and training replays
    labels in the order they were given. Actions taken at resolution stand:
    reverse them with `trustwatch actions reverse`.
    """
    from trustwatch.review.audit import record_action

    who = _actor(actor)
    note = _note(note)
    with open_review(review_db, review_schema, create=False) as store:
        case, label = store.correct(
            case_id, label=cast("LabelKind", kind), analyst=who, note=note
        )
        record_action(
            store,
            actor=who,
            action="correct",
            target_type="case",
            target=case_id,
            detail={"label": kind, "label_id": label.label_id},
        )
    console.print(f"{case_id}: label corrected to {case.label}")


@cases.command()
@review_db_option
@_schema_option
@click.option("--subject-type", type=click.Choice(_SUBJECT_TYPES))
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
def labels(
    review_db: str, review_schema: str, subject_type: str | None, as_json: bool
) -> None:
    """List analysts' labels in the order they were given."""
    with open_review(review_db, review_schema) as store:
        found = store.labels(subject_type=cast(Any, subject_type))
    if as_json:
        for label in found:
            _print_json(label)
        return
    if not found:
        console.print("no labels")
        return
    table = Table("given", "subject", "kind", "analyst", "case")
    for label in found:
        table.add_row(
            label.labelled_at.strftime("%Y-%m-%d %H:%M:%S"),
            clean(f"{label.subject_type} {label.subject}"),
            label.kind,
            clean(label.analyst),
            label.case_id or "-",
        )
    console.print(table)
