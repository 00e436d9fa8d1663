"""Stream checkpoints in SQLite, opening stores by target, and hiding passwords."""

import sqlite3
from datetime import UTC, datetime

import pytest

from trustwatch.errors import ConfigError, StorageError
from trustwatch.storage import sqlite as sqlite_module
from trustwatch.storage.checkpoints import (
    PartitionCheckpoint,
    open_store,
    redact_dsn,
    sqlite_path,
)
from trustwatch.storage.sqlite import SqliteStore


def test_a_checkpoint_round_trips_with_its_offsets_and_state(tmp_path):
    before = datetime.now(UTC)
    with SqliteStore(tmp_path / "s.sqlite") as store:
        assert store.load_checkpoint("g", 0) is None
        store.save_checkpoint("g", 0, {"logins": 17, "uploads": 0}, b"\x00state\xff")
    with SqliteStore(tmp_path / "s.sqlite") as store:
        found = store.load_checkpoint("g", 0)
    assert isinstance(found, PartitionCheckpoint)
    assert (found.group, found.partition) == ("g", 0)
    assert found.offsets == {"logins": 17, "uploads": 0}
    assert found.state == b"\x00state\xff"
    assert found.saved_at.tzinfo is UTC
    assert before <= found.saved_at <= datetime.now(UTC)


