"""``trustwatch train``: train models on analysts' labels from the review store.

Labels are replayed in the order analysts gave them: a later label of the
same subject overrides an earlier one, and ``--as-of`` leaves out labels
given after that time, so the model learns only what was known then. Labels
from a file can be added; where the two disagree the review store wins, and
the disagreements are reported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import msgspec

from trustwatch.cli.cases import open_review, review_db_option
from trustwatch.cli.options import Timestamp, event_reading_options
from trustwatch.cli.params import FiniteFloatRange
from trustwatch.cli.render import clean, output_console
from trustwatch.errors import ConfigError

__all__ = [
    "account_model_files",
    "account_model_options",
    "print_account_figures",
    "print_label_rows_left_out",
    "print_repeats_skipped",
    "read_events_in_time_order",
    "refuse_writing_over_inputs",
    "same_file",
    "train",
]

console = output_console()
_encode = msgspec.json.Encoder().encode
_SHOWN_CONFLICTS = 5
#: The source name of URLs labelled in the review store, in a data card.
_REVIEW_SOURCE = "review store"


@click.group()
def train() -> None:
    """Train models on the labels analysts gave when resolving cases."""


def _label_report(
    replayed: Any,
    file_count: int,
    conflicts: list[str],
    *,
    file_after_as_of: int = 0,
    file_without_time: int = 0,
) -> dict[str, Any]:
    return {
        "review_labels_used": replayed.used,
        "review_labels_after_as_of": replayed.after_as_of,
        "review_labels_overridden": replayed.overridden,
        "review_labels_by_kind": replayed.by_kind,
        "review_subjects": len(replayed.labels),
        "file_labels": file_count,
        "file_labels_after_as_of": file_after_as_of,
        "file_labels_without_time": file_without_time,
        "conflicts": len(conflicts),
        "conflict_examples": conflicts[:_SHOWN_CONFLICTS],
    }


def _print_label_report(report: dict[str, Any], as_of: datetime | None) -> None:
    when = f" given by {as_of.isoformat()}" if as_of else ""
    files = f"{report['file_labels']:,} from files"
    if as_of is not None and (
        report["file_labels_after_as_of"] or report["file_labels_without_time"]
    ):
        files += (
            f" ({report['file_labels_after_as_of']:,} dated later left out, "
            f"{report['file_labels_without_time']:,} without a time kept)"
        )
    console.print(
        f"review labels{when}: {report['review_labels_used']:,} used "
        f"({report['review_labels_overridden']:,} overridden by a later one, "
        f"{report['review_labels_after_as_of']:,} given later left out) over "
        f"{report['review_subjects']:,} subjects; {files}"
    )
    if report["conflicts"]:
        examples = ", ".join(clean(s[:60]) for s in report["conflict_examples"])
        console.print(
            f"{report['conflicts']:,} subjects labelled differently in the file "
            f"and the review store; the review label was kept (e.g. {examples})"
        )


def print_account_figures(figures: dict[str, Any]) -> None:
    """Print an account model's split, reported figures and threshold.

    The reported figures are the test part's, or the validation part's when
    the labels allowed no test part (said so, since that part chose the
    threshold); a last line says what the features describe.
    """
    valid = figures["validation"]
    test = figures.get("test")
    console.print(
        f"train: {figures['train']['accounts']:,} accounts "
        f"({figures['train']['abusive']:,} abusive); validation: "
        f"{valid['accounts']:,} ({valid['abusive']:,} abusive); test: "
        + (f"{test['accounts']:,} ({test['abusive']:,} abusive)" if test else "none")
    )
    shown, where = (test, "test") if test else (valid, "validation")
    # precision is 0, as scikit-learn gives it, when nothing is flagged
    flagged = shown.get("flagged")
    none_flagged = f" (no {where} account flagged)" if flagged == 0 else ""
    console.print(
        f"{where} AUROC {shown['auroc']:.4f}, AUPRC {shown['auprc']:.4f}; at "
        f"threshold {figures['threshold']:.4f} (rule {figures['threshold_rule']}, "
        f"target precision {figures['target_precision']:g}): precision "
        f"{shown['precision']:.4f}{none_flagged}, recall {shown['recall']:.4f}"
    )
    if not test:
        console.print(
            "these figures are on the validation accounts that chose the "
            "threshold (too few labels for a separate test part: 4 held-out "
            "accounts of each class needed), so they flatter the model"
        )
    console.print(f"measured on {clean(figures['features_measured'])}")


def print_label_rows_left_out(labels: Any) -> None:
    """Print the rows of a label file left out, by reason, with examples.

    ``labels`` is a :class:`~trustwatch.graph.account_training.LabelFile`;
    nothing is printed when every row was read.
    """
    if labels.rejected:
        shown = ", ".join(f"{n} {clean(r)}" for r, n in labels.rejected.items())
        examples = "; ".join(f"row {n}: {clean(r)}" for n, r in labels.samples)
        console.print(f"label rows left out: {shown} (e.g. {examples})")


def print_repeats_skipped(repeats: int) -> None:
    """Say how many repeated events were skipped (nothing when none were)."""
    if repeats:
        console.print(
            f"{repeats:,} repeated events skipped (identical to one read shortly "
            "before: a line or a file given twice), as `trustwatch run` skips them"
        )


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: by real path (links, ``.``,
    ``..``), or, when both exist, by device and inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_writing_over_inputs(
    written: Iterable[Path],
    *,
    events: Sequence[str] = (),
    event_format: str = "auto",
    files: Iterable[tuple[str, Path | None]] = (),
    review_db: str | None = None,
    option: str = "--out",
) -> None:
    """Refuse to write a file a command reads; call it before any work.

    Parameters
    ----------
    written
        The files the command writes: the model, and what is written beside
        it (a partial file renamed over it, a data card).
    events
        Event paths, resolved to files as the readers resolve them (files,
        folders, globs; each by its real path).
    event_format
        The ``--format`` the events are read in.
    files
        Other inputs, as ``(what it is, path)`` (``"the --labels file"``); a
        ``None`` path is skipped.
    review_db
        The review store: a SQLite file (with its ``-wal``, ``-shm`` and
        ``-journal`` files beside it) or a ``postgresql://`` address, which
        names no file.
    option
        The option that names the written file, for the message.

    Raises
    ------
    ConfigError
        When a written file is one of the inputs.
    """
    inputs: list[tuple[str, Path]] = [
        (name, path) for name, path in files if path is not None
    ]
    if events:
        from trustwatch.events import resolve_inputs

        for path, _ in resolve_inputs(list(events), format=event_format):
            if path.is_absolute():  # real paths; standard input is not a file
                inputs.append(("one of the event files", path))
    if review_db is not None and review_db.strip() and "://" not in review_db:
        store = Path(review_db)
        inputs.append(("the --review-db store", store))
        for suffix in ("-wal", "-shm", "-journal"):
            inputs.append(("a file of the --review-db store", Path(f"{store}{suffix}")))
    targets = list(written)
    for what, path in inputs:
        for target in targets:
            if same_file(target, path):
                raise ConfigError(
                    f"{option} {targets[0]} would write over {path}, {what}; hint: "
                    "name a new file for the model"
                )


def account_model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command that trains the account model takes.

    ``--out``, the event-reading options, ``--validation-fraction``,
    ``--target-precision``, ``--seed`` and ``--json``.
    """
    for option in reversed(
        (
            click.option(
                "--out",
                required=True,
                type=click.Path(dir_okay=False, path_type=Path),
                help="The model file to write (`trustwatch run --graph-model` "
                "reads it).",
            ),
            event_reading_options,
            click.option(
                "--validation-fraction",
                type=FiniteFloatRange(0.05, 0.95),
                default=0.3,
                show_default=True,
                help="Share of each class held out to stop training and choose "
                "the threshold; half of it measures the reported figures when "
                "each class has 4 held-out accounts or more.",
            ),
            click.option(
                "--target-precision",
                type=FiniteFloatRange(0.5, 1.0),
                default=0.99,
                show_default=True,
                help="Validation precision the decision threshold aims for.",
            ),
            click.option(
                "--seed",
                type=click.IntRange(min=0),
                default=0,
                show_default=True,
                help="Seed of the split (0 or more).",
            ),
            click.option(
                "--json", "as_json", is_flag=True, help="The figures as JSON."
            ),
        )
    ):
        command = option(command)
    return command


