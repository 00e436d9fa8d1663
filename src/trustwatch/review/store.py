"""Review stores: cases, labels and the audit log in SQLite or PostgreSQL.

One implementation over SQLAlchemy Core serves both databases;
:class:`SqliteReviewStore` is the embedded default (a file beside the
decision store, brought up to date on open) and :class:`PostgresReviewStore`
the shared one for a service, whose schema an operator upgrades on purpose
(``trustwatch db upgrade --review-db postgresql://...``). The tables come from
the Alembic migrations in :mod:`trustwatch.review.migrations`.

Each row keeps the full record as JSON text beside the columns that queries
filter on. Assigning and resolving are single transactions guarded by a
version number: a case that changed after it was read (resolved by someone
else, say) is not overwritten, and the call raises
:class:`~trustwatch.review.model.CaseConflictError`. The audit log has no
update or delete method, and triggers refuse both in the database.

The stores do not write audit entries themselves: the command line and the
API record each analyst action with :meth:`SqlReviewStore.audit`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

from trustwatch.decisions.model import ACTION_SEVERITY, stable_id
from trustwatch.errors import ConfigError, StorageError
from trustwatch.review import migrate
from trustwatch.review.model import (
    LABEL_KINDS,
    AuditEntry,
    Case,
    CaseConflictError,
    CaseHeldError,
    CaseNotFoundError,
    CaseQuery,
    Label,
    LabelKind,
    ReviewStore,
    SubjectType,
)
from trustwatch.review.tables import audit_log as _audit_log
from trustwatch.review.tables import case_accounts as _case_accounts
from trustwatch.review.tables import case_kinds as _case_kinds
from trustwatch.review.tables import case_verdicts as _case_verdicts
from trustwatch.review.tables import cases as _cases
from trustwatch.review.tables import labels as _labels
from trustwatch.review.tables import review_state as _review_state
from trustwatch.review.tables import utc as _utc
from trustwatch.storage.checkpoints import check_not_keyword_dsn, redact_dsn, scrub
from trustwatch.text import name_key

__all__ = [
    "PostgresReviewStore",
    "SqlReviewStore",
    "SqliteReviewStore",
    "open_review_store",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_encode = msgspec.json.Encoder().encode
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_CONNECT_TIMEOUT_S = 10
#: Ids per ``IN (...)`` lookup.
_CHUNK = 500
#: Overwrite a case unless it changed or was resolved since it was read; the
#: parameters are the new columns and ``read_case_id``, ``read_version``.
_UPDATE_CASE = _cases.update().where(
    _cases.c.case_id == sa.bindparam("read_case_id"),
    _cases.c.version == sa.bindparam("read_version"),
    _cases.c.status != "resolved",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _decode_case(body: str | bytes) -> Case:
    return msgspec.json.decode(body, type=Case)


def _union(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    """Return the items of both, in order of first appearance, without repeats."""
    return tuple(dict.fromkeys([*first, *second]))


def _merge(stored: Case, incoming: Case) -> Case:
    """Fold new alerts of ``incoming`` into the open case ``stored``.

    The analyst's side (status, assignee) and the creation time stay; the
    alerts, accounts and kinds are united; priority, score and the strongest
    decision keep the maximum; the title is the incoming one, which the case
    builder writes knowing every alert.
    """
    stronger = ACTION_SEVERITY.get(incoming.decision, 0) > ACTION_SEVERITY.get(
        stored.decision, 0
    )
    return msgspec.structs.replace(
        stored,
        priority=max(stored.priority, incoming.priority),
        score=max(stored.score, incoming.score),
        decision=incoming.decision if stronger else stored.decision,
        title=incoming.title or stored.title,
        first_seen=min(stored.first_seen, incoming.first_seen),
        last_seen=max(stored.last_seen, incoming.last_seen),
        verdict_ids=_union(stored.verdict_ids, incoming.verdict_ids),
        accounts=_union(stored.accounts, incoming.accounts),
        kinds=tuple(sorted(set(stored.kinds) | set(incoming.kinds))),
    )


def _added(old: Case, merged: Case) -> Case:
    """Return ``merged`` holding only the alerts, accounts and kinds ``old`` lacks.

    What :meth:`SqlReviewStore._link` needs to index of a changed case.
    """
    known_verdicts, known_accounts = set(old.verdict_ids), set(old.accounts)
    return msgspec.structs.replace(
        merged,
        verdict_ids=tuple(v for v in merged.verdict_ids if v not in known_verdicts),
        accounts=tuple(a for a in merged.accounts if a not in known_accounts),
        kinds=tuple(k for k in merged.kinds if k not in set(old.kinds)),
    )


def _check_label_kind(kind: str) -> None:
    if kind not in LABEL_KINDS:
        raise ConfigError(
            f"label {kind!r} is not a label kind; hint: use one of "
            f"{', '.join(LABEL_KINDS)}"
        )


class SqlReviewStore:
    """A :class:`~trustwatch.review.model.ReviewStore` on a SQLAlchemy engine.

    Open one with :class:`SqliteReviewStore`, :class:`PostgresReviewStore` or
    :func:`open_review_store`; this class holds what both share.

    Parameters
    ----------
    engine
        The database; the store disposes of it on :meth:`close`.
    target
        The store's location as shown in messages (a DSN without password).
    schema
        The PostgreSQL schema holding the tables, ``None`` on SQLite.
    """

    def __init__(self, engine: Engine, *, target: str, schema: str | None) -> None:
        self._engine = engine
        self.target = target
        self.schema = schema

    # -- life cycle -------------------------------------------------------

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> SqlReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def revision(self) -> str | None:
        """Return the schema revision of the store's tables (``None``: none)."""
        return self._guard("read the schema revision", self._revision)

    def _revision(self) -> str | None:
        return migrate.current_revision(self._engine, self.schema)

    def upgrade(self) -> str:
        """Migrate the tables to the newest revision; return it."""
        return self._guard(
            "upgrade the schema", lambda: migrate.upgrade(self._engine, self.schema)
        )

    def _require_current(self) -> None:
        """Refuse a store whose tables are missing or from another revision."""
        current, head = self.revision(), migrate.head_revision()
        if current == head:
            return
        found = "has no review tables" if current is None else f"is at {current}"
        raise ConfigError(
            f"review store {self.target} {found}, and trustwatch needs revision "
            f"{head}; hint: trustwatch db upgrade --review-db TARGET "
            "(or open it with migrate=True)"
        )

    def _guard(self, step: str, call: Callable[[], _T]) -> _T:
        """Run ``call``; turn a database failure into a :class:`StorageError`."""
        try:
            return call()
        except sa.exc.SQLAlchemyError as exc:
            detail = scrub(str(getattr(exc, "orig", None) or exc), self.target)
            raise StorageError(
                f"cannot {step} in review store {self.target}: "
                f"{type(exc).__name__}: {detail.splitlines()[0] if detail else ''}"
            ) from exc

    def _insert(self, table: sa.Table) -> Any:
        """An ``INSERT`` that skips rows whose key is already stored."""
        dialect = pg_dialect if self._engine.dialect.name == "postgresql" else None
        if dialect is not None:
            return dialect.insert(table).on_conflict_do_nothing()
        return sqlite_dialect.insert(table).on_conflict_do_nothing()

    # -- cases ------------------------------------------------------------

    def upsert_cases(self, cases: Iterable[Case]) -> int:
        """Add new cases and merge new alerts into open ones; return the changed.

        A resolved case is never reopened: new alerts about its subject belong
        in a new case (with a new id, see :mod:`trustwatch.review.cases`).
        """
        return int(self._guard("write cases", lambda: self._upsert_cases(cases)))

    def _upsert_cases(self, cases: Iterable[Case]) -> int:
        incoming: dict[str, Case] = {}
        for case in cases:
            seen = incoming.get(case.case_id)
            incoming[case.case_id] = case if seen is None else _merge(seen, case)
        if not incoming:
            return 0
        changed = 0
        try:
            with self._engine.begin() as db:
                stored = self._read_cases(db, list(incoming))
                new = [c for c in incoming.values() if c.case_id not in stored]
                if new:
                    db.execute(
                        _cases.insert(),
                        [{**self._case_columns(c), "version": 1} for c in new],
                    )
                additions = list(new)
                updates: list[tuple[Case, int]] = []
                for case_id, (old, version) in stored.items():
                    if old.status == "resolved":
                        log.debug("case %s is resolved; alerts left out", case_id)
                        continue
                    merged = _merge(old, incoming[case_id])
                    if merged != old:
                        merged = msgspec.structs.replace(merged, updated_at=_now())
                        updates.append((merged, version))
                        additions.append(_added(old, merged))
                self._write_cases(db, updates)
                changed = len(updates)
                self._link(db, additions)
        except sa.exc.IntegrityError as exc:
            raise CaseConflictError(
                "another build wrote the same cases at the same time; hint: run "
                "`trustwatch cases build` again (it adds only what is missing)"
            ) from exc
        return len(new) + changed

    @staticmethod
    def _read_cases(db: Connection, case_ids: list[str]) -> dict[str, tuple[Case, int]]:
        """Read stored cases with their versions, a chunk of ids at a time."""
        found: dict[str, tuple[Case, int]] = {}
        for start in range(0, len(case_ids), _CHUNK):
            statement = sa.select(
                _cases.c.case_id, _cases.c.body, _cases.c.version
            ).where(_cases.c.case_id.in_(case_ids[start : start + _CHUNK]))
            for row in db.execute(statement):
                found[row.case_id] = (_decode_case(row.body), int(row.version))
        return found

    def _write_cases(self, db: Connection, updates: list[tuple[Case, int]]) -> None:
        """Overwrite cases read at the given versions in one statement.

        Raises :class:`CaseConflictError` (and the transaction is rolled back)
        when any of them changed since it was read.
        """
        if not updates:
            return
        if len(updates) == 1 or not self._engine.dialect.supports_sane_multi_rowcount:
            for case, version in updates:
                self._write_case(db, case, expected_version=version)
            return
        result = db.execute(
            _UPDATE_CASE,
            [self._update_parameters(case, version) for case, version in updates],
        )
        if result.rowcount != len(updates):
            raise CaseConflictError(
                f"{len(updates) - result.rowcount} of {len(updates)} cases changed "
                "while they were being updated; hint: run the build again"
            )

    def _update_parameters(self, case: Case, expected_version: int) -> dict[str, Any]:
        """The parameters of :data:`_UPDATE_CASE` for one case."""
        return {
            **self._case_columns(case),
            "version": expected_version + 1,
            "read_case_id": case.case_id,
            "read_version": expected_version,
        }

    def _write_case(self, db: Connection, case: Case, *, expected_version: int) -> None:
        """Overwrite a case read at ``expected_version``, unless it moved on."""
        result = db.execute(
            _UPDATE_CASE, self._update_parameters(case, expected_version)
        )
        if result.rowcount != 1:
            raise CaseConflictError(
                f"case {case.case_id} changed while it was being updated; "
                "hint: read it again and retry"
            )

    def _link(self, db: Connection, cases: Sequence[Case]) -> None:
        """Index the cases' accounts, alerts and signal kinds.

        A case only gains accounts, alerts and kinds (see :func:`_merge`), so
        adding the new ones (of a changed case, see :func:`_added`) keeps the
        indexes in step.
        """
        kinds = [
            {"case_id": case.case_id, "kind": kind}
            for case in cases
            for kind in case.kinds
        ]
        if kinds:
            db.execute(self._insert(_case_kinds), kinds)
        accounts = [
            {"case_id": case.case_id, "account": account}
            for case in cases
            for account in case.accounts
        ]
        if accounts:
            db.execute(self._insert(_case_accounts), accounts)
        alerts = [
            {"verdict_id": verdict_id, "case_id": case.case_id}
            for case in cases
            for verdict_id in case.verdict_ids
        ]
        if alerts:
            db.execute(self._insert(_case_verdicts), alerts)

    @staticmethod
    def _case_columns(case: Case) -> dict[str, Any]:
        return {
            "case_id": case.case_id,
            "subject_type": case.subject_type,
            "subject": case.subject,
            "status": case.status,
            "priority": case.priority,
            "assignee": case.assignee,
            "last_seen": case.last_seen,
            "updated_at": case.updated_at,
            "body": _encode(case).decode(),
        }

    def case(self, case_id: str) -> Case | None:
        """Return one case by id, or ``None``."""
        body: str | None = self._guard(
            "read a case",
            lambda: self._scalar(
                sa.select(_cases.c.body).where(_cases.c.case_id == case_id)
            ),
        )
        return None if body is None else _decode_case(body)

    def _scalar(self, statement: Any) -> Any:
        with self._engine.connect() as db:
            return db.execute(statement).scalar()

    def cases(self, query: CaseQuery | None = None) -> list[Case]:
        """Cases by priority (highest first), then newest alert first."""
        query = query or CaseQuery()
        statement = sa.select(_cases.c.body)
        if query.status is not None:
            statement = statement.where(_cases.c.status == query.status)
        if query.assignee is not None:
            statement = statement.where(_cases.c.assignee == query.assignee)
        if query.subject_type is not None:
            statement = statement.where(_cases.c.subject_type == query.subject_type)
        if query.subject is not None:
            statement = statement.where(_cases.c.subject == query.subject)
        if query.account is not None:
            statement = statement.where(
                _cases.c.case_id.in_(
                    sa.select(_case_accounts.c.case_id).where(
                        _case_accounts.c.account == query.account
                    )
                )
            )
        if query.kind is not None:
            statement = statement.where(
                _cases.c.case_id.in_(
                    sa.select(_case_kinds.c.case_id).where(
                        _case_kinds.c.kind == query.kind
                    )
                )
            )
        statement = (
            statement.order_by(
                _cases.c.priority.desc(), _cases.c.last_seen.desc(), _cases.c.case_id
            )
            .limit(max(0, query.limit))
            .offset(max(0, query.offset))
        )
        rows = self._guard("list cases", lambda: self._all(statement))
        return [_decode_case(row[0]) for row in rows]

    def _all(self, statement: Any) -> list[Any]:
        with self._engine.connect() as db:
            return list(db.execute(statement).all())

    def cased_verdicts(self, verdict_ids: Iterable[str]) -> dict[str, str]:
        """Return ``{verdict_id: case_id}`` for the given alerts already in a case."""
        wanted = list(dict.fromkeys(verdict_ids))

        def read() -> dict[str, str]:
            found: dict[str, str] = {}
            with self._engine.connect() as db:
                for start in range(0, len(wanted), _CHUNK):
                    statement = sa.select(
                        _case_verdicts.c.verdict_id, _case_verdicts.c.case_id
                    ).where(
                        _case_verdicts.c.verdict_id.in_(wanted[start : start + _CHUNK])
                    )
                    found.update({row[0]: row[1] for row in db.execute(statement)})
            return found

        return self._guard("read case alerts", read)

    def subject_cases(
        self, subjects: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[Case]]:
        """Return every case of each ``(subject_type, subject)``, oldest first."""
        wanted = list(dict.fromkeys(subjects))
        by_type: dict[str, list[str]] = {}
        for subject_type, subject in wanted:
            by_type.setdefault(subject_type, []).append(subject)

        def read() -> dict[tuple[str, str], list[Case]]:
            found: dict[tuple[str, str], list[Case]] = {key: [] for key in wanted}
            with self._engine.connect() as db:
                for subject_type, names in by_type.items():
                    for start in range(0, len(names), _CHUNK):
                        statement = sa.select(_cases.c.subject, _cases.c.body).where(
                            _cases.c.subject_type == subject_type,
                            _cases.c.subject.in_(names[start : start + _CHUNK]),
                        )
                        for row in db.execute(statement):
                            key = (subject_type, row.subject)
                            found[key].append(_decode_case(row.body))
            for listed in found.values():
                listed.sort(key=lambda case: (case.created_at, case.case_id))
            return found

        return self._guard("read cases by subject", read)

    # -- analyst actions --------------------------------------------------

    def _read_for_change(self, db: Connection, case_id: str) -> tuple[Case, int]:
        row = db.execute(
            sa.select(_cases.c.body, _cases.c.version).where(
                _cases.c.case_id == case_id
            )
        ).first()
        if row is None:
            raise CaseNotFoundError(
                f"no case {case_id!r} in review store {self.target}; "
                "hint: trustwatch cases list"
            )
        return _decode_case(row.body), int(row.version)

    def assign(
        self, case_id: str, assignee: str | None, *, by: str, take_over: bool = False
    ) -> Case:
        """Give a case to an analyst (``None`` hands it back to the queue).

        ``by`` names who asked; the caller's audit entry records it (see
        :func:`trustwatch.review.audit.record_action`). A case another analyst
        holds changes hands only with ``take_over``; its holder may give it
        on or hand it back.

        Raises
        ------
        CaseNotFoundError
            When no case has that id.
        CaseHeldError
            When another analyst holds the case and ``take_over`` is not set.
        CaseConflictError
            When the case is resolved, or changed since it was read.
        """
        return self._guard(
            "assign a case",
            lambda: self._assign(case_id, assignee, by, take_over),
        )

    def _assign(
        self, case_id: str, assignee: str | None, by: str, take_over: bool
    ) -> Case:
        with self._engine.begin() as db:
            case, version = self._read_for_change(db, case_id)
            if case.status == "resolved":
                raise CaseConflictError(
                    f"case {case_id} was resolved by {case.resolved_by} and cannot "
                    "be assigned; hint: new alerts about its subject open a new case"
                )
            if case.assignee != assignee and not take_over:
                _check_holder(case, by, "assign")
            updated = msgspec.structs.replace(
                case,
                assignee=assignee,
                status="assigned" if assignee else "open",
                updated_at=_now(),
            )
            self._write_case(db, updated, expected_version=version)
        log.info("case %s %s", case_id, updated.status)
        return updated

    def resolve(
        self,
        case_id: str,
        *,
        label: LabelKind,
        analyst: str,
        action: str | None = None,
        note: str = "",
        features: dict[str, Any] | None = None,
        at: datetime | None = None,
        take_over: bool = False,
    ) -> tuple[Case, Label]:
        """Close a case with a label; the label is stored for training.

        The case and its label are written in one transaction. The label's
        ``observed_at`` is the case's newest alert, ``labelled_at`` is ``at``
        (now by default). A case another analyst holds is resolved only with
        ``take_over``.

        Raises
        ------
        ConfigError
            When ``label`` is not one of the label kinds.
        CaseNotFoundError
            When no case has that id.
        CaseHeldError
            When another analyst holds the case and ``take_over`` is not set.
        CaseConflictError
            When the case is already resolved, or changed since it was read.
        """
        _check_label_kind(label)
        when = _utc(at) if at is not None else _now()
        return self._guard(
            "resolve a case",
            lambda: self._resolve(
                case_id, label, analyst, action, note, features or {}, when, take_over
            ),
        )

    def _resolve(
        self,
        case_id: str,
        kind: LabelKind,
        analyst: str,
        action: str | None,
        note: str,
        features: dict[str, Any],
        when: datetime,
        take_over: bool,
    ) -> tuple[Case, Label]:
        with self._engine.begin() as db:
            case, version = self._read_for_change(db, case_id)
            if case.status == "resolved":
                raise CaseConflictError(
                    f"case {case_id} is already resolved ({case.label}, by "
                    f"{case.resolved_by} at {case.resolved_at}); hint: correct "
                    "its label with `trustwatch cases correct` (POST "
                    "/api/v1/cases/{id}/correction)"
                )
            if not take_over:
                _check_holder(case, analyst, "resolve")
            # one who takes a held case over to resolve it holds it now
            holder = case.assignee
            if holder and name_key(holder) != name_key(analyst):
                holder = analyst
            resolved = msgspec.structs.replace(
                case,
                assignee=holder,
                status="resolved",
                label=kind,
                resolution_action=action,
                resolved_by=analyst,
                resolved_at=when,
                note=note,
                updated_at=when,
            )
            label = Label(
                label_id=stable_id("label", case_id),
                subject_type=case.subject_type,
                subject=case.subject,
                kind=kind,
                analyst=analyst,
                labelled_at=when,
                observed_at=case.last_seen,
                case_id=case_id,
                verdict_ids=case.verdict_ids,
                features=features,
                note=note,
            )
            self._write_case(db, resolved, expected_version=version)
            db.execute(_labels.insert().values(**self._label_columns(label)))
        log.info("case %s resolved as %s", case_id, kind)
        return resolved, label

    def correct(
        self,
        case_id: str,
        *,
        label: LabelKind,
        analyst: str,
        note: str = "",
        at: datetime | None = None,
    ) -> tuple[Case, Label]:
        """Correct a resolved case's label; the earlier label stays on record.

        The correction is a new label on the same subject, given later, with
        the first label's features and time observed: training replays labels
        in the order they were given, so it follows the correction from then
        on. The case shows the corrected label. Both are written in one
        transaction.

        Raises
        ------
        ConfigError
            When ``label`` is not one of the label kinds.
        CaseNotFoundError
            When no case has that id.
        CaseConflictError
            When the case is not resolved, already has that label, or changed
            since it was read.
        """
        _check_label_kind(label)
        when = _utc(at) if at is not None else _now()
        return self._guard(
            "correct a label",
            lambda: self._correct(case_id, label, analyst, note, when),
        )

    def _correct(
        self,
        case_id: str,
        kind: LabelKind,
        analyst: str,
        note: str,
        when: datetime,
    ) -> tuple[Case, Label]:
        with self._engine.begin() as db:
            case, version = self._read_for_change(db, case_id)
            if case.status != "resolved":
                raise CaseConflictError(
                    f"case {case_id} is {case.status}, not resolved; hint: "
                    "resolve it with its label"
                )
            if case.label == kind:
                raise CaseConflictError(f"case {case_id} is already labelled {kind}")
            first = db.execute(
                sa.select(_labels.c.body).where(
                    _labels.c.label_id == stable_id("label", case_id)
                )
            ).first()
            earlier = (
                None if first is None else msgspec.json.decode(first[0], type=Label)
            )
            # the case shows the correction's reasoning beside its label
            corrected = msgspec.structs.replace(
                case, label=kind, note=note or case.note, updated_at=when
            )
            label = Label(
                label_id=stable_id("label", case_id, "correction", when.isoformat()),
                subject_type=case.subject_type,
                subject=case.subject,
                kind=kind,
                analyst=analyst,
                labelled_at=when,
                observed_at=case.last_seen if earlier is None else earlier.observed_at,
                case_id=case_id,
                verdict_ids=case.verdict_ids,
                features={} if earlier is None else earlier.features,
                note=note,
            )
            # a resolved case, so not through _write_case (open cases only)
            written = db.execute(
                _cases.update()
                .where(_cases.c.case_id == case_id, _cases.c.version == version)
                .values(**self._case_columns(corrected), version=version + 1)
            )
            if written.rowcount != 1:
                raise CaseConflictError(
                    f"case {case_id} changed while its label was being "
                    "corrected; hint: read it again and retry"
                )
            db.execute(_labels.insert().values(**self._label_columns(label)))
        log.info("case %s label corrected to %s", case_id, kind)
        return corrected, label

    def reopen(self, resolved: Case) -> Case:
        """Take back a resolution that could not be completed.

        ``resolved`` is the case as :meth:`resolve` returned it. When the
        stored case is still exactly that resolution, it goes back to the
        queue (``assigned`` if it has an assignee, else ``open``) and its
        label is deleted, in one transaction; the analyst can then resolve it
        again. Used when the action a resolution takes cannot be recorded.

        Raises
        ------
        CaseNotFoundError
            When no case has that id.
        CaseConflictError
            When the case is no longer that resolution.
        """

        def reopen() -> Case:
            with self._engine.begin() as db:
                case, version = self._read_for_change(db, resolved.case_id)
                if case != resolved:
                    raise CaseConflictError(
                        f"case {resolved.case_id} changed since it was resolved; "
                        "hint: trustwatch cases show it"
                    )
                back = msgspec.structs.replace(
                    case,
                    status="assigned" if case.assignee else "open",
                    label=None,
                    resolution_action=None,
                    resolved_by=None,
                    resolved_at=None,
                    note="",
                    updated_at=_now(),
                )
                reopened = db.execute(
                    _cases.update()
                    .where(
                        _cases.c.case_id == back.case_id,
                        _cases.c.version == version,
                    )
                    .values(**self._case_columns(back), version=version + 1)
                )
                if reopened.rowcount != 1:
                    raise CaseConflictError(
                        f"case {back.case_id} changed while it was being "
                        "reopened; hint: trustwatch cases show it"
                    )
                db.execute(
                    _labels.delete().where(
                        _labels.c.label_id == stable_id("label", case.case_id)
                    )
                )
            log.info("case %s reopened: its resolution was not completed", case.case_id)
            return back

        return self._guard("reopen a case", reopen)

    # -- labels -----------------------------------------------------------

    @staticmethod
    def _label_columns(label: Label) -> dict[str, Any]:
        return {
            "label_id": label.label_id,
            "subject_type": label.subject_type,
            "subject": label.subject,
            "kind": label.kind,
            "case_id": label.case_id,
            "labelled_at": label.labelled_at,
            "body": _encode(label).decode(),
        }

    def add_label(self, label: Label) -> bool:
        """Store a label given outside a case; False when already stored."""
        _check_label_kind(label.kind)
        _utc(label.labelled_at)

        def write() -> bool:
            with self._engine.begin() as db:
                stored = db.execute(
                    self._insert(_labels)
                    .values(**self._label_columns(label))
                    .returning(_labels.c.label_id)
                ).first()
                return stored is not None

        return bool(self._guard("write a label", write))

    def labels(
        self,
        *,
        subject_type: SubjectType | None = None,
        since: datetime | None = None,
    ) -> list[Label]:
        """Labels in the order they were given (``labelled_at``)."""
        statement = sa.select(_labels.c.body)
        if subject_type is not None:
            statement = statement.where(_labels.c.subject_type == subject_type)
        if since is not None:
            statement = statement.where(_labels.c.labelled_at >= _utc(since))
        statement = statement.order_by(_labels.c.labelled_at, _labels.c.seq)
        rows = self._guard("read labels", lambda: self._all(statement))
        return [msgspec.json.decode(row[0], type=Label) for row in rows]

    # -- audit log --------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        """Append to the audit log (never updated or deleted)."""
        values = {
            "entry_id": entry.entry_id,
            "at": _utc(entry.at),
            "actor": entry.actor,
            "action": entry.action,
            "target_type": entry.target_type,
            "target": entry.target,
            "body": _encode(entry).decode(),
        }

        def write() -> None:
            with self._engine.begin() as db:
                db.execute(self._insert(_audit_log).values(**values))

        self._guard("append to the audit log", write)

    def audit_log(
        self, *, actor: str | None = None, limit: int = 100
    ) -> Sequence[AuditEntry]:
        """Newest entries first."""
        statement = sa.select(_audit_log.c.body)
        if actor is not None:
            statement = statement.where(_audit_log.c.actor == actor)
        statement = statement.order_by(_audit_log.c.seq.desc()).limit(max(0, limit))
        rows = self._guard("read the audit log", lambda: self._all(statement))
        return [msgspec.json.decode(row[0], type=AuditEntry) for row in rows]

    # -- build state ------------------------------------------------------

    def state(self, name: str) -> str | None:
        """Return a saved piece of build state (a cursor), or ``None``."""
        value: str | None = self._guard(
            "read build state",
            lambda: self._scalar(
                sa.select(_review_state.c.value).where(_review_state.c.name == name)
            ),
        )
        return value

    def set_state(self, name: str, value: str) -> None:
        """Save a piece of build state, replacing the previous value.

        One upsert, so that two builders saving at once never collide: a
        delete then an insert lets a second writer's insert break the key
        under PostgreSQL's read-committed isolation.
        """
        dialect = pg_dialect if self._engine.dialect.name == "postgresql" else None
        insert = (dialect or sqlite_dialect).insert(_review_state)
        statement = insert.values(name=name, value=value).on_conflict_do_update(
            index_elements=[_review_state.c.name],
            set_={"value": insert.excluded.value},
        )

        def write() -> None:
            with self._engine.begin() as db:
                db.execute(statement)

        self._guard("save build state", write)


