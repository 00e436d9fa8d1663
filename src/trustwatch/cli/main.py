"""The ``trustwatch`` command line.

Deployment settings (the store, the policy, intel format, geolocation files)
also read ``TRUSTWATCH_*`` environment variables, shown in each ``--help``.
Everything printed from the data goes through
:func:`~trustwatch.cli.render.clean`: records can come from an attacker.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.text import Text

from trustwatch import __version__
from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.logs import configure_logging, json_lines, print_json_line
from trustwatch.cli.options import (
    db_option,
    event_reading_options,
    intel_source_options,
    malicious_file_options,
    pipeline_options,
    unsourced_option_hint,
)
from trustwatch.cli.params import FiniteFloatRange
from trustwatch.cli.pipeline_setup import (
    build_detectors,
    build_geo,
    checked_policy,
    load_file_scanning,
    load_intel_sources,
)
from trustwatch.cli.render import clean, error_console, output_console, summary_table
from trustwatch.errors import (
    ConfigError,
    InvalidEventError,
    InvalidIndicatorError,
    InvalidUrlError,
    PolicyError,
    StorageError,
    TrustwatchError,
)
from trustwatch.review.model import CaseConflictError, CaseNotFoundError
from trustwatch.runtime.embedded import RunSummary
from trustwatch.runtime.stream.worker import StreamError
from trustwatch.storage.sqlite import SqliteStore, run_lock

if TYPE_CHECKING:
    pass

__all__ = ["cli", "entry_point", "main"]

console = output_console()
errors = error_console()

_EXIT_FOR = {
    PolicyError: ExitCode.BAD_CONFIG,
    ConfigError: ExitCode.BAD_CONFIG,
    InvalidEventError: ExitCode.BAD_INPUT,
    InvalidIndicatorError: ExitCode.BAD_INPUT,
    InvalidUrlError: ExitCode.BAD_INPUT,
    StorageError: ExitCode.DEPENDENCY_FAILED,
    CaseNotFoundError: ExitCode.BAD_INPUT,
    CaseConflictError: ExitCode.BAD_INPUT,
    StreamError: ExitCode.DEPENDENCY_FAILED,
}


class BadInputExit(TrustwatchError):
    """Every record of a run was unreadable: the exit status says so."""


@click.group()
@click.version_option(__version__, prog_name="trustwatch")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="TRUSTWATCH_LOG_FORMAT",
    show_envvar=True,
    help="Logs as plain lines, or as one JSON object per line.",
)
def cli(verbose: int, log_format: str) -> None:
    """trustwatch: find and stop abuse on a file-sharing platform."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    configure_logging(level, log_format)


@cli.command()
@click.argument("events", nargs=-1, required=True)
@event_reading_options
@pipeline_options
@click.option(
    "--resume",
    is_flag=True,
    help="Continue from the detector state the last --resume run left in the "
    "store (for files that follow each other in time), and leave this run's.",
)
@click.option(
    "--reset-state",
    is_flag=True,
    help="With --resume: start from fresh detector state instead of the "
    "checkpoint in the store (one that is damaged or from another version "
    "cannot be restored); this run's state replaces it.",
)
@intel_source_options
@malicious_file_options
@db_option
@click.option(
    "--review-db",
    envvar="TRUSTWATCH_REVIEW_DB",
    show_envvar=True,
    help="After the run, build review cases from the store's new alerts into "
    "this review store (a file or postgresql://), as `trustwatch cases build`.",
)
@click.option(
    "--review-schema",
    default="trustwatch",
    show_default=True,
    envvar="TRUSTWATCH_REVIEW_SCHEMA",
    show_envvar=True,
    help="PostgreSQL schema of the --review-db tables.",
)
def run(
    events: Sequence[str],
    intel_paths: Sequence[str],
    intel_format: str,
    event_format: str,
    source_tz: str | None,
    policy: Path | None,
    content_dir: Path | None,
    extra_detectors: Sequence[str],
    graph_model: Path | None,
    url_model: Path | None,
    enforce: bool,
    resume: bool,
    reset_state: bool,
    intel_db: Path | None,
    allowlist_paths: Sequence[str],
    maxmind_country: Path | None,
    maxmind_asn: Path | None,
    no_geo: bool,
    db: Path,
    yara_paths: Sequence[str],
    fuzzy_intel_paths: Sequence[str],
    review_db: str | None,
    review_schema: str,
) -> None:
    """Run the pipeline over EVENTS (files, directories or globs; - reads stdin)."""
    from trustwatch.content.store import ContentStore
    from trustwatch.runtime.embedded import run_embedded

    if any(not path.strip() for path in events):
        raise ConfigError("an event path is empty; hint: is a shell variable unset?")
    if "-" in events and sys.stdin.isatty():
        errors.print("reading events from standard input; end them with Ctrl-D")
    # one run at a time per store: two would interleave their writes, and the
    # --resume checkpoint would be whichever finished last
    with run_lock(db):
        if review_db:
            # a review store that cannot take the cases fails now, not after
            # a long batch
            _open_review_for_cases(review_db, review_schema)
        chosen = checked_policy(policy)
        intel = load_intel_sources(intel_paths, intel_format, intel_db, allowlist_paths)
        geo = build_geo(maxmind_country, maxmind_asn, no_geo)
        content = ContentStore(content_dir) if content_dir else None
        scanning = load_file_scanning(content, yara_paths, fuzzy_intel_paths)
        detectors = build_detectors(
            intel,
            content,
            extra_detectors,
            graph_model,
            scanning=scanning,
            url_model=url_model,
        )
        with SqliteStore(db) as store, _progress("events") as advance:
            summary = run_embedded(
                events,
                store,
                intel=intel,
                content=content,
                policy=chosen,
                detectors=detectors,
                mode="enforce" if enforce else "dry_run",
                geo=geo,
                format=event_format,
                source_tz=source_tz,
                resume=resume,
                reset_state=reset_state,
                on_progress=advance,
                dead_letters=scanning.rejected if scanning else (),
            )
    console.print(summary_table(summary, title=f"trustwatch run → {db}"))
    if review_db:
        _build_cases_after_run(db, review_db, review_schema)
    _warn_about(summary, db)


