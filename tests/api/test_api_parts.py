"""The API's parts on their own: per-thread stores, SVG pictures, settings."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import replace

import pytest
from tests.api.api_world import ring

from trustwatch.api.perthread import PerThread
from trustwatch.api.ring_svg import render_ring_svg
from trustwatch.api.settings import ServeSettings, is_loopback_host
from trustwatch.errors import ConfigError


class _Opened:
    def __init__(self, log: list[int]) -> None:
        self.thread = threading.get_ident()
        log.append(self.thread)
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_per_thread_opens_one_store_per_thread_and_closes_them() -> None:
    opened: list[int] = []
    stores = PerThread(lambda: _Opened(opened), "test store")
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(stores.thread))
    worker.start()
    worker.join()
    assert stores.thread == threading.get_ident()
    assert seen == [worker.ident] and len(opened) == 2
    first = stores.get()
    stores.close()
    assert first.closed
    assert stores.get() is not first


def test_ring_picture_is_deterministic_and_inert() -> None:
    drawn = render_ring_svg(ring())
    assert drawn == render_ring_svg(ring())
    root = ElementTree.fromstring(drawn)
    tags = {element.tag.split("}")[-1] for element in root.iter()}
    assert tags <= {"svg", "title", "rect", "line", "circle", "text"}
    assert "http" not in drawn.replace("http://www.w3.org/2000/svg", "")
    assert "ip #" in drawn


def test_ring_picture_of_a_large_ring_says_what_it_left_out() -> None:
    members = tuple(f"m{i}" for i in range(100))
    big = replace(ring(), size=100, members=members, holdings={})
    drawn = render_ring_svg(big)
    assert "60 of 100 members drawn" in drawn
    assert drawn.count("<circle") == 60 and "<text x=" in drawn


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:192.0.2.1", False),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.0.2.1", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts_are_recognised(host, loopback) -> None:
    assert is_loopback_host(host) is loopback


def test_settings_need_a_way_to_sign_in(tmp_path) -> None:
    with pytest.raises(ConfigError, match="token add"):
        ServeSettings(db="s.sqlite", review_db="r.sqlite")
    with pytest.raises(ConfigError, match="--review-db"):
        ServeSettings(db="s.sqlite", review_db=" ", tokens=tmp_path / "t.json")