@train.command()
@click.argument("events", nargs=-1, required=True)
@review_db_option
@click.option(
    "--review-schema",
    default="trustwatch",
    show_default=True,
    help="PostgreSQL schema of the review tables.",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help='More account labels: JSON Lines {"account": ..., "label": 0|1} or CSV '
    "account,label (the review store wins on conflict).",
)
@click.option(
    "--as-of",
    type=Timestamp(),
    help="Use only review labels given, and events dated, at or before this "
    "time (UTC if no zone); --labels rows carry no time and are all used.",
)
@account_model_options
def accounts(
    events: tuple[str, ...],
    review_db: str,
    review_schema: str,
    labels_path: Path | None,
    as_of: datetime | None,
    out: Path,
    event_format: str,
    source_tz: str | None,
    validation_fraction: float,
    target_precision: float,
    seed: int,
    as_json: bool,
) -> None:
    """Train the graph_scores account model on EVENTS and reviewed accounts.

    Abuse labels count 1, ``benign`` 0; a ring's label applies to each member
    of its case. Events are read as `trustwatch run` reads them (a repeat of
    one of the last 50,000 read is skipped); with --as-of, events after that
    time are left out too. The model and its figures are those of
    `trustwatch rings train`, with the labels used reported beside them.
    """
    from trustwatch.graph.account_training import read_labels, train_account_scorer
    from trustwatch.review.training import combine_labels, replay_account_labels

    if any(not path.strip() for path in events):
        raise ConfigError("an event path is empty; hint: is a shell variable unset?")
    refuse_writing_over_inputs(
        account_model_files(out),
        events=events,
        event_format=event_format,
        files=[("the --labels file", labels_path)],
        review_db=review_db,
    )
    with open_review(review_db, review_schema) as store:
        replayed = replay_account_labels(
            store.labels(), case_of=store.case, as_of=as_of
        )
    label_file = read_labels(labels_path) if labels_path else None
    file_labels = label_file.labels if label_file else {}
    labels, conflicts = combine_labels(file_labels, replayed.labels)
    if not labels:
        raise ConfigError(
            "no account labels to train on; hint: resolve cases with "
            "`trustwatch cases resolve`, or pass --labels FILE"
        )
    read, dead, repeats = read_events_in_time_order(events, event_format, source_tz)
    # a model "as of" a time sees the events of then, as it sees the labels
    after_as_of = 0
    if as_of is not None:
        kept = [event for event in read if event.ts <= as_of]
        after_as_of, read = len(read) - len(kept), kept
    trained = train_account_scorer(
        read,
        labels,
        validation_fraction=validation_fraction,
        seed=seed,
        target_precision=target_precision,
    )
    path = trained.model.save(out)
    report = _label_report(replayed, len(file_labels), conflicts)
    figures = {
        **trained.figures,
        "model": str(path),
        "labels": {
            **report,
            "as_of": as_of.isoformat() if as_of else None,
            "abusive": sum(labels.values()),
            "benign": len(labels) - sum(labels.values()),
        },
        "labels_rejected": label_file.rejected if label_file else {},
        "unreadable_records": dict(sorted(dead.items())),
        "repeated_events": repeats,
        "events_after_as_of": after_as_of,
    }
    if as_json:
        sys.stdout.write(_encode(figures).decode() + "\n")
        return
    if label_file is not None:
        print_label_rows_left_out(label_file)
    _print_label_report(report, as_of)
    if as_of is not None:
        console.print(f"{after_as_of:,} events after --as-of left out")
    print_repeats_skipped(repeats)
    console.print(
        f"{trained.figures['events']:,} events; {trained.figures['labelled']:,} "
        f"labelled accounts ({figures['labels']['abusive']:,} abusive, "
        f"{trained.figures['labelled_unseen']:,} not in the events)"
    )
    print_account_figures(trained.figures)
    console.print(f"model -> {clean(path)}")


