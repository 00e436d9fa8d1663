"""The embedded decision store: one SQLite file, no service to run.

Verdicts, actions and dead letters are written in batches with ``INSERT OR
IGNORE`` on their derived ids, so replaying the same input adds nothing. Each
row keeps the full record as JSON beside the columns that queries filter on.

Concurrency: :func:`run_lock` takes an exclusive lock on ``<store>.lock`` for
one ``trustwatch run``, so two runs never interleave their writes or overwrite
each other's ``--resume`` checkpoint; the second one fails at once naming the
store. The lock is the kernel's (``flock``): it ends with the process that
holds it, so a killed run leaves no stale lock behind.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from trustwatch.decisions.model import Action, Verdict
from trustwatch.errors import ConfigError, StorageError
from trustwatch.events.deadletter import DeadLetter
from trustwatch.graph.rings import RingSnapshot
from trustwatch.locks import exclusive_lock
from trustwatch.storage.checkpoints import (
    PartitionCheckpoint,
    check_checkpoint_key,
    check_offsets,
)

__all__ = ["SqliteStore", "VerdictQuery", "run_lock", "utc_text"]

log = logging.getLogger(__name__)

#: The table that marks a review store (``review.migrate.VERSION_TABLE``;
#: the review layer sits above this one, so the name is repeated here).
_REVIEW_VERSION_TABLE = "review_schema_version"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    verdict_id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    ts TEXT NOT NULL,
    account TEXT,
    ip TEXT,
    decision TEXT NOT NULL,
    score REAL NOT NULL,
    kinds TEXT NOT NULL,
    policy TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_ts ON verdicts (ts);
CREATE INDEX IF NOT EXISTS verdicts_account ON verdicts (account);
CREATE INDEX IF NOT EXISTS verdicts_decision ON verdicts (decision);
CREATE TABLE IF NOT EXISTS actions (
    action_id TEXT PRIMARY KEY,
    verdict_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target TEXT NOT NULL,
    mode TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_verdict ON actions (verdict_id);
CREATE TABLE IF NOT EXISTS dead_letters (
    dead_letter_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    location TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    raw TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rings (
    ring_id TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    risk REAL NOT NULL,
    size INTEGER NOT NULL,
    updated TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ring_members (
    ring_id TEXT NOT NULL,
    account TEXT NOT NULL,
    PRIMARY KEY (ring_id, account)
);
CREATE INDEX IF NOT EXISTS ring_members_account ON ring_members (account);
CREATE TABLE IF NOT EXISTS stream_checkpoints (
    group_id TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offsets TEXT NOT NULL,
    state BLOB NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (group_id, partition)
);
"""

_encode = msgspec.json.Encoder().encode


def _blob(value: object) -> bytes:
    """Return a stored blob as bytes; anything else is a damaged value."""
    if not isinstance(value, bytes):
        raise TypeError(f"the state is {type(value).__name__}, not bytes")
    return value


def utc_text(moment: datetime) -> str:
    """Return a fixed-width UTC timestamp that sorts as text in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@contextlib.contextmanager
def run_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` while one run writes the store.

    The lock is the store file's, however its path is written (a link to it,
    ``./`` or ``..`` take the same one). The lock file is left in place
    afterwards; it holds nothing, and a lock on
    it ends with its process, so a run that was killed blocks no later one.
    ``":memory:"`` is private to its process and takes no lock.

    Raises
    ------
    StorageError
        At once, when another run holds the lock, or when the lock file
        cannot be created.
    """
    if str(path) == ":memory:":
        yield
        return
    held = (
        f"another `trustwatch run` is writing to store {path}; hint: wait for it "
        "to finish, or give this run a --db of its own (runs that --resume from "
        "one store must follow one another)"
    )
    with exclusive_lock(path, held, "store"):
        yield


@dataclass(frozen=True, slots=True)
class VerdictQuery:
    """Filters for :meth:`SqliteStore.verdicts`; ``None`` means any.

    Verdicts are listed newest first, and those of one time by verdict id,
    highest first: a total order. ``since`` and ``until`` filter by time
    only (``since <= ts < until``); to page, pass the last verdict id a page
    listed as ``after``, which lists the verdicts that follow it in that
    order. Paging with ``until`` instead would skip the verdicts that share
    the last one's time (whole-second log times, one event decided under
    two policies).

    ``kind`` matches one signal kind exactly; kinds hold no spaces, so a
    kind with one matches nothing.
    """

    decision: str | None = None
    min_decision: bool = False
    account: str | None = None
    ip: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: str | None = None
    limit: int = 50


