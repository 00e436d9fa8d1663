"""Test data for the analyst API: alerts, actions and a ring, tokens per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.testclient import TestClient

from trustwatch.api.settings import ServeSettings
from trustwatch.api.tokens import TokenFile
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import Action, Verdict
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors.base import Signal
from trustwatch.events.model import Login
from trustwatch.graph.rings import RingSnapshot

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
#: A URL-bearing signal entity: the API must show it, never fetch it.
LURE_URL = "http://login-check.example.net/verify?u=alice"
RING_ID = "ring-lockstep-1"


def decided(
    i: int, account: str, *, kind: str = "brute_force", score: float = 0.9
) -> tuple[Verdict, list[Action]]:
    """A verdict (and its actions) on a failed login by ``account``."""
    event = Login(
        event_id=f"e-{account}-{i}",
        ts=T0 + timedelta(minutes=i),
        account=account,
        ip="198.51.100.7",
        success=False,
    )
    signal = Signal(
        detector="test",
        detector_version="1",
        kind=kind,
        score=score,
        entity_type="url" if kind == "intel_url" else "ip",
        entity=LURE_URL if kind == "intel_url" else "198.51.100.7",
        event_id=event.event_id,
    )
    return DecisionEngine(default_policy()).decide(event, [signal])


def ring() -> RingSnapshot:
    """A small ring; one member id is hostile markup."""
    return RingSnapshot(
        ring_id=RING_ID,
        method="lockstep",
        size=3,
        risk=0.9,
        reasons=("3 accounts acting in lockstep",),
        founded=T0.timestamp(),
        updated=T0.timestamp() + 600,
        members=("alice", "bob", "<script>alert(1)</script>"),
        evidence=(("ip:192.0.2.1", 3), (f"url:{LURE_URL}", 2)),
        holdings={
            "alice": ("ip:192.0.2.1", f"url:{LURE_URL}"),
            "bob": ("ip:192.0.2.1",),
        },
    )


def fill_decisions(store: Any) -> list[Action]:
    """Write alerts for alice and bob, one allow verdict and enforced actions."""
    verdicts: list[Verdict] = []
    actions: list[Action] = []
    for i, account in enumerate(["alice", "alice", "bob", "bob"]):
        verdict, started = decided(i, account)
        verdicts.append(verdict)
        actions += [msgspec.structs.replace(a, mode="enforce") for a in started]
    lure, started = decided(10, "alice", kind="intel_url")
    verdicts.append(lure)
    actions += started
    allowed, _ = decided(20, "alice", kind="nothing_known", score=0.1)
    verdicts.append(allowed)
    store.write_verdicts(verdicts)
    store.write_actions(actions)
    return actions


@dataclass
class ApiWorld:
    """A served app, its stores and a token per role."""

    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    settings: ServeSettings
    actions: list[Action]

    def auth(self, role: str) -> dict[str, str]:
        """The header that signs a request in as ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def add_token(self, name: str, role: str = "analyst") -> str:
        """Add a token named ``name`` (someone a case can be given to)."""
        assert self.settings.tokens is not None
        return TokenFile(self.settings.tokens).add(name, role)


def make_tokens(path: Path) -> dict[str, str]:
    """One token per role in a fresh token file."""
    tokens = TokenFile(path)
    return {
        role: tokens.add(f"{role}-1", role) for role in ("viewer", "analyst", "admin")
    }


def serve_args(folder: Path) -> list[str]:
    """``trustwatch serve`` with its store, review store and tokens in ``folder``."""
    return [
        "serve",
        "--db",
        str(folder / "store.sqlite"),
        "--review-db",
        str(folder / "review.sqlite"),
        "--tokens",
        str(folder / "tokens.json"),
    ]