def _first_hint(summary: RunSummary) -> str:
    """The hint of the run's first dead letter (``; hint: ...``), if it has one:
    where nothing could be read, every record likely failed the same way."""
    _, found, hint = summary.first_dead_letter.partition("; hint: ")
    return f"; hint: {clean(hint)}" if found else ""


def _open_review_for_cases(review_db: str, review_schema: str) -> None:
    """Open and close the review store the run will build cases in."""
    from trustwatch.cli.cases import open_review

    with open_review(review_db, review_schema, create=True):
        pass


def _build_cases_after_run(db: Path, review_db: str, review_schema: str) -> None:
    """Put the run's new alerts into cases in the review store."""
    from trustwatch.cli.cases import open_review
    from trustwatch.review.cases import build_cases
    from trustwatch.storage.checkpoints import redact_dsn

    with (
        SqliteStore(db, readonly=True) as store,
        open_review(review_db, review_schema, create=True) as review,
    ):
        built = build_cases(store, review)
    cases = "case" if built.cases_changed == 1 else "cases"
    console.print(
        f"cases: {built.alerts:,} new alerts in {built.cases_changed:,} {cases} "
        f"({built.cases_opened:,} new) → {clean(redact_dsn(review_db))}"
    )


def _warn_about(summary: RunSummary, db: Path) -> None:
    if summary.dead_letters:
        errors.print(
            f"warning: {summary.dead_letters:,} records could not be read; "
            f"see `trustwatch dead-letters --db {clean(db)}`"
        )
    if summary.late_events:
        errors.print(
            f"warning: {summary.late_events:,} events came more than 10 minutes "
            "after newer ones, too late for the shortest windows; hint: give "
            "files in time order, or sort them"
        )
    if summary.out_of_line:
        errors.print(
            f"warning: {summary.out_of_line:,} events were dated more than a day "
            "off the events around them, and no others followed them there, "
            f"the first {clean(summary.first_out_of_line or '')!r}; hint: a "
            "producer's clock is wrong or the field forged; they were decided, "
            "but late events are not told by their time"
        )
    if summary.repeats:
        errors.print(
            f"note: {summary.repeats:,} events repeated one read shortly before "
            "(a line or a file given twice) and were skipped, not decided again"
        )
    if summary.files_asked and summary.files_missing == summary.files_asked:
        errors.print(
            f"warning: none of the {summary.files_asked:,} uploaded files was in "
            "--content-dir, so no upload's content was read; hint: pass the "
            "folder that holds the files named by SHA-256 (flat or ab/cd/ fan-out)"
        )
    for rule_id, unfit in sorted(summary.unfit_targets.items()):
        errors.print(
            f"warning: rule {clean(rule_id)} matched {unfit:,} times on targets "
            "its action cannot act on, and acted on nothing there; hint: set its "
            "target, or name only signal kinds whose entity it acts on"
        )
    for rule_id, failures in sorted(summary.rule_errors.items()):
        errors.print(
            f"warning: rule {clean(rule_id)}'s condition failed {failures:,} "
            "times and did not match there; hint: `trustwatch policy test` "
            "shows it on examples"
        )
    if summary.events == 0 and summary.dead_letters:
        raise BadInputExit("no record could be read" + _first_hint(summary))
    if summary.events == 0 and not summary.repeats:
        errors.print("warning: no events were read; hint: are the files empty?")


