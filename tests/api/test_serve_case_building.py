"""``trustwatch serve`` builds cases in the background from new alerts.

The tests ask the builder for a build (:meth:`CaseBuilder.request`) and wait
for it to end instead of sleeping through an interval; the interval itself is
an hour, so no build happens unless asked for or at start-up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.api_world import (
    RING_ID,
    fill_decisions,
    make_tokens,
    ring,
    serve_args,
)

from trustwatch.api.app import create_app
from trustwatch.api.case_builder import CaseBuilder
from trustwatch.api.settings import ServeSettings
from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.errors import ConfigError, StorageError
from trustwatch.review.cases import BuildSummary
from trustwatch.storage.postgres import PostgresStore
from trustwatch.storage.sqlite import SqliteStore

HOUR = 3600.0
WAIT = 60.0  # seconds a test waits for a requested build before failing


def _subjects(client: TestClient, headers: dict[str, str]) -> set[tuple[str, str]]:
    response = client.get("/api/v1/cases", headers=headers)
    assert response.status_code == 200, response.text
    return {(c["subject_type"], c["subject"]) for c in response.json()["items"]}


def _build_now(builder: CaseBuilder) -> None:
    assert builder.wait_for(builder.request(), timeout=WAIT), "no build ended"


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> tuple[ServeSettings, dict[str, str]]:
    SqliteStore(tmp_path / "store.sqlite").close()
    settings = ServeSettings(
        db=str(tmp_path / "store.sqlite"),
        review_db=str(tmp_path / "review.sqlite"),
        tokens=tmp_path / "tokens.json",
    )
    tokens = make_tokens(tmp_path / "tokens.json")
    return settings, {"Authorization": f"Bearer {tokens['viewer']}"}


@pytest.fixture
def served(
    sqlite_settings: tuple[ServeSettings, dict[str, str]], no_outbound: list[Any]
) -> Iterator[tuple[TestClient, CaseBuilder, ServeSettings, dict[str, str]]]:
    settings, viewer = sqlite_settings
    app = create_app(settings, build_cases_every=HOUR)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        yield client, app.state.case_builder, settings, viewer
    assert no_outbound == []


def test_new_alerts_become_cases_without_a_build_command(served) -> None:
    client, builder, settings, viewer = served
    assert builder.wait_for(1, timeout=WAIT)
    assert _subjects(client, viewer) == set()

    with SqliteStore(settings.db) as store:
        fill_decisions(store)
    _build_now(builder)

    assert _subjects(client, viewer) == {("account", "alice"), ("account", "bob")}
    assert builder.failures == 0
    assert builder.last_summary is not None and builder.last_summary.alerts == 5


def test_a_ring_written_later_groups_the_next_alerts(served) -> None:
    client, builder, settings, viewer = served
    with SqliteStore(settings.db) as store:
        store.write_rings([ring()])
        fill_decisions(store)

    _build_now(builder)

    assert _subjects(client, viewer) == {("ring", RING_ID)}


def test_the_builder_stops_with_the_app(
    sqlite_settings: tuple[ServeSettings, dict[str, str]],
) -> None:
    settings, _ = sqlite_settings
    app = create_app(settings, build_cases_every=HOUR)
    builder = app.state.case_builder
    with TestClient(app, base_url="http://127.0.0.1:8080"):
        assert builder.running

    assert not builder.running


def test_no_builder_unless_asked_for(
    sqlite_settings: tuple[ServeSettings, dict[str, str]],
) -> None:
    settings, _ = sqlite_settings

    assert create_app(settings).state.case_builder is None
    assert create_app(settings, build_cases_every=0).state.case_builder is None


def test_a_failed_build_is_logged_and_retried_while_the_api_serves(
    sqlite_settings: tuple[ServeSettings, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from trustwatch.review import cases as cases_module

    settings, viewer = sqlite_settings
    real_build = cases_module.build_cases
    calls: list[int] = []

    def fail_twice(*args: Any, **kwargs: Any) -> BuildSummary:
        calls.append(1)
        if len(calls) == 1:
            raise StorageError("the review store is down")
        if len(calls) == 2:
            raise RuntimeError("an unexpected fault")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(cases_module, "build_cases", fail_twice)
    with SqliteStore(settings.db) as store:
        fill_decisions(store)
    app = create_app(settings, build_cases_every=HOUR)
    builder = app.state.case_builder
    with (
        caplog.at_level(logging.WARNING, logger="trustwatch.api.case_builder"),
        TestClient(app, base_url="http://127.0.0.1:8080") as client,
    ):
        assert builder.wait_for(1, timeout=WAIT)
        assert _subjects(client, viewer) == set()
        _build_now(builder)
        assert builder.running
        _build_now(builder)
        served_cases = _subjects(client, viewer)

    assert builder.failures == 2
    assert served_cases == {("account", "alice"), ("account", "bob")}
    failures = [r for r in caplog.records if "case build failed" in r.getMessage()]
    assert len(failures) == 2
    assert "the review store is down" in failures[0].getMessage()


def test_a_decision_store_that_fails_to_open_is_reopened_next_tick() -> None:
    opened: list[int] = []

    def open_decisions() -> object:
        opened.append(1)
        if len(opened) == 1:
            raise StorageError("cannot connect")
        return object()

    builder = CaseBuilder(
        open_decisions, lambda store: BuildSummary(3, 0, 0, 0, "v3"), every=HOUR
    )
    builder.start()
    try:
        assert builder.wait_for(1, timeout=WAIT)
        _build_now(builder)
    finally:
        builder.stop()

    assert len(opened) == 2
    assert builder.failures == 1
    assert builder.last_summary == BuildSummary(3, 0, 0, 0, "v3")


def test_an_interval_that_is_not_positive_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--build-cases-every"):
        CaseBuilder(object, lambda store: BuildSummary(0, 0, 0, 0, None), every=-1)


def test_rings_of_a_postgres_decision_store_group_served_cases(
    postgres_store_target: tuple[str, str], tmp_path: Path, no_outbound: list[Any]
) -> None:
    dsn, schema = postgres_store_target
    PostgresStore(dsn, schema=schema).close()
    settings = ServeSettings(
        db=dsn,
        db_schema=schema,
        review_db=str(tmp_path / "review.sqlite"),
        tokens=tmp_path / "tokens.json",
    )
    tokens = make_tokens(tmp_path / "tokens.json")
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    app = create_app(settings, build_cases_every=HOUR)
    builder = app.state.case_builder
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        with PostgresStore(dsn, schema=schema) as store:
            store.write_rings([ring()])
            fill_decisions(store)
        _build_now(builder)
        subjects = _subjects(client, viewer)
        rings = client.get("/api/v1/rings", headers=viewer).json()

    assert subjects == {("ring", RING_ID)}
    assert [r["ring_id"] for r in rings] == [RING_ID]


@pytest.fixture
def fake_uvicorn(fake_serving: list[dict[str, Any]], tmp_path: Path) -> list[Any]:
    SqliteStore(tmp_path / "store.sqlite").close()
    make_tokens(tmp_path / "tokens.json")
    return fake_serving


@pytest.mark.parametrize(
    ("given", "every"),
    [(None, 60.0), ("30s", 30.0), ("5m", 300.0), ("90", 90.0), ("0", None)],
)
def test_serve_builds_cases_every_interval_by_default(
    fake_uvicorn: list[Any], tmp_path: Path, given: str | None, every: float | None
) -> None:
    args = serve_args(tmp_path)
    if given is not None:
        args += ["--build-cases-every", given]

    assert main(args) == ExitCode.OK

    builder = fake_uvicorn[0]["app"].state.case_builder
    assert (builder.every if builder is not None else None) == every


def test_serve_refuses_an_interval_it_cannot_read(
    fake_uvicorn: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*serve_args(tmp_path), "--build-cases-every", "soon"])

    assert code == ExitCode.BAD_INPUT
    assert "use e.g. 30s" in capsys.readouterr().err
    assert fake_uvicorn == []


def _failed_logins(path: Path, account: str, count: int = 40) -> Path:
    """A burst of failed logins on ``account`` from one address."""
    lines = [
        json.dumps(
            {
                "type": "login",
                "event_id": f"{account}-{i}",
                "ts": f"2026-05-01T00:00:{i:02d}Z",
                "account": account,
                "ip": "198.51.100.7",
                "success": False,
            }
        )
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_run_with_a_review_store_builds_cases_at_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trustwatch.review.store import open_review_store

    events = _failed_logins(tmp_path / "events.jsonl", "alice")
    review = tmp_path / "review.sqlite"
    args = ["run", str(events), "--db", str(tmp_path / "store.sqlite"), "--no-geo"]

    assert main([*args, "--review-db", str(review)]) == ExitCode.OK
    first = capsys.readouterr().out
    assert main([*args, "--review-db", str(review)]) == ExitCode.OK
    second = capsys.readouterr().out

    with open_review_store(review) as store:
        (case,) = store.cases()
    assert (case.subject_type, case.subject) == ("account", "alice")
    assert "in 1 case (1 new)" in first
    assert "cases: 0 new alerts" in second


def test_run_without_a_review_store_builds_no_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _failed_logins(tmp_path / "events.jsonl", "alice")

    code = main(["run", str(events), "--db", str(tmp_path / "s.sqlite"), "--no-geo"])

    assert code == ExitCode.OK
    assert "cases:" not in capsys.readouterr().out
    assert not (tmp_path / "review.sqlite").exists()
