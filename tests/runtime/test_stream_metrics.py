"""The stream worker's metrics endpoint: what it serves, and to whom."""

from __future__ import annotations

import http.client
import socket
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


def _raw_get(host: str, port: int, authorization: bytes | None = None) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.putrequest("GET", "/metrics")
        if authorization is not None:
            connection.putheader("Authorization", authorization)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_token_beyond_ascii_and_any_case_of_the_scheme_are_accepted() -> None:
    token = "pässwörd-トークン"
    server = MetricsServer(StreamMetrics().registry, "127.0.0.1", 0, token=token)
    try:
        statuses = [
            _raw_get("127.0.0.1", server.port, header)
            for header in (
                b"Bearer " + token.encode(),
                b"bearer " + token.encode(),
                b"BEARER  " + token.encode(),
                b"Bearer " + token.encode("latin-1", "replace"),
                b"Basic " + token.encode(),
                b"Bearer",
                token.encode(),
            )
        ]
    finally:
        server.close()
    assert statuses == [200, 200, 200, 401, 401, 401, 401]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this host has no ::1")
def test_metrics_are_served_on_ipv6_loopback() -> None:
    server = MetricsServer(StreamMetrics().registry, "::1", 0)
    try:
        assert _raw_get("::1", server.port) == 200
    finally:
        server.close()


def test_an_address_of_another_host_is_refused_with_its_own_hint() -> None:
    with pytest.raises(ConfigError, match="give an address of this host"):
        MetricsServer(StreamMetrics().registry, "192.0.2.10", 0, token="t")