class SqliteReviewStore(SqlReviewStore):
    """The embedded review store: one SQLite file, migrated when opened.

    Parameters
    ----------
    path
        The database file; created (with its tables) when missing. Its folder
        must exist.
    migrate
        Bring the tables up to date on open (the default). Off, the file is
        opened as it is, to read its revision.

    Raises
    ------
    ConfigError
        When the folder does not exist.
    StorageError
        When the file is not a database or cannot be written.
    """

    def __init__(self, path: str | Path, *, migrate: bool = True) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ConfigError(
                f"cannot create review store {self.path}: its folder does not "
                "exist; hint: create the folder or give another --review-db"
            )
        engine = sa.create_engine(
            sa.engine.URL.create("sqlite", database=str(self.path)),
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        super().__init__(engine, target=str(self.path), schema=None)
        if not migrate:
            return
        try:
            self.upgrade()
        except (StorageError, ConfigError):
            self.close()
            raise

    def upgrade(self) -> str:
        """Migrate the file, unless it is a decision store's (refused)."""
        if self.path.is_file():
            _refuse_decision_store(self.path)
        return super().upgrade()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Use write-ahead logging so readers do not wait for a writer."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class PostgresReviewStore(SqlReviewStore):
    """The shared review store: tables in one PostgreSQL schema.

    Parameters
    ----------
    dsn
        A libpq connection string (``postgresql://user@host:5432/db`` or
        ``host=... dbname=...``); without ``connect_timeout`` the store waits
        10 seconds for the server.
    schema
        The schema holding the tables (lower-case letters, digits and ``_``).
    migrate
        Upgrade the tables on open. Off by default: a service's schema is
        upgraded on purpose, with ``trustwatch db upgrade``.
    check
        Refuse tables that are missing or from another revision (the
        default). Off, the store opens as it is, to read or upgrade it.

    Raises
    ------
    ConfigError
        When psycopg is missing, the schema name is invalid, or the tables
        are missing or from another revision (and ``migrate`` is off).
    StorageError
        When the server cannot be reached.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "trustwatch",
        migrate: bool = False,
        check: bool = True,
    ) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise ConfigError(
                "a PostgreSQL review store needs psycopg, which is not installed; "
                'hint: pip install "trustwatch[postgres]"'
            ) from exc
        if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
            raise ConfigError(
                f"schema name {schema!r} is not usable; hint: use lower-case "
                "letters, digits and _, starting with a letter or _ (at most 63)"
            )
        target = redact_dsn(dsn)
        try:
            params = psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            raise ConfigError(
                f"{target!r} is not a PostgreSQL connection string "
                f"({scrub(str(exc), dsn)}); hint: write "
                "postgresql://user:password@host:port/database"
            ) from None
        timeout = None if "connect_timeout" in params else _CONNECT_TIMEOUT_S

        def connect() -> Any:
            if timeout is None:
                return psycopg.connect(dsn)
            return psycopg.connect(dsn, connect_timeout=timeout)

        engine = sa.create_engine(
            "postgresql+psycopg://",
            creator=connect,
            pool_pre_ping=True,
            execution_options={"schema_translate_map": {None: schema}},
        )
        super().__init__(engine, target=target, schema=schema)
        try:
            if migrate:
                self.upgrade()
            if check:
                self._require_current()
        except (ConfigError, StorageError):
            self.close()
            raise


def open_review_store(
    target: str | Path,
    *,
    schema: str = "trustwatch",
    migrate: bool = False,
    existing: bool = False,
) -> SqlReviewStore:
    """Open the review store at a file path or a ``postgresql://`` address.

    A SQLite file is created and migrated on open; a PostgreSQL store must
    have been upgraded (``trustwatch db upgrade``) unless ``migrate`` is set.

    With ``existing`` (what commands that only read use), nothing is created
    or migrated: a SQLite file must exist and already hold review tables at
    the current revision, and any other file is refused untouched. With
    ``existing`` and ``migrate`` (commands that work existing cases), the
    file must exist and hold review tables, and an older one is migrated.

    Raises
    ------
    ConfigError
        When the target is neither a file nor a PostgreSQL address, or, with
        ``existing``, when it is missing, not a review store, or out of date.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = tempfile.mkdtemp()
    >>> with open_review_store(pathlib.Path(folder) / "review.db") as store:
    ...     store.cases()
    []
    """
    text = str(target)
    if text.startswith(_POSTGRES_SCHEMES):
        return PostgresReviewStore(text, schema=schema, migrate=migrate)
    if "://" in text:
        raise ConfigError(
            f"review store {redact_dsn(text)!r} is neither a file path nor a "
            "postgresql:// address; hint: give a path such as review.db"
        )
    check_not_keyword_dsn(text)
    if existing:
        _require_sqlite_review_file(Path(target))
        if migrate:
            return SqliteReviewStore(Path(target))
        opened = SqliteReviewStore(Path(target), migrate=False)
        try:
            opened._require_current()
        except ConfigError:
            opened.close()
            raise
        return opened
    return SqliteReviewStore(Path(target))


def _table_names(path: Path) -> set[str]:
    """The tables of a SQLite file, read over a read-only connection.

    Read with a connection of its own: the store's engine would switch the
    file to write-ahead logging, a change to someone else's file.

    Raises
    ------
    sqlite3.Error
        When the file is not a SQLite database.
    """
    import contextlib
    import sqlite3

    with contextlib.closing(
        sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    ) as db:
        return {
            row[0]
            for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }


def _refuse_decision_store(path: Path) -> None:
    """Refuse to add review tables to a decision store's file.

    Raises
    ------
    ConfigError
        When the file holds a decision store's verdicts and no review tables.
    """
    import sqlite3

    try:
        names = _table_names(path)
    except sqlite3.Error:
        return  # not a database: opening it says so
    if "verdicts" in names and migrate.VERSION_TABLE not in names:
        raise ConfigError(
            f"{path} is a decision store (`trustwatch run --db`), not a review "
            "store, and it is left as it is; hint: give the review store a "
            "file of its own, such as review.sqlite"
        )


def _require_sqlite_review_file(path: Path) -> None:
    """Refuse a missing file, or one without review tables, without writing."""
    import sqlite3

    if not path.is_file():
        raise ConfigError(
            f"no review store at {path}; hint: run `trustwatch cases build "
            "--review-db FILE` first, or pass the --review-db that `trustwatch "
            "cases` and `trustwatch serve` use"
        )
    try:
        names = _table_names(path)
    except sqlite3.Error as exc:
        raise ConfigError(
            f"{path} is not a SQLite database ({exc}); hint: pass the "
            "--review-db that `trustwatch cases build` wrote"
        ) from None
    if migrate.VERSION_TABLE not in names:
        what = "an empty database" if not names else "another kind of store"
        raise ConfigError(
            f"{path} is not a review store ({what}: no {migrate.VERSION_TABLE} "
            "table), and it is left as it is; hint: pass the --review-db that "
            "`trustwatch cases build` wrote"
        )


def _conforms(store: SqlReviewStore) -> ReviewStore:
    """Let the type checker confirm the stores implement the protocol."""
    return store


def _check_holder(case: Case, who: str, doing: str) -> None:
    """Refuse to let ``who`` change a case another analyst holds.

    Names are compared as :func:`~trustwatch.text.name_key` folds them, as
    sign-in does: a case given to ``"ANALYST"`` or to ``"analyst"`` with a
    zero-width space is held by ``analyst``, not by a name no one signs in as.
    """
    holder = case.assignee
    if case.status == "assigned" and holder and name_key(holder) != name_key(who):
        raise CaseHeldError(
            f"case {case.case_id} is assigned to {holder}, not {who}; hint: ask "
            f"{holder} to hand it back, or take it over on purpose (`trustwatch "
            f"cases {doing} --take-over`; in the API and console, an admin)",
            holder,
        )
