"""The PostgreSQL decision store, against the loopback server (see conftest)."""

import random
import socket
import sys
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors.base import Signal
from trustwatch.errors import ConfigError, StorageError
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import Login
from trustwatch.storage import postgres as postgres_module
from trustwatch.storage.checkpoints import open_store
from trustwatch.storage.postgres import PostgresStore

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def decided(i: int, account: str = "alice"):
    event = Login(
        event_id=f"e{i}",
        ts=T0.replace(minute=i),
        account=account,
        ip="198.51.100.7",
        success=False,
    )
    signal = Signal(
        detector="d",
        detector_version="1",
        kind="brute_force",
        score=0.9,
        entity_type="ip",
        entity="198.51.100.7",
        event_id=event.event_id,
    )
    return DecisionEngine(default_policy()).decide(event, [signal])


def psycopg_or_skip():
    return pytest.importorskip("psycopg", reason="psycopg is not installed")


def closed_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def verdicts(n: int, account: str = "alice"):
    base, _ = decided(1, account=account)
    return [
        msgspec.structs.replace(
            base,
            verdict_id=f"v-{account}-{i:04d}",
            event_id=f"e-{account}-{i}",
            ts=base.ts + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def letter(i: int, reason: str = "malformed_json", raw: bytes = b"{oops") -> DeadLetter:
    return DeadLetter.build("in.jsonl", f"line {i}", reason, "JSON is malformed", raw)


@pytest.fixture
def store(postgres_store_target):
    dsn, schema = postgres_store_target
    with PostgresStore(dsn, schema=schema) as opened:
        yield opened


def test_writes_are_idempotent_and_count_new_rows_only(store):
    v1, v2, v3 = verdicts(3)
    assert store.write_verdicts([v1, v2]) == 2
    assert store.write_verdicts([v2, v3, v3]) == 1
    assert store.write_verdicts([v1, v2, v3]) == 0
    assert store.write_verdicts([]) == 0
    _, actions = decided(1)
    assert store.write_actions(actions) == len(actions) == 1
    assert store.write_actions(actions) == 0
    letters = [letter(1), letter(2)]
    assert store.write_dead_letters(letters) == 2
    assert store.write_dead_letters([letters[1], letter(3)]) == 1
    assert store.counts() == {
        "verdicts": 3,
        "actions": 1,
        "dead_letters": 3,
        "decision:block_source": 3,
    }


def test_readers_return_the_structs_written(store, monkeypatch):
    monkeypatch.setattr(postgres_module, "_PAGE", 3)  # several pages
    written = verdicts(7)
    store.write_verdicts(reversed(written))
    assert list(store.iter_verdicts()) == written
    _, actions = decided(1)
    store.write_actions(actions)
    assert list(store.iter_actions()) == list(actions)
    letters = [
        letter(1),
        letter(2, "timestamp", b"bad\x00ts\xff"),
        letter(3, "schema"),
    ]
    store.write_dead_letters(letters)
    assert store.dead_letters() == letters
    assert store.dead_letters(limit=2) == letters[:2]
    assert store.dead_letters(reason="timestamp") == [letters[1]]
    assert letters[1].raw == "bad\x00ts\\xff"


def test_text_that_postgres_cannot_hold_is_kept_in_the_body(store):
    (verdict,) = verdicts(1, account="nul\x00account")
    assert store.write_verdicts([verdict]) == 1
    assert list(store.iter_verdicts()) == [verdict]


def test_a_checkpoint_round_trips_with_a_large_state(store):
    blob = random.Random(7).randbytes(5 * 1024 * 1024)
    before = datetime.now(UTC)
    assert store.load_checkpoint("g", 0) is None
    store.save_checkpoint("g", 0, {"logins": 41, "uploads": 0}, blob)
    found = store.load_checkpoint("g", 0)
    assert found is not None
    assert (found.group, found.partition) == ("g", 0)
    assert found.offsets == {"logins": 41, "uploads": 0}
    assert found.state == blob
    assert found.saved_at.tzinfo is UTC
    assert before - timedelta(seconds=1) <= found.saved_at


def test_checkpoints_are_replaced_kept_apart_and_deleted(store):
    store.save_checkpoint("a", 0, {"t": 1, "u": 2}, b"a0-old")
    store.save_checkpoint("a", 0, {"t": 3}, b"a0")
    store.save_checkpoint("a", 1, {"t": 4}, b"a1")
    store.save_checkpoint("b", 0, {"t": 5}, b"b0")
    loaded = {
        key: store.load_checkpoint(*key) for key in [("a", 0), ("a", 1), ("b", 0)]
    }
    assert {k: (c.offsets, c.state) for k, c in loaded.items() if c} == {
        ("a", 0): ({"t": 3}, b"a0"),
        ("a", 1): ({"t": 4}, b"a1"),
        ("b", 0): ({"t": 5}, b"b0"),
    }
    assert store.delete_checkpoints("a") == 2
    assert store.delete_checkpoints("a") == 0
    assert store.load_checkpoint("a", 1) is None
    assert store.load_checkpoint("b", 0) is not None


def test_damaged_offsets_are_a_config_error(postgres_store_target, store):
    psycopg = psycopg_or_skip()
    dsn, schema = postgres_store_target
    store.save_checkpoint("workers", 2, {"t": 1}, b"x")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL(
                'UPDATE {}.stream_checkpoints SET offsets = \'{{"t": "x"}}\''
            ).format(psycopg.sql.Identifier(schema))
        )
    with pytest.raises(ConfigError, match=r"group 'workers' partition 2 .*damaged"):
        store.load_checkpoint("workers", 2)


def test_two_stores_on_one_schema_share_rows(postgres_store_target, store):
    dsn, schema = postgres_store_target
    store.save_checkpoint("g", 0, {"t": 9}, b"shared")
    store.write_verdicts(verdicts(2))
    with open_store(dsn, schema=schema) as second:
        assert isinstance(second, PostgresStore)
        found = second.load_checkpoint("g", 0)
        assert second.write_verdicts(verdicts(3)) == 1
    assert found is not None and found.state == b"shared"


def test_a_dropped_connection_is_reopened_once(postgres_store_target):
    psycopg = psycopg_or_skip()
    dsn, schema = postgres_store_target
    name = f"tw_{uuid.uuid4().hex[:12]}"
    tagged = psycopg.conninfo.make_conninfo(dsn, application_name=name)
    with PostgresStore(tagged, schema=schema) as store:
        store.write_verdicts(verdicts(1))
        with psycopg.connect(dsn, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            ).fetchall()
        assert ended == [(True,)]
        assert store.write_verdicts(verdicts(2)) == 1
        assert store.counts()["verdicts"] == 2


def test_a_closed_port_is_a_storage_error_without_the_password():
    psycopg_or_skip()
    port = closed_loopback_port()
    dsn = f"postgresql://postgres:s3cretpw@127.0.0.1:{port}/test?connect_timeout=5"
    with pytest.raises(StorageError, match="; hint: ") as raised:
        PostgresStore(dsn)
    message = str(raised.value)
    assert f"postgresql://postgres:***@127.0.0.1:{port}/test" in message
    assert "s3cretpw" not in message
    assert "\n" not in message and "\t" not in message  # one readable line
    assert raised.value.__cause__ is None


def test_a_refused_login_is_a_storage_error_without_the_password(
    postgres_store_target,
):
    dsn, _ = postgres_store_target
    missing = f"tw_missing_{uuid.uuid4().hex[:8]}"
    bad = f"host=127.0.0.1 port=5432 dbname={missing} user=postgres password=pw9x7"
    if not dsn.startswith("postgresql://postgres@127.0.0.1:5432/"):
        pytest.skip("the refused-login case is written for the loopback server")
    with pytest.raises(StorageError, match=f"{missing}.*; hint: ") as raised:
        PostgresStore(bad)
    assert "password=***" in str(raised.value)
    assert "pw9x7" not in str(raised.value)


def test_a_closed_store_refuses_calls(store):
    store.close()
    with pytest.raises(StorageError, match="is closed; hint: "):
        store.counts()


@pytest.mark.parametrize("schema", ["", "Upper", "has-dash", "x" * 64, "1st"])
def test_an_unusable_schema_name_is_a_config_error(schema):
    psycopg_or_skip()
    with pytest.raises(ConfigError, match=r"schema name .* is not usable; hint: "):
        PostgresStore("postgresql://u:pw@127.0.0.1:1/db", schema=schema)


def test_a_malformed_dsn_is_a_config_error_without_the_password():
    psycopg_or_skip()
    with pytest.raises(ConfigError, match="not a PostgreSQL connection") as raised:
        PostgresStore("host=db password=pw9x7 nonsense")
    assert "pw9x7" not in str(raised.value)


def test_without_psycopg_the_store_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigError, match=r'pip install "trustwatch\[postgres\]"'):
        open_store("postgresql://app:pw@127.0.0.1:1/db")


def test_a_server_side_failure_is_a_storage_error_naming_the_schema(
    postgres_store_target, store
):
    psycopg = psycopg_or_skip()
    dsn, schema = postgres_store_target
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("DROP TABLE {}.verdicts").format(
                psycopg.sql.Identifier(schema)
            )
        )
    with pytest.raises(StorageError, match=f"write verdicts .*schema {schema}"):
        store.write_verdicts(verdicts(1))
    assert store.write_dead_letters([letter(1)]) == 1
