"""Small simulations shared by the simulation tests (built once per session)."""

from __future__ import annotations

import pytest

from trustwatch.simulation import Simulation, SimulationConfig, simulate

SMALL = SimulationConfig(seed=11, accounts=400, days=1.0)


@pytest.fixture(scope="session")
def small_config() -> SimulationConfig:
    """A one-day run of 400 accounts with every attack at its default scale."""
    return SMALL


@pytest.fixture(scope="session")
def small_sim(small_config: SimulationConfig) -> Simulation:
    """The events, truth and intel of :func:`small_config`."""
    return simulate(small_config)
