"""The stream worker's metrics endpoint: what it serves, and to whom."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from trustwatch.errors import ConfigError
from trustwatch.runtime.stream.metrics import MetricsServer, StreamMetrics


def _get(
    port: int, path: str = "/metrics", token: str | None = None
) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_are_served_in_prometheus_text() -> None:
    metrics = StreamMetrics()
    metrics.events_in.labels("events").inc(7)
    metrics.add_detector_seconds({"rings": 0.25, "login_risk": 0.0})
    server = MetricsServer(metrics.registry, "127.0.0.1", 0)
    try:
        status, text = _get(server.port)
        missing, _ = _get(server.port, "/other")
    finally:
        server.close()
    assert status == 200
    assert 'trustwatch_events_in_total{topic="events"} 7.0' in text
    assert 'trustwatch_detector_seconds_total{detector="rings"} 0.25' in text
    assert 'detector="login_risk"' not in text  # no time spent, no series
    assert missing == 404


def test_a_token_is_required_once_one_is_set() -> None:
    server = MetricsServer(StreamMetrics().registry, "127.0.0.1", 0, token="s3cret")
    try:
        without, _ = _get(server.port)
        wrong, _ = _get(server.port, token="guess")
        right, text = _get(server.port, token="s3cret")
    finally:
        server.close()
    assert (without, wrong, right) == (401, 401, 200)
    assert "trustwatch_assigned_partitions" in text


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_other_addresses_than_loopback_need_a_token(host: str) -> None:
    with pytest.raises(ConfigError, match="TRUSTWATCH_METRICS_TOKEN"):
        MetricsServer(StreamMetrics().registry, host, 0)