def test_saving_again_replaces_offsets_and_state_together(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as store:
        store.save_checkpoint("g", 3, {"logins": 5, "uploads": 9}, b"old")
        store.save_checkpoint("g", 3, {"logins": 8}, b"new")
        found = store.load_checkpoint("g", 3)
        rows = store._db.execute("SELECT COUNT(*) FROM stream_checkpoints").fetchone()
    assert found is not None
    assert (found.offsets, found.state) == ({"logins": 8}, b"new")
    assert rows == (1,)


def test_groups_and_partitions_are_kept_apart(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as store:
        for group in ("a", "b"):
            for partition in (0, 1):
                store.save_checkpoint(
                    group, partition, {"t": partition}, f"{group}{partition}".encode()
                )
        found = {
            (g, p): store.load_checkpoint(g, p) for g in ("a", "b") for p in (0, 1)
        }
        assert store.load_checkpoint("a", 2) is None
        assert store.load_checkpoint("c", 0) is None
    assert {key: (c.offsets, c.state) for key, c in found.items() if c} == {
        ("a", 0): ({"t": 0}, b"a0"),
        ("a", 1): ({"t": 1}, b"a1"),
        ("b", 0): ({"t": 0}, b"b0"),
        ("b", 1): ({"t": 1}, b"b1"),
    }


def test_deleting_a_group_leaves_the_others(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as store:
        store.save_checkpoint("a", 0, {"t": 1}, b"")
        store.save_checkpoint("a", 1, {"t": 2}, b"")
        store.save_checkpoint("b", 0, {"t": 3}, b"kept")
        assert store.delete_checkpoints("a") == 2
        assert store.delete_checkpoints("a") == 0
        assert store.load_checkpoint("a", 0) is None
        kept = store.load_checkpoint("b", 0)
    assert kept is not None and kept.state == b"kept"


def test_two_connections_to_one_file_see_each_others_checkpoints(tmp_path):
    path = tmp_path / "shared.sqlite"
    with SqliteStore(path) as first, SqliteStore(path) as second:
        first.save_checkpoint("g", 0, {"t": 10}, b"first-0")
        second.save_checkpoint("g", 1, {"t": 20}, b"second-1")
        seen_by_second = second.load_checkpoint("g", 0)
        seen_by_first = first.load_checkpoint("g", 1)
        second.save_checkpoint("g", 0, {"t": 11}, b"second-0")
        replaced = first.load_checkpoint("g", 0)
    assert seen_by_second is not None and seen_by_second.state == b"first-0"
    assert seen_by_first is not None and seen_by_first.offsets == {"t": 20}
    assert replaced is not None
    assert (replaced.offsets, replaced.state) == ({"t": 11}, b"second-0")


def test_a_store_written_before_checkpoints_gains_the_table(tmp_path):
    path = tmp_path / "old.sqlite"
    old_schema = sqlite_module._SCHEMA.split("CREATE TABLE IF NOT EXISTS stream_")[0]
    with sqlite3.connect(path) as conn:
        conn.executescript(old_schema)
    conn.close()
    with SqliteStore(path, readonly=True) as store:
        assert store.load_checkpoint("g", 0) is None
    with SqliteStore(path) as store:
        store.save_checkpoint("g", 0, {"t": 1}, b"x")
        found = store.load_checkpoint("g", 0)
    assert found is not None and found.state == b"x"


@pytest.mark.parametrize(
    "offsets", ["{not json", "[1, 2]", '{"t": "7"}', '{"t": 1.5}', "", "null"]
)
def test_damaged_offsets_are_a_config_error_naming_group_and_partition(
    tmp_path, offsets
):
    path = tmp_path / "s.sqlite"
    with SqliteStore(path) as store:
        store.save_checkpoint("workers", 4, {"t": 1}, b"x")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE stream_checkpoints SET offsets = ?", (offsets,))
    conn.close()
    damaged = pytest.raises(
        ConfigError, match=r"checkpoint of group 'workers' partition 4 .* is damaged"
    )
    with SqliteStore(path) as store, damaged:
        store.load_checkpoint("workers", 4)


def test_a_state_that_is_not_a_blob_is_damaged(tmp_path):
    path = tmp_path / "s.sqlite"
    with SqliteStore(path) as store:
        store.save_checkpoint("g", 0, {"t": 1}, b"x")
        store._db.execute("UPDATE stream_checkpoints SET state = 'text'")
        store._db.commit()
        with pytest.raises(ConfigError, match=r"group 'g' partition 0 .* damaged"):
            store.load_checkpoint("g", 0)


@pytest.mark.parametrize(
    ("group", "partition", "offsets", "complaint"),
    [
        ("", 0, {"t": 1}, "consumer group ''"),
        ("g", -1, {"t": 1}, "partition -1"),
        ("g", True, {"t": 1}, "partition True"),
        ("g", 0, {"t": -1}, "offset -1 of topic 't'"),
        ("g", 0, {"t": 1.0}, "offset 1.0 of topic 't'"),
        ("g", 0, {"": 1}, "topic '' is not a topic name"),
    ],
)
def test_a_checkpoint_that_cannot_be_named_or_read_back_is_refused(
    tmp_path, group, partition, offsets, complaint
):
    with SqliteStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(ConfigError, match=f"{complaint}.*; hint: "):
            store.save_checkpoint(group, partition, offsets, b"")
        assert store._db.execute("SELECT * FROM stream_checkpoints").fetchall() == []


def test_a_store_that_refuses_checkpoints_is_a_storage_error(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as store:
        store._db.execute("DROP TABLE stream_checkpoints")
        store._db.execute("CREATE TABLE stream_checkpoints (x)")
        with pytest.raises(StorageError, match="cannot save the checkpoint of group"):
            store.save_checkpoint("g", 0, {}, b"")
        with pytest.raises(StorageError, match="cannot read the checkpoint of group"):
            store.load_checkpoint("g", 0)
        with pytest.raises(StorageError, match="cannot delete the checkpoints of"):
            store.delete_checkpoints("g")


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:////abs/dir/x.db", "/abs/dir/x.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("plain/file.sqlite", "plain/file.sqlite"),
    ],
)
def test_sqlite_targets_name_their_file(target, path):
    assert sqlite_path(target) == path


@pytest.mark.parametrize("target", ["sqlite://", "sqlite://host/x.db"])
def test_a_sqlite_url_without_a_path_is_refused(target):
    with pytest.raises(ConfigError, match="names no SQLite file; hint: "):
        sqlite_path(target)


def test_open_store_opens_sqlite_from_a_url_or_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///by-url.sqlite") as store:
        assert isinstance(store, SqliteStore)
        store.save_checkpoint("g", 0, {"t": 1}, b"url")
    with open_store(str(tmp_path / "by-url.sqlite")) as store:
        found = store.load_checkpoint("g", 0)
    assert found is not None and found.state == b"url"


@pytest.mark.parametrize("target", ["", "  ", "mysql://app:hunter2@db/tw"])
def test_open_store_refuses_unknown_targets_without_showing_passwords(target):
    with pytest.raises(ConfigError, match="; hint: ") as raised:
        open_store(target)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "target",
    [
        "host=127.0.0.1 user=postgres password=hunter2 dbname=tw",
        "dbname=tw",
        "host=/var/run/postgresql dbname=tw password='hunter2 x'",
        "  HOST = db  PORT=5432 ",
        "host=db dbname=t sslpassword=hunter2",
        "host=db port=5432 keepalives=1 password=hunter2",
        "host=db gssencmode=disable dbname=x channel_binding=require",
        "password=hunter2/x",
    ],
)
def test_a_libpq_connection_string_is_not_taken_for_a_file(
    target, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="postgresql://USER@HOST") as raised:
        open_store(target)
    assert "hunter2" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []  # no file named after it


@pytest.mark.parametrize(
    "target", ["user=ann/store.sqlite", "dt=2026-01-01/x.db", "x=1 y.db"]
)
def test_paths_with_an_equals_sign_are_still_files(target):
    assert sqlite_path(target) == target


def test_the_review_store_and_the_ledger_refuse_a_libpq_string_too(
    tmp_path, monkeypatch
):
    from trustwatch.response.ledger import open_ledger
    from trustwatch.review.store import open_review_store

    monkeypatch.chdir(tmp_path)
    for opener in (open_review_store, open_ledger):
        with pytest.raises(ConfigError, match="libpq"):
            opener("host=db dbname=tw")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("dsn", "redacted"),
    [
        (
            "postgresql://app:s3cret@db:5432/tw?sslmode=require",
            "postgresql://app:***@db:5432/tw?sslmode=require",
        ),
        ("postgres://app:p@ss@db/tw", "postgres://app:***@db/tw"),
        (
            "postgresql://app@db/tw?sslmode=require&password=s3cret",
            "postgresql://app@db/tw?sslmode=require&password=***",
        ),
        ("postgresql://app@db/tw", "postgresql://app@db/tw"),
        ("postgresql://:s3cret@/tw?host=/run/pg", "postgresql://:***@/tw?host=/run/pg"),
        (
            "host=db user=app password=s3cret dbname=tw",
            "host=db user=app password=*** dbname=tw",
        ),
        ("host=db password = 'with space' port=5", "host=db password = *** port=5"),
        ("host=db dbname=tw", "host=db dbname=tw"),
        # the passphrase of the client's TLS key is a secret too
        (
            "postgresql://app@db/tw?sslpassword=k3y&sslmode=verify-full",
            "postgresql://app@db/tw?sslpassword=***&sslmode=verify-full",
        ),
        (
            "host=db sslkey=/k.pem sslpassword='k 3y' password=s",
            "host=db sslkey=/k.pem sslpassword=*** password=***",
        ),
        # libpq decodes percent-encoded keys
        (
            "postgresql://app@db/tw?ssl%70assword=k3y&Password=s",
            "postgresql://app@db/tw?ssl%70assword=***&Password=***",
        ),
    ],
)
def test_redact_dsn_hides_the_password_only(dsn, redacted):
    assert redact_dsn(dsn) == redacted
