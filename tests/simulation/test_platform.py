"""The simulated stream: order, ids, determinism, schema and files."""

from __future__ import annotations

import dataclasses
import inspect
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from trustwatch.errors import ConfigError
from trustwatch.events import Event, UrlPosted
from trustwatch.simulation import (
    ALL_ATTACKS,
    BruteForceScale,
    GroundTruth,
    Simulation,
    SimulationConfig,
    iter_events,
    simulate,
    write_simulation,
)


def test_same_seed_gives_the_same_run(
    small_sim: Simulation, small_config: SimulationConfig
) -> None:
    again = simulate(small_config)
    assert again.events == small_sim.events
    assert again.truth == small_sim.truth
    assert again.intel == small_sim.intel


def test_another_seed_gives_another_run(
    small_sim: Simulation, small_config: SimulationConfig
) -> None:
    other = simulate(dataclasses.replace(small_config, seed=12))
    assert [e.ip for e in other.events[:50]] != [e.ip for e in small_sim.events[:50]]


def test_events_are_sorted_by_timestamp(small_sim: Simulation) -> None:
    stamps = [e.ts for e in small_sim.events]
    assert stamps == sorted(stamps)


def test_event_ids_are_unique(small_sim: Simulation) -> None:
    ids = [e.event_id for e in small_sim.events]
    assert len(set(ids)) == len(ids)


def test_events_lie_inside_the_run(
    small_sim: Simulation, small_config: SimulationConfig
) -> None:
    start = small_config.start
    end = start + timedelta(days=small_config.days)
    assert all(start <= e.ts < end for e in small_sim.events)


def test_every_event_round_trips_through_the_event_union(
    small_sim: Simulation,
) -> None:
    encoded = msgspec.json.encode(small_sim.events)
    decoded = msgspec.json.decode(encoded, type=list[Event])
    assert decoded == small_sim.events


def test_every_event_type_but_a_few_rare_ones_occurs(small_sim: Simulation) -> None:
    kinds = {type(e).__name__ for e in small_sim.events}
    expected = {
        "Login",
        "Logout",
        "FileUploaded",
        "FileShared",
        "LinkCreated",
        "LinkAccessed",
        "FileDownloaded",
        "UrlPosted",
        "AccountCreated",
    }
    assert expected <= kinds


def test_iter_events_yields_what_simulate_returns(
    small_sim: Simulation, small_config: SimulationConfig
) -> None:
    stream = iter_events(small_config)
    assert inspect.isgenerator(stream)
    assert list(stream) == small_sim.events


def test_truth_event_ids_exist_in_the_stream(small_sim: Simulation) -> None:
    ids = {e.event_id for e in small_sim.events}
    for attack in small_sim.truth.attacks.values():
        assert attack.event_ids, attack.attack
        assert set(attack.event_ids) <= ids


def test_every_default_attack_is_in_the_truth(small_sim: Simulation) -> None:
    assert sorted(small_sim.truth.attacks) == sorted(ALL_ATTACKS)


def test_attacks_can_be_left_out(small_config: SimulationConfig) -> None:
    quiet = simulate(dataclasses.replace(small_config, days=0.25, attacks=()))
    assert quiet.truth.attacks == {}
    assert quiet.truth.malicious_event_ids() == frozenset()
    assert len(quiet.intel) == small_config.intel_decoys


def test_benign_posts_never_carry_a_malicious_url(small_sim: Simulation) -> None:
    bad_ids = small_sim.truth.malicious_event_ids()
    bad_urls = small_sim.truth.malicious_urls()
    benign = {
        e.url
        for e in small_sim.events
        if isinstance(e, UrlPosted) and e.event_id not in bad_ids
    }
    assert benign
    assert not benign & bad_urls


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"accounts": 3}, "accounts"),
        ({"days": 0.0}, "days"),
        ({"start": datetime(2026, 11, 2)}, "start"),
        ({"attacks": ("brute_force", "ddos")}, "ddos"),
        ({"attacks": ("brute_force", "brute_force")}, "twice"),
        ({"brute_force": BruteForceScale(attempts=(9, 3))}, "brute_force.attempts"),
        ({"brute_force": BruteForceScale(success_rate=1.5)}, "success_rate"),
    ],
)
def test_config_rejects_bad_values_naming_them(
    change: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError, match=field):
        SimulationConfig(**change)  # type: ignore[arg-type]


def test_start_may_be_in_any_timezone() -> None:
    plus_two = timezone(timedelta(hours=2))
    config = SimulationConfig(
        accounts=50,
        days=0.1,
        attacks=(),
        start=datetime(2026, 11, 2, 2, tzinfo=plus_two),
    )
    first = next(iter_events(config))
    assert first.ts >= datetime(2026, 11, 2, tzinfo=UTC)


def test_write_simulation_writes_readable_files(
    small_sim: Simulation, tmp_path: Path, small_config: SimulationConfig
) -> None:
    paths = write_simulation(small_sim, tmp_path / "out")

    decoder = msgspec.json.Decoder(Event)
    lines = paths.events.read_bytes().splitlines()
    assert [decoder.decode(line) for line in lines] == small_sim.events
    assert paths.intel.read_text("utf-8").splitlines() == small_sim.intel
    truth = msgspec.json.decode(paths.truth.read_bytes(), type=GroundTruth)
    assert truth == small_sim.truth
    assert json.loads(paths.truth.read_text("utf-8"))["seed"] == small_config.seed