def account_model_files(out: Path) -> list[Path]:
    """The account model file and the partial file written beside it first
    (:meth:`~trustwatch.graphmodel.saved.SavedScorer.save`)."""
    return [out, out.with_name(out.name + ".partial")]


def read_events_in_time_order(
    events: Sequence[str], event_format: str, source_tz: str | None
) -> tuple[list[Any], dict[str, int], int]:
    """Read event files as `trustwatch run` does, then put them in time order.

    Returns
    -------
    tuple
        The events, sorted by time; unreadable records counted by reason; and
        the number of repeats skipped (events identical to one of the last
        50,000 read, which `run` skips too, so that a line repeated or a file
        given twice does not count twice in an account's features).
    """
    from trustwatch.events.deadletter import DeadLetter
    from trustwatch.events.decode import EventDecoder
    from trustwatch.events.readers import read_events
    from trustwatch.events.repeats import RepeatedEvents

    dead: dict[str, int] = {}
    read = []
    repeated = RepeatedEvents()
    for item in read_events(
        events,
        decoder=EventDecoder(source_tz=source_tz),
        format=event_format,
        sshlog_tz=source_tz,
    ):
        if isinstance(item, DeadLetter):
            dead[item.reason] = dead.get(item.reason, 0) + 1
        elif not repeated.is_repeat(item):
            read.append(item)
    read.sort(key=lambda event: event.ts)
    return read, dead, repeated.skipped