@cli.command()
@click.option("--accounts", default=2000, show_default=True, help="Simulated accounts.")
@click.option(
    "--days",
    type=FiniteFloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="Simulated days.",
)
@click.option("--seed", default=7, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("trustwatch-data/demo"),
    show_default=True,
    help="Where the generated events, intel and store go (replaced each run).",
)
def demo(accounts: int, days: float, seed: int, out: Path) -> None:
    """Simulate platform telemetry with attacks mixed in, and catch them."""
    from trustwatch.cli.demo import run_demo

    with _progress("events") as advance:
        run_demo(console, out, accounts=accounts, days=days, seed=seed, on=advance)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of trustwatch events."""
    from trustwatch.events.schema import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@cli.command()
def detectors() -> None:
    """List the registered detectors and the signal kinds they raise."""
    from trustwatch.detectors import available, default_detectors

    defaults = {d.name for d in default_detectors()}
    for name, cls in available().items():
        doc = _plain((cls.__doc__ or "").strip().splitlines()[0])
        when = _WHEN_RUN.get(name, "runs by default" if name in defaults else "")
        console.print(Text.assemble((name, "bold"), f" v{cls.version}: {doc}"))
        console.print(f"  signals: {', '.join(cls.signal_kinds)}")
        console.print(f"  {when or 'opt-in: run --add-detector ' + name}")


#: How detectors outside the default set come to run.
_WHEN_RUN = {
    "intel_match": "runs with run --intel",
    "file_phishing": "runs with run --content-dir",
    "malicious_file": "runs with run --content-dir and --yara or --fuzzy-intel",
    "graph_scores": "runs with run --graph-model",
}


def _plain(text: str) -> str:
    """Drop reStructuredText markup (``code``, :func:`name`) from a docstring line."""
    return re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text).replace("``", "")


class _progress:
    """A progress display with a running count, as a context manager."""

    def __init__(self, label: str, total: int | None = None) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=errors,
            transient=True,
            disable=not errors.is_terminal,
        )
        self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> Callable[..., None]:
        self.progress.start()

        def advance(done: int, total: int | None = None) -> None:
            self.progress.update(self.task, completed=done, total=total)

        return advance

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _register_more() -> None:
    from trustwatch.cli.actions import actions, dispatch
    from trustwatch.cli.backtest import backtest
    from trustwatch.cli.cases import cases
    from trustwatch.cli.db import db
    from trustwatch.cli.evaluate import evaluate
    from trustwatch.cli.file import file_group
    from trustwatch.cli.intel import intel_group
    from trustwatch.cli.policy import policy
    from trustwatch.cli.publish import publish
    from trustwatch.cli.review import alerts, dead_letters, devdata
    from trustwatch.cli.rings import rings
    from trustwatch.cli.serve import serve
    from trustwatch.cli.stream import stream
    from trustwatch.cli.train import train
    from trustwatch.cli.url import url

    cli.add_command(url)
    cli.add_command(file_group)
    cli.add_command(alerts)
    cli.add_command(rings)
    cli.add_command(dead_letters)
    cli.add_command(devdata)
    cli.add_command(evaluate)
    cli.add_command(publish)
    cli.add_command(stream)
    cli.add_command(intel_group)
    cli.add_command(actions)
    cli.add_command(dispatch)
    cli.add_command(serve)
    cli.add_command(policy)
    cli.add_command(backtest)
    cli.add_command(cases)
    cli.add_command(db)
    cli.add_command(train)


_register_more()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        status = cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click's Ctrl-C
            _print_error("interrupted")
            return int(ExitCode.INTERRUPTED)
        _print_error("aborted")
        return int(ExitCode.INTERNAL_ERROR)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        _show_click_error(exc)
        return int(ExitCode.BAD_INPUT)
    except BadInputExit as exc:
        errors.print(Text.assemble(("error: ", "bold red"), clean(exc)))
        return int(ExitCode.BAD_INPUT)
    except TrustwatchError as exc:
        errors.print(Text.assemble(("error: ", "bold red"), _error_text(exc)))
        codes = (code for kind, code in _EXIT_FOR.items() if isinstance(exc, kind))
        return int(next(codes, ExitCode.INTERNAL_ERROR))
    # outside standalone mode, click returns the status a command exited with
    return int(status) if isinstance(status, int) else int(ExitCode.OK)


def _print_error(text: str) -> None:
    """Print an error without an ``error:`` word: its JSON line says the level."""
    if json_lines():
        print_json_line(text, logging.ERROR)
    else:
        errors.print(text)


def _show_click_error(exc: click.ClickException) -> None:
    """Show a refused command line: click's usage text, or one JSON log line.

    A bad value is blamed on where it came from: an environment variable is
    named only when it is set (see :class:`~trustwatch.cli.options.SourcedOption`
    for options that know their source).
    """
    if isinstance(exc, click.BadParameter):
        unsourced_option_hint(exc)
    if not json_lines():
        exc.show()
        return
    message = exc.format_message()
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        more = "see" if "hint:" in message else "hint: see"
        message = message.rstrip(".") + f"; {more} `{exc.ctx.command_path} --help`"
    print_json_line(message, logging.ERROR)


def _error_text(exc: TrustwatchError) -> str:
    """The error's message, escaped; a policy error keeps its line breaks.

    A policy error ends with the expression and a caret under the problem,
    which reads only on lines of their own; each line is still escaped.
    """
    if not isinstance(exc, PolicyError):
        return clean(exc)
    return "\n".join(clean(line) for line in str(exc).split("\n"))


def entry_point() -> None:
    """Console-script entry: exit with :func:`main`'s status."""
    raise SystemExit(main())


if __name__ == "__main__":
    entry_point()
