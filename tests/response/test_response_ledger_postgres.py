"""The dispatch ledger in a PostgreSQL decision store: migration, concurrency,
the breaker's reviews, an unreachable platform and expiry."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import psycopg
import pytest
from ledger_backends import CountingAdapter
from psycopg import sql
from response_rig import T0, WEBHOOK_SECRET, make_action, start_webhook, stop_webhook

from trustwatch.errors import ConfigError, StorageError
from trustwatch.response.adapters import build_adapters
from trustwatch.response.breaker import BREAKER_ACTOR
from trustwatch.response.config import response_config_from_dict
from trustwatch.response.dispatch import Dispatcher
from trustwatch.response.ledger import DispatchLedger, open_ledger
from trustwatch.response.ledger_postgres import PostgresDispatchLedger
from trustwatch.response.ledger_tables import LEDGER_TABLES
from trustwatch.storage import migrate
from trustwatch.storage.postgres import PostgresStore


def _config(**extra):
    data = {
        "adapters": {"platform": {"kind": "log", "path": "unused.jsonl"}},
        "routes": {"default": "platform"},
        "retry": {"max_attempts": 3, "first_backoff": "10s", "max_backoff": "5m"},
    }
    data.update(extra)
    return response_config_from_dict(data, "test-response.toml")


def _counting_dispatcher(ledger: DispatchLedger, adapter: CountingAdapter, **extra):
    return Dispatcher(
        ledger, _config(**extra), {"platform": adapter}, rng=random.Random(3)
    )


def _tables(dsn: str, schema: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    return {row[0] for row in rows}


def test_opening_the_ledger_migrates_a_baseline_store_and_keeps_its_actions(
    postgres_store_target,
) -> None:
    dsn, schema = postgres_store_target
    migrate.upgrade_decision_store(lambda: psycopg.connect(dsn), schema, "0001")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.actions VALUES ('act-old', 'v', 'e', 'lock_account', "
                "'account', 'a', 'enforce', now(), NULL, %s)"
            ).format(sql.Identifier(schema)),
            (
                '{"action_id":"act-old","verdict_id":"v","event_id":"e",'
                '"type":"lock_account","target_type":"account","target":"a",'
                '"mode":"enforce","actor":"policy:p@1#r","reason":"r",'
                '"created_at":"2026-12-01T12:00:00Z"}',
            ),
        )
    assert not set(LEDGER_TABLES) & _tables(dsn, schema)

    with open_ledger(dsn, schema=schema) as ledger:
        assert isinstance(ledger, PostgresDispatchLedger)
        assert [a.action_id for a in ledger.untaken()] == ["act-old"]

    assert set(LEDGER_TABLES) <= _tables(dsn, schema)
    revision = migrate.decision_store_revision(lambda: psycopg.connect(dsn), schema)
    assert revision == migrate.DECISION_SCHEMA_HEAD


def test_a_schema_missing_a_ledger_table_is_refused_with_a_hint(
    postgres_store_target,
) -> None:
    dsn, schema = postgres_store_target
    open_ledger(dsn, schema=schema).close()
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP TABLE {}.action_releases").format(sql.Identifier(schema))
        )
    with pytest.raises(StorageError, match="lacks action_releases; hint"):
        open_ledger(dsn, schema=schema)


def test_open_ledger_refuses_other_addresses_with_a_hint(tmp_path) -> None:
    with pytest.raises(ConfigError, match="hint"):
        open_ledger("mysql://root:pw@127.0.0.1/db")
    with pytest.raises(ConfigError, match="hint"):
        open_ledger("  ")
    with pytest.raises(ConfigError, match="hint"):
        open_ledger(":memory:")
    with open_ledger(tmp_path / "store.db") as ledger:
        assert type(ledger) is DispatchLedger


@pytest.mark.slow
def test_two_dispatchers_over_one_postgres_ledger_never_send_an_action_twice(
    postgres_store_target,
) -> None:
    dsn, schema = postgres_store_target
    count = 150
    adapter = CountingAdapter(pause=0.001)
    first, second = (open_ledger(dsn, schema=schema) for _ in range(2))
    try:
        first.store.write_actions(
            [make_action(n, expires=timedelta(hours=2)) for n in range(count)]
        )
        # a floor and a default budget high enough that the breaker lets the
        # burst through
        burst = {"rate_floor": 100_000, "default_budget": "1000 per minute"}
        dispatchers = [
            _counting_dispatcher(led, adapter, breaker=burst) for led in (first, second)
        ]
        start = threading.Barrier(len(dispatchers))
        failures: list[BaseException] = []

        def work(dispatcher: Dispatcher) -> None:
            try:
                start.wait()
                for minute in range(4):
                    dispatcher.run_once(T0 + timedelta(minutes=minute))
                # both also expire every action, which queues one reversal each
                for minute in range(4):
                    dispatcher.run_once(T0 + timedelta(hours=3, minutes=minute))
            except BaseException as exc:  # reported below, with the thread's name
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(d,)) for d in dispatchers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []

        applied = [key for op, key in adapter.operations if op == "apply"]
        reversed_ = [key for op, key in adapter.operations if op == "reverse"]
        assert sorted(applied) == sorted(make_action(n).action_id for n in range(count))
        assert sorted(reversed_) == sorted(applied)
        assert max(adapter.deliveries.values()) == 1
        assert len(adapter.deliveries) == 2 * count
        states = {record.state for record, _ in first.listing(limit=10 * count)}
        assert states == {"expired", "dispatched"}  # the actions, and reversals
    finally:
        first.close()
        second.close()


def test_the_breakers_reviews_are_written_into_the_postgres_store(
    postgres_store_target,
) -> None:
    dsn, schema = postgres_store_target
    adapter = CountingAdapter()
    with open_ledger(dsn, schema=schema) as ledger:
        ledger.store.write_actions([make_action(n) for n in range(5)])
        dispatcher = _counting_dispatcher(
            ledger, adapter, breaker={"budgets": {"lock_account": "3 per minute"}}
        )
        summary = dispatcher.run_once(T0)
        assert summary.dispatched == 3 and summary.held == 2
        held = ledger.listing(state="held")
        assert all("budget: lock_account" in (r.last_error or "") for r, _ in held)
    with PostgresStore(dsn, schema=schema) as store:
        reviews = [a for a in store.iter_actions() if a.type == "send_to_review"]
    assert len(reviews) == 2
    assert {a.actor for a in reviews} == {BREAKER_ACTOR}
    assert {a.target for a in reviews} == {a.target for _, a in held}


def test_platform_down_on_postgres_keeps_actions_pending_then_sends_each_once(
    postgres_store_target, monkeypatch
) -> None:
    dsn, schema = postgres_store_target
    webhook = start_webhook()
    port, url = webhook.server.server_address[1], webhook.url
    stop_webhook(webhook)
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    config = response_config_from_dict(
        {
            "adapters": {
                "platform": {
                    "kind": "webhook",
                    "url": url,
                    "secret_env": "TEST_WEBHOOK_SECRET",
                    "timeout": "5s",
                }
            },
            "routes": {"default": "platform"},
            "retry": {"max_attempts": 2, "first_backoff": "10s", "max_backoff": "10m"},
        },
        "test",
    )
    adapters = build_adapters(config)
    with open_ledger(dsn, schema=schema) as ledger:
        ledger.store.write_actions([make_action(1), make_action(2)])
        dispatcher = Dispatcher(ledger, config, adapters, rng=random.Random(5))
        for hour in range(3):
            summary = dispatcher.run_once(T0 + timedelta(hours=hour))
            assert summary.failed == 0 and summary.dispatched == 0
        pending = ledger.listing(state="pending")
        assert sorted(r.action_id for r, _ in pending) == [
            "act-lock-stuffed-00001",
            "act-lock-stuffed-00002",
        ]
        assert all(r.attempts == 3 for r, _ in pending)
        assert all(
            "cannot reach http://127.0.0.1" in (r.last_error or "") for r, _ in pending
        )

        back = start_webhook(port)
        try:
            assert dispatcher.run_once(T0 + timedelta(days=1)).dispatched == 2
            assert dispatcher.run_once(T0 + timedelta(days=2)).dispatched == 0
            keys = sorted(r["headers"]["Idempotency-Key"] for r in back.requests)
        finally:
            stop_webhook(back)
        assert keys == ["act-lock-stuffed-00001", "act-lock-stuffed-00002"]
        assert {r.state for r, _ in ledger.listing()} == {"dispatched"}
    for adapter in adapters.values():
        adapter.close()


def test_an_expired_action_is_reversed_once_on_postgres(postgres_store_target) -> None:
    dsn, schema = postgres_store_target
    adapter = CountingAdapter()
    with open_ledger(dsn, schema=schema) as ledger:
        ledger.store.write_actions([make_action(1, expires=timedelta(hours=1))])
        dispatcher = _counting_dispatcher(ledger, adapter)
        dispatcher.run_once(T0)
        assert dispatcher.run_once(T0 + timedelta(minutes=59)).reversals_sent == 0
        assert dispatcher.run_once(T0 + timedelta(hours=1)).reversals_sent == 1
        assert dispatcher.run_once(T0 + timedelta(hours=5)).reversals_sent == 0
        record = ledger.record("act-lock-stuffed-00001")
        reversal = ledger.reversal_of("act-lock-stuffed-00001")
    assert [op for op, _ in adapter.operations] == ["apply", "reverse"]
    assert record is not None and record.state == "expired"
    assert reversal is not None and reversal.actor == "expiry"
