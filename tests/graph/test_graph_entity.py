"""The entity graph: attributes, hub weights, bounded memory and checkpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from trustwatch.errors import ConfigError
from trustwatch.events.model import (
    AccountCreated,
    FileShared,
    FileUploaded,
    Login,
    UrlPosted,
)
from trustwatch.graph import EntityGraph, email_shape, event_attributes

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def upload(account: str, sha: str, minutes: float, ip: str = "203.0.113.5"):
    return FileUploaded(
        event_id=f"u-{account}-{sha}-{minutes}",
        ts=T0 + timedelta(minutes=minutes),
        account=account,
        ip=ip,
        file_id=f"f-{account}",
        sha256=sha,
    )


def test_graph_attributes_name_what_an_event_shares() -> None:
    created = AccountCreated(
        event_id="c1",
        ts=T0,
        account="a1",
        ip="198.51.100.23",
        user_agent="UA/1",
        device_id="dev-9",
        email="jsmith84@example.org",
    )
    attributes = event_attributes(created, signup_bucket=600)
    kinds = sorted(a.split(":", 1)[0] for a in attributes)
    assert kinds == ["device", "email", "ip", "net", "signup", "uaip"]
    assert "net:198.51.100.0/24" in attributes
    assert f"signup:{int(T0.timestamp() // 600)}" in attributes
    shared = FileShared(
        event_id="s1", ts=T0, account="a1", file_id="f", recipients=("B@x.org", " ")
    )
    assert event_attributes(shared) == ["recipient:b@x.org"]
    assert event_attributes(Login(event_id="l", ts=T0, success=True)) == []
    # a value that is no address is not a network
    bad = Login(event_id="l2", ts=T0, account="a", ip="localhost", success=True)
    assert event_attributes(bad) == []


def test_graph_email_shape_groups_generated_addresses() -> None:
    assert email_shape("jsmith84@Example.org") == "a6.9x2@example.org"
    assert email_shape("kjones17@example.org") == email_shape("jsmith84@example.org")
    assert email_shape("john.smith@example.org") != email_shape("jsmith84@example.org")
    assert email_shape("not-an-address") == ""
    assert email_shape("@example.org") == ""


def test_graph_links_accounts_only_within_the_lockstep_window() -> None:
    graph = EntityGraph(lockstep_window=600)
    sha = "ab" * 32
    assert graph.add_event(upload("a", sha, 0)) == []
    assert graph.add_event(upload("b", sha, 5)) == ["a"]
    # c uses the same file two hours later: shares it, but not in lockstep
    assert graph.add_event(upload("c", sha, 120, ip="192.0.2.1")) == []
    together = graph.pair("a", "b")
    assert f"file:{sha}" in together.attributes
    assert {"content", "network"} <= together.groups
    assert graph.pair("a", "c").score == 0.0
    assert list(graph.partners("a")) == ["b"]
    assert list(graph.partners("c")) == []
    assert graph.attribute_size(f"file:{sha}") == 3


def test_graph_hub_attribute_weighs_less_as_it_grows_then_stops_linking() -> None:
    graph = EntityGraph(hub_size=10)
    url = "https://popular.example/video"
    weights = []
    for i in range(12):
        event = UrlPosted(
            event_id=f"p{i}", ts=T0 + timedelta(seconds=i), account=f"acct{i}", url=url
        )
        partners = graph.add_event(event)
        weights.append(graph.attribute_weight(f"url:{url}"))
        if i >= 10:
            assert partners == [], "a hub must stop linking"
    assert weights[1] > weights[5] > weights[9] > 0.0
    assert graph.is_hub(f"url:{url}")
    assert weights[-1] == 0.0
    assert graph.members(f"url:{url}") == []
    # pairs linked before it became a hub lose its weight too
    assert graph.pair("acct0", "acct1").score == 0.0


def test_graph_state_is_bounded() -> None:
    graph = EntityGraph(
        hub_size=5,
        max_accounts=50,
        max_attributes=80,
        max_pairs=40,
        max_attributes_per_account=3,
    )
    for i in range(2000):
        graph.add_event(
            upload(
                f"acct{i % 400}",
                f"{i % 97:064x}",
                i / 10,
                ip=f"203.0.{i % 7}.{i % 200}",
            )
        )
    sizes = graph.sizes()
    assert sizes["accounts"] <= 50
    assert sizes["attributes"] <= 80
    assert sizes["hubs"] <= 80
    assert sizes["pairs"] <= 40
    assert all(len(graph.attributes(f"acct{i}")) <= 3 for i in range(400))


def test_graph_state_round_trips_through_json() -> None:
    graph = EntityGraph(hub_size=4)
    events = [upload(f"a{i % 6}", f"{i % 3:064x}", i) for i in range(30)]
    for event in events[:15]:
        graph.add_event(event)
    restored = EntityGraph(hub_size=4)
    restored.set_state(json.loads(json.dumps(graph.get_state())))
    assert restored.get_state() == graph.get_state()
    for event in events[15:]:
        assert restored.add_event(event) == graph.add_event(event)
    assert restored.get_state() == graph.get_state()
    with pytest.raises((KeyError, TypeError, ValueError)):
        restored.set_state({"members": [["x", "not a mapping"]], "hubs": []})


@pytest.mark.parametrize(
    "params",
    [
        {"hub_size": 1},
        {"lockstep_window": 0},
        {"retention": 10, "lockstep_window": 100},
        {"max_pairs": 0},
    ],
)
def test_graph_rejects_bad_parameters(params: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        EntityGraph(**params)  # type: ignore[arg-type]
