"""The API over PostgreSQL: decision and review stores both on the local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.api.api_world import T0, fill_decisions, make_tokens

from trustwatch.api.app import create_app
from trustwatch.api.settings import ServeSettings
from trustwatch.review.cases import build_cases
from trustwatch.review.store import open_review_store
from trustwatch.storage.checkpoints import open_store


@pytest.fixture
def postgres_client(
    postgres_store_target, tmp_path, no_outbound
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    import psycopg
    from psycopg import sql

    dsn, schema = postgres_store_target
    review_schema = f"{schema}_review"
    store = open_store(dsn, schema=schema)
    try:
        fill_decisions(store)
        with open_review_store(dsn, schema=review_schema, migrate=True) as review:
            build_cases(store, review, clock=lambda: T0)
    finally:
        store.close()
    settings = ServeSettings(
        db=dsn,
        review_db=dsn,
        db_schema=schema,
        review_schema=review_schema,
        tokens=tmp_path / "tokens.json",
    )
    tokens = make_tokens(tmp_path / "tokens.json")
    try:
        with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
            yield client, tokens
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(review_schema)
                )
            )


def test_cases_alerts_and_audit_work_over_postgres(postgres_client) -> None:
    client, tokens = postgres_client

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    cases = client.get("/api/v1/cases", headers=auth("viewer")).json()["items"]
    assert cases
    case_id = cases[0]["case_id"]
    detail = client.get(f"/api/v1/cases/{case_id}", headers=auth("viewer")).json()
    assert detail["evidence"]["verdicts"]
    alerts = client.get(
        "/api/v1/alerts", params={"account": "bob"}, headers=auth("viewer")
    ).json()
    assert alerts and {a["account"] for a in alerts} == {"bob"}
    timeline = client.get(
        "/api/v1/accounts/alice/timeline", headers=auth("viewer")
    ).json()
    assert {"verdict", "action", "case"} <= {e["kind"] for e in timeline}
    hostile = client.get(
        "/api/v1/alerts", params={"account": "' OR 1=1 --"}, headers=auth("viewer")
    )
    assert hostile.json() == []
    nul = client.get("/api/v1/cases/a%00b", headers=auth("viewer"))
    assert nul.status_code == 422
    resolved = client.post(
        f"/api/v1/cases/{case_id}/resolve",
        json={"label": "benign"},
        headers=auth("analyst"),
    )
    assert resolved.status_code == 200, resolved.text
    entries = client.get("/api/v1/audit", headers=auth("admin")).json()
    assert [e["action"] for e in entries] == ["resolve"]
    assert client.get("/api/v1/rings", headers=auth("viewer")).json() == []