class SqliteStore:
    """Verdicts, actions and dead letters in one SQLite file.

    Parameters
    ----------
    path
        The database file (created with its folder when missing), or
        ``":memory:"``.
    readonly
        Open an existing store for reading only: nothing is created or
        changed, and a file that is not a trustwatch store is refused.
    timeout
        Seconds to wait for another writer's lock before giving up.
    """

    #: Marks a reader of :meth:`alerts_since` reads again below its last one:
    #: none, as rows appear in mark order.
    alert_mark_overlap = 0

    def __init__(
        self, path: str | Path, *, readonly: bool = False, timeout: float = 30.0
    ) -> None:
        self.path = str(path)
        try:
            if readonly:
                self._db = self._open_readonly(timeout)
                self._check_schema()
                return
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout)
            self._refuse_review_store()
            self._db.executescript(_SCHEMA)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(
                f"cannot open store {self.path}: {exc}; hint: check the path "
                "and that no other program holds it"
            ) from exc

    def _refuse_review_store(self) -> None:
        """Refuse to add decision tables to a review store's or intel
        database's file."""
        tables = {
            name
            for (name,) in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        if "verdicts" in tables:
            return
        if _REVIEW_VERSION_TABLE in tables:
            kind = "a review store (`--review-db`)"
        elif {"feeds", "indicators"} <= tables:
            kind = "an intel database (`--intel-db`)"
        else:
            return
        self._db.close()
        raise ConfigError(
            f"{self.path} is {kind}, not a decision store, and it is left as it "
            "is; hint: give the decision store a file of its own, such as "
            "trustwatch-data/store.sqlite"
        )

    def _open_readonly(self, timeout: float) -> sqlite3.Connection:
        """Open for reading; on read-only media, where SQLite cannot create the
        write-ahead log's shared-memory file, open the file as immutable."""
        uri = Path(self.path).resolve().as_uri()
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout)
        try:
            db.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.OperationalError:
            db.close()
            if not Path(self.path).is_file():
                raise
            log.info("store %s opened as immutable (read-only media)", self.path)
            db = sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=timeout)
        return db

    def _check_schema(self) -> None:
        found = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        missing = {"verdicts", "actions", "dead_letters", "meta"} - found
        if missing:
            self._db.close()
            raise StorageError(
                f"{self.path} is not a trustwatch store (no {sorted(missing)[0]} "
                "table); hint: pass the --db that `trustwatch run` wrote"
            )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _insert(self, sql: str, rows: list[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        before = self._db.total_changes
        try:
            with self._db:
                self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write to store {self.path}: {exc}") from exc
        return self._db.total_changes - before

    def write_verdicts(self, verdicts: Iterable[Verdict]) -> int:
        """Store verdicts not stored yet; return how many were new."""
        rows = [
            (
                v.verdict_id,
                v.event_id,
                v.event_type,
                utc_text(v.ts),
                v.account,
                v.ip,
                v.decision,
                v.score,
                " ".join(sorted({s.kind for s in v.signals})),
                v.policy,
                _encode(v),
            )
            for v in verdicts
        ]
        return self._insert(
            "INSERT OR IGNORE INTO verdicts VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
        )

    def write_actions(self, actions: Iterable[Action]) -> int:
        """Store actions not stored yet; return how many were new."""
        rows = [
            (
                a.action_id,
                a.verdict_id,
                a.event_id,
                a.type,
                a.target_type,
                a.target,
                a.mode,
                utc_text(a.created_at),
                utc_text(a.expires_at) if a.expires_at else None,
                _encode(a),
            )
            for a in actions
        ]
        return self._insert(
            "INSERT OR IGNORE INTO actions VALUES (?,?,?,?,?,?,?,?,?,?)", rows
        )

    def write_dead_letters(self, letters: Iterable[DeadLetter]) -> int:
        """Store dead letters not stored yet; return how many were new."""
        rows = [
            (d.dead_letter_id, d.source, d.location, d.reason, d.message, d.raw)
            for d in letters
        ]
        return self._insert(
            "INSERT OR IGNORE INTO dead_letters VALUES (?,?,?,?,?,?)", rows
        )

    def verdicts(self, query: VerdictQuery | None = None) -> list[Verdict]:
        """Return stored verdicts matching ``query``, newest first.

        Those of one time come by verdict id, highest first, so that
        ``query.after`` pages through them without loss or repeats.

        Raises
        ------
        ConfigError
            When ``query.after`` is no stored verdict's id.
        """
        query = query or VerdictQuery()
        if query.kind is not None and " " in query.kind:
            return []  # the kinds column joins kinds with spaces: none holds one
        where, args = ["1=1"], []
        for column, value in (
            ("decision", query.decision),
            ("account", query.account),
            ("ip", query.ip),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if query.kind is not None:
            where.append("instr(' ' || kinds || ' ', ?) > 0")
            args.append(f" {query.kind} ")
        if query.since is not None:
            where.append("ts >= ?")
            args.append(utc_text(query.since))
        if query.until is not None:
            where.append("ts < ?")
            args.append(utc_text(query.until))
        if query.after is not None:
            where.append("(ts < ? OR (ts = ? AND verdict_id < ?))")
            ts = self._verdict_time(query.after)
            args += [ts, ts, query.after]
        if query.min_decision:
            where.append("decision != 'allow'")
        sql = (
            f"SELECT body FROM verdicts WHERE {' AND '.join(where)} "
            "ORDER BY ts DESC, verdict_id DESC LIMIT ?"
        )
        rows = self._db.execute(sql, [*args, query.limit]).fetchall()
        return [msgspec.json.decode(row[0], type=Verdict) for row in rows]

    def _verdict_time(self, verdict_id: str) -> str:
        """Return the stored time of ``verdict_id``, as the ``ts`` column holds it."""
        row = self._db.execute(
            "SELECT ts FROM verdicts WHERE verdict_id = ?", (verdict_id,)
        ).fetchone()
        if row is None:
            raise ConfigError(
                f"no verdict {verdict_id!r} to list on from; hint: page on with "
                "the id of the last verdict a page listed"
            )
        return str(row[0])

    def iter_verdicts(self) -> Iterator[Verdict]:
        """Yield every stored verdict in event-time order."""
        for (body,) in self._db.execute(
            "SELECT body FROM verdicts ORDER BY ts, verdict_id"
        ):
            yield msgspec.json.decode(body, type=Verdict)

    def alerts_since(
        self, mark: int | None, *, min_score: float | None = None, limit: int = 5000
    ) -> list[tuple[int, Verdict]]:
        """Return the alerts stored after ``mark``, in the order they were stored.

        An alert is a verdict whose decision is not ``allow``, or, when
        ``min_score`` is given, one whose score reaches it. Each comes with
        its mark (the row id, which grows with every insert: SQLite lets one
        writer commit at a time, so a row never appears behind a later one).
        Pass the last mark returned to read on from there.

        Parameters
        ----------
        mark
            Read alerts stored after this mark; ``None`` reads from the start.
        min_score
            Also return ``allow`` verdicts scoring at least this.
        limit
            The most alerts returned; read the next page from the last mark.

        Raises
        ------
        StorageError
            When the store cannot be read.
        """
        where = "rowid > ? AND (decision != 'allow'"
        args: list[Any] = [0 if mark is None else mark]
        if min_score is not None:
            where += " OR score >= ?"
            args.append(min_score)
        try:
            rows = self._db.execute(
                f"SELECT rowid, body FROM verdicts WHERE {where}) "
                "ORDER BY rowid LIMIT ?",
                [*args, max(0, limit)],
            ).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read alerts from {self.path}: {exc}") from exc
        return [
            (int(rowid), msgspec.json.decode(body, type=Verdict))
            for rowid, body in rows
        ]

    def verdict(self, verdict_or_event_id: str) -> Verdict | None:
        """Return one verdict by its id or its event's id.

        A verdict id is found through the primary key; only an id that is no
        verdict's is looked up among the event ids (a scan: they carry no
        index, which would slow every write).
        """
        row = self._db.execute(
            "SELECT body FROM verdicts WHERE verdict_id = ?", (verdict_or_event_id,)
        ).fetchone()
        if row is None:
            row = self._db.execute(
                "SELECT body FROM verdicts WHERE event_id = ? LIMIT 1",
                (verdict_or_event_id,),
            ).fetchone()
        return msgspec.json.decode(row[0], type=Verdict) if row else None

    def verdict_ids_of_event(self, event_id: str, limit: int = 10) -> list[str]:
        """Return the ids of up to ``limit`` verdicts on ``event_id``, oldest
        decided event first (one event id decided under several policies, or
        sent again with other content, has several)."""
        rows = self._db.execute(
            "SELECT verdict_id FROM verdicts WHERE event_id = ? "
            "ORDER BY ts, verdict_id LIMIT ?",
            (event_id, limit),
        ).fetchall()
        return [row[0] for row in rows]

    def actions_for(self, verdict_id: str) -> list[Action]:
        """Return the actions a verdict started."""
        rows = self._db.execute(
            "SELECT body FROM actions WHERE verdict_id = ? ORDER BY action_id",
            (verdict_id,),
        ).fetchall()
        return [msgspec.json.decode(row[0], type=Action) for row in rows]

    def iter_actions(self) -> Iterator[Action]:
        """Yield every stored action in creation order."""
        for (body,) in self._db.execute(
            "SELECT body FROM actions ORDER BY created_at, action_id"
        ):
            yield msgspec.json.decode(body, type=Action)

    def dead_letter_reasons(self) -> dict[str, int]:
        """Return how many dead letters the store holds for each reason."""
        rows = self._db.execute(
            "SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason ORDER BY reason"
        ).fetchall()
        return {reason: count for reason, count in rows}

    def dead_letters(
        self, limit: int = 50, reason: str | None = None
    ) -> list[DeadLetter]:
        """Return stored dead letters in the order they were read."""
        where, args = ("WHERE reason = ?", [reason]) if reason else ("", [])
        rows = self._db.execute(
            "SELECT dead_letter_id, source, location, reason, message, raw "
            f"FROM dead_letters {where} ORDER BY rowid LIMIT ?",
            [*args, limit],
        ).fetchall()
        return [
            DeadLetter(
                dead_letter_id=r[0],
                source=r[1],
                location=r[2],
                reason=r[3],
                message=r[4],
                raw=r[5],
            )
            for r in rows
        ]

    def save_state(self, key: str, state: Any) -> None:
        """Keep a checkpoint (plain values) under ``key``, replacing the last.

        Raises
        ------
        StorageError
            When the store refuses the write.
        """
        text = _encode(state).decode()
        try:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (key, text),
                )
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot save checkpoint {key!r} to store {self.path}: {exc}"
            ) from exc

    def load_state(self, key: str) -> Any | None:
        """Return the checkpoint kept under ``key``, or ``None``.

        Raises
        ------
        ConfigError
            When the checkpoint is not valid JSON (damaged): the caller
            decides how to start without it.
        StorageError
            When the store cannot be read.
        """
        try:
            found = self._db.execute(
                "SELECT value FROM meta WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot read checkpoint {key!r} from store {self.path}: {exc}"
            ) from exc
        if found is None:
            return None
        try:
            return msgspec.json.decode(found[0])
        except (msgspec.DecodeError, TypeError) as exc:
            # TypeError: a value that is neither text nor bytes
            raise ConfigError(
                f"checkpoint {key!r} is damaged: not valid JSON ({exc})"
            ) from exc

    def save_checkpoint(
        self, group: str, partition: int, offsets: Mapping[str, int], state: bytes
    ) -> None:
        """Replace the checkpoint of (``group``, ``partition``) in one transaction.

        Offsets and state are written in one statement, so a reader sees the
        old pair or the new pair, never a mix.

        Raises
        ------
        ConfigError
            When the group, partition or offsets cannot make a checkpoint.
        StorageError
            When the store refuses the write.
        """
        check_checkpoint_key(group, partition)
        text = _encode(check_offsets(group, partition, offsets)).decode()
        try:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO stream_checkpoints "
                    "(group_id, partition, offsets, state, saved_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (group, partition, text, bytes(state), utc_text(datetime.now(UTC))),
                )
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot save the checkpoint of group {group!r} partition "
                f"{partition} to store {self.path}: {exc}"
            ) from exc

    def load_checkpoint(self, group: str, partition: int) -> PartitionCheckpoint | None:
        """Return the checkpoint of (``group``, ``partition``), or ``None``.

        A store written before checkpoints were kept has none.

        Raises
        ------
        ConfigError
            When the stored checkpoint is damaged: the caller decides how to
            start without it.
        StorageError
            When the store cannot be read.
        """
        check_checkpoint_key(group, partition)
        try:
            row = self._db.execute(
                "SELECT offsets, state, saved_at FROM stream_checkpoints "
                "WHERE group_id = ? AND partition = ?",
                (group, partition),
            ).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise self._checkpoint_read_error(group, partition, exc) from exc
        except sqlite3.Error as exc:
            raise self._checkpoint_read_error(group, partition, exc) from exc
        if row is None:
            return None
        offsets, state, saved_at = row
        try:
            return PartitionCheckpoint(
                group=group,
                partition=partition,
                offsets=msgspec.json.decode(offsets, type=dict[str, int]),
                state=_blob(state),
                saved_at=datetime.strptime(saved_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=UTC
                ),
            )
        except (msgspec.DecodeError, TypeError, ValueError) as exc:
            # DecodeError also covers offsets that are JSON of the wrong shape
            raise ConfigError(
                f"the checkpoint of group {group!r} partition {partition} in "
                f"{self.path} is damaged ({exc}); hint: delete the group's "
                "checkpoints to start the partition from the consumer's reset "
                "position"
            ) from exc

    def _checkpoint_read_error(
        self, group: str, partition: int, exc: sqlite3.Error
    ) -> StorageError:
        return StorageError(
            f"cannot read the checkpoint of group {group!r} partition {partition} "
            f"from store {self.path}: {exc}"
        )

    def delete_checkpoints(self, group: str) -> int:
        """Delete every checkpoint of ``group``; return how many there were.

        Raises
        ------
        StorageError
            When the store refuses the delete.
        """
        try:
            with self._db:
                deleted = self._db.execute(
                    "DELETE FROM stream_checkpoints WHERE group_id = ?", (group,)
                ).rowcount
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot delete the checkpoints of group {group!r} from store "
                f"{self.path}: {exc}"
            ) from exc
        return int(deleted)

    def write_rings(self, snapshots: Iterable[RingSnapshot]) -> int:
        """Keep the latest snapshot of each ring, replacing an older one.

        A snapshot older than the stored one (by ``updated``) is ignored, so
        replaying an earlier file cannot roll a ring back. Return how many
        rings were written.

        Raises
        ------
        StorageError
            When the store refuses the write.
        """
        written = 0
        try:
            with self._db:
                for snapshot in snapshots:
                    updated = utc_text(datetime.fromtimestamp(snapshot.updated, UTC))
                    stored = self._db.execute(
                        "SELECT updated FROM rings WHERE ring_id = ?",
                        (snapshot.ring_id,),
                    ).fetchone()
                    if stored is not None and stored[0] > updated:
                        continue
                    self._db.execute(
                        "INSERT OR REPLACE INTO rings "
                        "(ring_id, method, risk, size, updated, body) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            snapshot.ring_id,
                            snapshot.method,
                            snapshot.risk,
                            snapshot.size,
                            updated,
                            _encode(snapshot.to_json()),
                        ),
                    )
                    self._db.execute(
                        "DELETE FROM ring_members WHERE ring_id = ?",
                        (snapshot.ring_id,),
                    )
                    self._db.executemany(
                        "INSERT OR IGNORE INTO ring_members (ring_id, account) "
                        "VALUES (?, ?)",
                        [(snapshot.ring_id, m) for m in snapshot.members],
                    )
                    written += 1
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot write rings to store {self.path}: {exc}"
            ) from exc
        return written

    def rings(
        self,
        *,
        min_risk: float = 0.0,
        method: str | None = None,
        account: str | None = None,
        limit: int = 50,
    ) -> list[RingSnapshot]:
        """Return stored rings, riskiest first (then largest, then by id).

        ``account`` keeps the rings that list it as a member. A store written
        before rings were kept has none.
        """
        sql = "SELECT ring_id, body FROM rings WHERE risk >= ?"
        params: list[Any] = [min_risk]
        if method is not None:
            sql += " AND method = ?"
            params.append(method)
        if account is not None:
            sql += (
                " AND ring_id IN (SELECT ring_id FROM ring_members WHERE account = ?)"
            )
            params.append(account)
        sql += " ORDER BY risk DESC, size DESC, ring_id LIMIT ?"
        params.append(limit)
        return [
            self._snapshot(ring_id, body) for ring_id, body in self._rows(sql, params)
        ]

    def ring(self, ring_id: str) -> RingSnapshot | None:
        """Return the stored snapshot of ``ring_id``, or ``None``."""
        rows = self._rows("SELECT body FROM rings WHERE ring_id = ?", [ring_id])
        if not rows:
            return None
        return self._snapshot(ring_id, rows[0][0])

    def _snapshot(self, ring_id: str, body: Any) -> RingSnapshot:
        """Decode a stored ring; a damaged row is a :class:`StorageError`."""
        try:
            return RingSnapshot.from_json(msgspec.json.decode(body))
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
            raise StorageError(
                f"the stored ring {ring_id!r} in {self.path} is damaged "
                f"({type(exc).__name__}); hint: a later run that finds the ring "
                "again replaces it"
            ) from exc

    def _rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """Run a read over the ring tables; a store without them has no rows."""
        try:
            return list(self._db.execute(sql, params))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise StorageError(f"cannot read rings from {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read rings from {self.path}: {exc}") from exc

    def counts(self) -> dict[str, int]:
        """Return row counts: verdicts, actions, dead letters, and per decision."""
        counts = {
            table: int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in ("verdicts", "actions", "dead_letters")
        }
        for decision, n in self._db.execute(
            "SELECT decision, COUNT(*) FROM verdicts GROUP BY decision"
        ):
            counts[f"decision:{decision}"] = int(n)
        return counts
