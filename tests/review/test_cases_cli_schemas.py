"""``trustwatch cases`` on a PostgreSQL decision store in a named schema
(``--db-schema``), ``run --review-schema``, and ``cases list --kind``."""

from __future__ import annotations

import json

from tests.api.api_world import fill_decisions

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.storage.postgres import PostgresStore


def _json_lines(capsys, argv: list[str]) -> list[dict]:
    capsys.readouterr()
    assert main(argv) == ExitCode.OK, capsys.readouterr().err
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_cases_read_a_decision_store_in_its_schema(
    postgres_store_target, tmp_path, capsys, monkeypatch
) -> None:
    dsn, schema = postgres_store_target
    with PostgresStore(dsn, schema=schema) as store:
        fill_decisions(store)
    review = ["--review-db", str(tmp_path / "review.sqlite")]
    decisions = ["--db", dsn, "--db-schema", schema]

    assert main(["cases", "build", *decisions, *review]) == ExitCode.OK
    listed = _json_lines(capsys, ["cases", "list", *review, "--json"])
    assert listed

    # the schema can come from the environment too
    monkeypatch.setenv("TRUSTWATCH_DB_SCHEMA", schema)
    case_id = listed[0]["case_id"]
    (shown,) = _json_lines(
        capsys, ["cases", "show", case_id, "--db", dsn, *review, "--json"]
    )
    assert shown["verdicts"]
    argv = ["cases", "resolve", case_id, "--label", "benign", "--as", "ana"]
    assert main([*argv, "--db", dsn, *review]) == ExitCode.OK


def test_cases_list_filters_by_signal_kind(
    postgres_store_target, tmp_path, capsys
) -> None:
    dsn, schema = postgres_store_target
    with PostgresStore(dsn, schema=schema) as store:
        fill_decisions(store)
    review = ["--review-db", str(tmp_path / "review.sqlite")]
    assert main(["cases", "build", "--db", dsn, "--db-schema", schema, *review]) == 0

    every = _json_lines(capsys, ["cases", "list", *review, "--json"])
    lures = _json_lines(
        capsys, ["cases", "list", *review, "--json", "--kind", "intel_url"]
    )
    none = _json_lines(capsys, ["cases", "list", *review, "--json", "--kind", "nope"])

    assert lures
    assert all("intel_url" in case["kinds"] for case in lures)
    assert len(lures) < len(every) or all("intel_url" in c["kinds"] for c in every)
    assert none == []


def test_run_builds_cases_into_the_review_schema(
    postgres_store_target, tmp_path, capsys
) -> None:
    dsn, schema = postgres_store_target
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "type": "login",
                "event_id": "e1",
                "ts": "2026-05-01T12:00:00Z",
                "account": "alice",
                "ip": "203.0.113.9",
                "success": True,
            }
        )
        + "\n"
    )
    review = ["--review-db", dsn, "--review-schema", schema]
    assert main(["db", "upgrade", *review]) == ExitCode.OK
    capsys.readouterr()

    status = main(
        [
            "run",
            str(events),
            "--db",
            str(tmp_path / "store.sqlite"),
            "--no-geo",
            *review,
        ]
    )

    assert status == ExitCode.OK, capsys.readouterr().err
    assert "cases:" in capsys.readouterr().out


def test_a_mistyped_decision_store_schema_is_refused_not_created(
    postgres_store_target, tmp_path, capsys
) -> None:
    import uuid

    import psycopg

    dsn, _ = postgres_store_target
    missing = f"tw_test_missing_{uuid.uuid4().hex[:8]}"
    argv = ["cases", "build", "--db", dsn, "--db-schema", missing]
    argv += ["--review-db", str(tmp_path / "review.sqlite")]
    capsys.readouterr()
    assert main(argv) == ExitCode.BAD_CONFIG
    assert f"no decision store in schema '{missing}'" in capsys.readouterr().err
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = %s", (missing,)
        ).fetchall()
    assert found == []


def test_run_checks_its_review_store_before_reading_events(tmp_path, capsys) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"type":"login","event_id":"e1","ts":"2026-05-01T12:00:00Z",'
        '"account":"alice","ip":"203.0.113.9","success":true}\n'
    )
    store = tmp_path / "store.sqlite"
    nowhere = "postgresql://tw:s3cret-pw@127.0.0.1:1/review"  # nothing listens

    status = main(
        ["run", str(events), "--db", str(store), "--no-geo", "--review-db", nowhere]
    )

    assert status == ExitCode.DEPENDENCY_FAILED
    err = capsys.readouterr().err
    assert "s3cret-pw" not in err
    assert not store.exists()  # refused before the run wrote anything