@train.command()
@review_db_option
@click.option(
    "--review-schema",
    default="trustwatch",
    show_default=True,
    help="PostgreSQL schema of the review tables.",
)
@click.option(
    "--labelled",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="More labelled URLs: CSV or JSON Lines with url, label and optional time "
    "(the review store wins on conflict).",
)
@click.option(
    "--datasets",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A shared datasets folder whose reference URL sources are added.",
)
@click.option(
    "--as-of",
    type=Timestamp(),
    help="Use only labels given at or before this time (UTC if no zone): "
    "--labelled rows dated later are left out and counted; rows without a "
    "time are kept (their time is unknown) and counted.",
)
@click.option("--out", "out_text", required=True, help="The model file (.npz).")
def urls(
    review_db: str,
    review_schema: str,
    labelled: Sequence[Path],
    datasets: Path | None,
    as_of: datetime | None,
    out_text: str,
) -> None:
    """Train a URL model on the URLs analysts labelled, with `url train`.

    A case resolved as phishing, malware or spam labels the URLs its alerts
    flagged as malicious, one resolved as benign labels them benign (other
    kinds label no URL; a case resolved without its decision store at hand
    kept no alerts to read URLs from). Each becomes a labelled URL, with the
    time its label was given; the rest of the training is `trustwatch url
    train`'s, with its defaults. A URL labelled both ways in the --labelled
    files is refused, as `url train` refuses it; where a file and the review
    store disagree, the review label is kept and the conflicts are counted.
    The data card names each file and the review store as sources.
    """
    from trustwatch.cli.url import (
        model_output_path,
        read_labelled_urls,
        train_url_model,
    )
    from trustwatch.review.training import combine_labels, replay_url_labels
    from trustwatch.urlmodel.corpus import LabelledUrl, load_reference_corpus

    out = model_output_path(out_text, labelled)
    refuse_writing_over_inputs(
        [out, out.with_suffix(".md")],
        files=[("one of the --labelled files", path) for path in labelled],
        review_db=review_db,
    )
    with open_review(review_db, review_schema) as store:
        replayed = replay_url_labels(store.labels(), as_of=as_of)
    read = read_labelled_urls(labelled)
    file_after_as_of = file_without_time = 0
    if as_of is not None:
        # a file row's time is when its label was known, as a review label's
        kept = [row for row in read if row.time is None or row.time <= as_of]
        file_after_as_of, read = len(read) - len(kept), kept
        file_without_time = sum(row.time is None for row in read)
    file_rows = {row.url: row for row in read}
    file_labels = {url: bool(row.label) for url, row in file_rows.items()}
    merged, conflicts = combine_labels(file_labels, replayed.labels)
    if not merged and datasets is None:
        raise ConfigError(
            "no labelled URLs in the review store or --labelled files; hint: "
            "resolve cases whose alerts flag URLs as phishing, malware, spam or "
            "benign (with their decision store at hand), or pass --labelled FILE"
        )
    report = _label_report(
        replayed,
        len(file_labels),
        conflicts,
        file_after_as_of=file_after_as_of,
        file_without_time=file_without_time,
    )
    _print_label_report(report, as_of)
    rows: list[LabelledUrl] = []
    if datasets is not None:
        rows.extend(load_reference_corpus(datasets, open_only=False))
    for url, label in merged.items():
        if url in replayed.labels:
            given = replayed.given_at.get(url)
            rows.append(LabelledUrl(url, int(label), given, _REVIEW_SOURCE))
        else:
            rows.append(file_rows[url])
    command = " ".join(
        [
            "trustwatch train urls --review-db REVIEW_DB",
            *(f"--labelled {path.name}" for path in labelled),
            *(["--datasets DATASETS"] if datasets else []),
            *([f"--as-of {as_of.isoformat()}"] if as_of else []),
        ]
    )
    train_url_model(rows, out, command=command)
