"""``trustwatch file scan``: the links and forms inside files, scored.

Each file is read from disk (up to the content size limit), its URLs and forms
extracted and judged exactly as the ``file_phishing`` detector judges an
upload. Nothing is fetched or resolved, and nothing in the file is run.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
import msgspec

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.content.store import extract_blob, read_bounded
from trustwatch.detectors.file_phishing import (
    FileAssessment,
    FormFinding,
    LinkFinding,
    UrlScorer,
    assess_file,
    file_findings,
    heuristic_url_scorer,
)
from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidUrlError, StorageError

if TYPE_CHECKING:
    from trustwatch.content.yara_rules import RuleLoad

__all__ = ["FileScan", "RuleSetLoad", "file_group", "scan_file"]

console = output_console()
errors = error_console()

_REASONS_SHOWN = 3


class ScannedUrl(msgspec.Struct, frozen=True, kw_only=True):
    """A web URL found in a file, with its score."""

    url: str
    registrable_domain: str
    where: str
    place: str
    text: str | None
    score: float
    reasons: tuple[str, ...]


class ScannedForm(msgspec.Struct, frozen=True, kw_only=True):
    """A form found in a file, and where it sends what is typed into it."""

    action: str | None
    method: str
    has_password: bool
    posts_to_other_domain: bool | None
    destination: str
    registrable_domain: str | None
    score: float | None


class ScannedFinding(msgspec.Struct, frozen=True, kw_only=True):
    """What the ``file_phishing`` detector would raise for the file."""

    kind: str
    score: float
    reasons: tuple[str, ...]


class FileScan(msgspec.Struct, frozen=True, kw_only=True):
    """Everything ``trustwatch file scan`` says about one file.

    ``urls`` are the distinct web URLs off the platform, scored, in document
    order; ``other_urls`` the rest as written (other schemes, relative links,
    the platform's own). ``errors`` are what could not be extracted;
    ``error`` says the file itself could not be read.
    """

    path: str
    sha256: str | None = None
    size: int | None = None
    kind: str | None = None
    urls: tuple[ScannedUrl, ...] = ()
    other_urls: tuple[str, ...] = ()
    forms: tuple[ScannedForm, ...] = ()
    flags: tuple[str, ...] = ()
    truncated: bool = False
    errors: tuple[str, ...] = ()
    findings: tuple[ScannedFinding, ...] = ()
    error: str | None = None


def scan_file(path: str | Path, scorer: UrlScorer = heuristic_url_scorer) -> FileScan:
    """Read, extract and judge one file; a file that cannot be read says why."""
    try:
        blob = read_bounded(path)
    except StorageError as exc:
        return FileScan(path=_text(path), error=_text(exc))
    extraction = extract_blob(blob, name=Path(path).name)
    assessment = assess_file(extraction, scorer)
    digest = hashlib.sha256(blob.data).hexdigest() if blob.complete else None
    return FileScan(
        path=_text(path),
        sha256=digest,
        size=blob.size,
        kind=extraction.kind,
        urls=tuple(_scanned_url(link) for link in assessment.links),
        other_urls=_other_urls(assessment),
        forms=tuple(_scanned_form(form) for form in assessment.forms),
        flags=extraction.flags,
        truncated=extraction.truncated,
        errors=extraction.errors,
        findings=tuple(
            ScannedFinding(kind=f.kind, score=round(f.score, 4), reasons=f.reasons)
            for f in file_findings(assessment)
        ),
    )


@click.group("file")
def file_group() -> None:
    """Work with uploaded files: find the links and forms they carry, load rules."""


@file_group.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
def scan(paths: Sequence[Path], as_json: bool) -> None:
    """Show the kind, URLs (scored, with reasons), forms and errors of PATHS.

    A folder is scanned file by file through its subfolders (a folder's
    files in name order, then its subfolders); links inside it are skipped,
    a file met twice is scanned once, and a folder that cannot be listed is
    an error, as is a file that cannot be read.
    Forms are judged as on an uploaded page served from the platform: a
    password form posting anywhere else posts to another domain. Nothing is
    fetched, resolved or run.
    """
    from trustwatch.detectors.url_reputation import file_link_scorer

    scorer = file_link_scorer()  # the same scorer the pipeline's default set uses
    encode = msgspec.json.Encoder().encode
    unread: list[str] = []
    for path, unlisted in _files_in(paths):
        result = (
            scan_file(path, scorer)
            if unlisted is None
            else FileScan(path=_text(path), error=unlisted)
        )
        if as_json:
            sys.stdout.write(encode(result).decode() + "\n")
        else:
            _show(result)
        if result.error:
            unread.append(result.error)
    for error in unread:
        errors.print(f"error: {clean(error)}")
    if unread:
        raise click.exceptions.Exit(int(ExitCode.BAD_INPUT))


def _files_in(paths: Sequence[Path]) -> Iterator[tuple[Path, str | None]]:
    """Each PATH that is not a folder, and the files under each folder.

    Each comes with ``None``, or with the reason a folder could not be
    listed (the folder itself is then the path). Inside a folder, symbolic
    links are skipped (a link may lead out of the folder, or back into it),
    and so is anything that is not a regular file. A PATH named on the
    command line is passed on as it is, so that one that cannot be read is
    reported with its reason. A file met twice (a folder named twice, or a
    file named inside a folder also named) is scanned once.
    """
    seen: set[tuple[int, int]] = set()

    def first_time(path: Path, *, follow: bool) -> bool:
        try:
            info = path.stat() if follow else path.lstat()
        except OSError:
            return True  # scan_file says why it cannot be read
        key = (info.st_dev, info.st_ino)
        if key in seen:
            return False
        seen.add(key)
        return True

    for path in paths:
        if not path.is_dir():
            if first_time(path, follow=True):
                yield path, None
            continue
        # a stack, not recursion: a tree of any depth is walked
        stack = [path]
        met = skipped = 0
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda entry: entry.name)
            except OSError as exc:
                met += 1
                yield folder, _text(f"cannot list {folder}: {exc.strerror}")
                continue
            subfolders = []
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        subfolders.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        met += 1
                        found = Path(entry.path)
                        if first_time(found, follow=False):
                            yield found, None
                    else:
                        skipped += 1
                except OSError:
                    continue  # gone since the listing
            stack.extend(reversed(subfolders))
        if not met:
            errors.print(
                f"warning: {clean(_text(path))} holds no file to scan (links "
                "inside a folder are skipped)"
            )
        elif skipped:
            errors.print(
                f"warning: {clean(_text(path))}: skipped {skipped:,} links, pipes "
                "or other entries that are not regular files; hint: name a "
                "linked file on its own to scan it"
            )


def _text(value: object) -> str:
    """``str(value)`` with bytes no encoding can print written as escapes.

    File names need not be UTF-8; Python reads such bytes into lone
    surrogates, which neither the JSON output nor a terminal can carry.
    """
    text = str(value)
    try:
        return text.encode("utf-8", "surrogateescape").decode(
            "utf-8", "backslashreplace"
        )
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class RuleReject(msgspec.Struct, frozen=True, kw_only=True):
    """A rule, or part of a rule file, that did not load."""

    file: str
    line: int
    rule: str | None
    reason: str
    message: str


class DuplicateRuleName(msgspec.Struct, frozen=True, kw_only=True):
    """A rule name defined in more than one file (each loads in its own namespace)."""

    name: str
    files: tuple[str, ...]


class SlowRuleWarning(msgspec.Struct, frozen=True, kw_only=True):
    """A rule that loaded with a string YARA warns may slow scanning down."""

    file: str
    rule: str
    warning: str


class RuleSetLoad(msgspec.Struct, frozen=True, kw_only=True):
    """Everything ``trustwatch file rules --json`` says about one PATH."""

    path: str
    compiled: int
    rejected: int
    files: int
    index_files_skipped: int
    hash_literals_lowercased: int
    seconds: float
    reasons: dict[str, int]
    duplicate_names: tuple[DuplicateRuleName, ...]
    rejects: tuple[RuleReject, ...]
    slow: int = 0
    slow_rules: tuple[SlowRuleWarning, ...] = ()


#: The exit status of ``file rules --strict`` when a rule was rejected.
REJECTS_EXIT_STATUS = 1


@file_group.command("rules")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--top", default=10, show_default=True, help="Reject reasons to show per PATH."
)
@click.option("--rejects", "show_rejects", is_flag=True, help="List every reject.")
@click.option(
    "--strict", is_flag=True, help="Exit with status 1 when any rule was rejected."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="JSON Lines output: one object per PATH with counts, reasons, "
    "duplicate rule names, every reject (file, line, reason) and the rules "
    "YARA warns are slow.",
)
def rules(
    paths: Sequence[str], top: int, show_rejects: bool, strict: bool, as_json: bool
) -> None:
    """Load YARA rules from each of PATHS (files, folders, globs) and count them.

    Each rule compiles or is rejected on its own; shows how many loaded, how
    many were rejected and the most common reasons, names the rules YARA
    warns hold a string that may slow scanning down (they load, and scan
    after the other files' rules), and names rules defined in more than one
    file (each file loads in its own namespace, so both load). Exits 0 even
    when rules were rejected, unless --strict is given.
    """
    from trustwatch.content.yara_rules import load_rules

    any_rejected = False
    encode = msgspec.json.Encoder().encode
    for path in paths:
        summary = _rule_set_load(path, load_rules([path]))
        any_rejected = any_rejected or summary.rejected > 0
        if as_json:
            sys.stdout.write(encode(summary).decode() + "\n")
        else:
            _show_rule_set(summary, top, show_rejects)
    if strict and any_rejected:
        raise click.exceptions.Exit(REJECTS_EXIT_STATUS)


def _rule_set_load(path: str, load: RuleLoad) -> RuleSetLoad:
    """Summarise one load for the text and JSON outputs."""
    files_of: dict[str, set[str]] = {}
    for rule in load.accepted:
        files_of.setdefault(rule.name, set()).add(rule.source)
    duplicates = tuple(
        DuplicateRuleName(name=name, files=tuple(sorted(files)))
        for name, files in sorted(files_of.items())
        if len(files) > 1
    )
    return RuleSetLoad(
        path=path,
        compiled=len(load.accepted),
        rejected=len(load.rejected),
        files=len(load.sources),
        index_files_skipped=load.index_files,
        hash_literals_lowercased=load.lint_fixes,
        seconds=round(load.load_seconds, 3),
        reasons=dict(load.reason_counts().most_common()),
        duplicate_names=duplicates,
        rejects=tuple(
            RuleReject(
                file=reject.source,
                line=reject.line,
                rule=reject.name,
                reason=reject.reason,
                message=reject.message,
            )
            for reject in load.rejected
        ),
        slow=len(load.slow_rules),
        slow_rules=tuple(
            SlowRuleWarning(file=slow.source, rule=slow.name, warning=slow.warning)
            for slow in load.slow_rules
        ),
    )


def _show_rule_set(summary: RuleSetLoad, top: int, show_rejects: bool) -> None:
    console.print(
        f"{clean(summary.path)}: {summary.compiled:,} rules compiled, "
        f"{summary.rejected:,} rejected, from {summary.files:,} files "
        f"({summary.index_files_skipped:,} index files skipped, "
        f"{summary.hash_literals_lowercased:,} hash literals lowercased) "
        f"in {summary.seconds:.1f} s"
    )
    for reason, count in list(summary.reasons.items())[:top]:
        console.print(f"  {count:>6,}  {clean(reason)}")
    if summary.slow:
        names = "rule holds a string" if summary.slow == 1 else "rules hold strings"
        console.print(
            f"  {summary.slow:,} {names} YARA warns may slow scanning down; they "
            "load, and scan after the other files' rules:"
        )
        for slow in summary.slow_rules[:top]:
            console.print(
                f"    {clean(slow.rule)} ({clean(slow.file)}): {clean(slow.warning)}"
            )
    if summary.duplicate_names:
        count = len(summary.duplicate_names)
        names = "rule name is" if count == 1 else "rule names are"
        console.print(
            f"  {count:,} {names} defined in more than one file; each file "
            "loads in its own namespace, so all load:"
        )
        for duplicate in summary.duplicate_names[:top]:
            console.print(
                f"    {clean(duplicate.name)} ({len(duplicate.files)} files: "
                f"{', '.join(clean(f) for f in duplicate.files)})"
            )
    if show_rejects:
        for reject in summary.rejects:
            console.print(
                f"  {clean(reject.file)}:{reject.line}: {clean(reject.message)}"
            )


def _scanned_url(link: LinkFinding) -> ScannedUrl:
    return ScannedUrl(
        url=link.url,
        registrable_domain=link.domain,
        where=link.where,
        place=link.place,
        text=link.text,
        score=round(link.score, 4),
        reasons=link.reasons,
    )


def _scanned_form(form: FormFinding) -> ScannedForm:
    return ScannedForm(
        action=form.action,
        method=form.method,
        has_password=form.has_password,
        posts_to_other_domain=form.posts_to_other_domain,
        destination=form.destination,
        registrable_domain=form.domain,
        score=None if form.score is None else round(form.score, 4),
    )


def _other_urls(assessment: FileAssessment) -> tuple[str, ...]:
    """The extracted URLs that were not scored, once each, as written."""
    scored = {link.url for link in assessment.links}
    found: dict[str, None] = {}
    for item in assessment.extraction.urls:
        if not _is_scored(item.url, scored):
            found.setdefault(item.url, None)
    return tuple(found)


def _is_scored(url: str, scored: set[str]) -> bool:
    """Whether ``url`` is one of the scored links written another way."""
    try:
        return parse_url(url).url in scored
    except InvalidUrlError:
        return False


def _show(result: FileScan) -> None:
    if result.error:
        console.print(f"{clean(result.path)}: not read")
        return
    console.print(f"{clean(result.path)}: {result.kind}, {result.size:,} bytes")
    for link in result.urls:
        console.print(f"  url {link.score:.2f} {clean(link.url)} ({link.place})")
        for reason in link.reasons[:_REASONS_SHOWN]:
            console.print(f"    - {clean(reason)}")
    for other in result.other_urls:
        console.print(f"  other url {clean(other)}")
    for form in result.forms:
        console.print(f"  form {_form_line(form)}")
    if result.flags:
        console.print(f"  flags: {', '.join(clean(f) for f in result.flags)}")
    if result.truncated:
        console.print("  truncated: a size, count or work limit cut the reading short")
    for error in result.errors:
        console.print(f"  error: {clean(error)}")
    for finding in result.findings:
        console.print(f"  finding {clean(finding.kind)} {finding.score:.2f}")
        for reason in finding.reasons:
            console.print(f"    - {clean(reason)}")


def _form_line(form: ScannedForm) -> str:
    password = "yes" if form.has_password else "no"
    other = {True: "yes", False: "no", None: "unknown"}[form.posts_to_other_domain]
    action = clean(form.action) if form.action else "(none: posts to the file itself)"
    domain = f" ({clean(form.registrable_domain)})" if form.registrable_domain else ""
    return (
        f"{form.method.upper()} {action}: password {password}, "
        f"posts to another domain {other}{domain}"
    )
