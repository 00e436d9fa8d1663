"""The detector registry: names to classes, so configurations can name them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from trustwatch.detectors.base import Detector
from trustwatch.errors import ConfigError

__all__ = ["available", "create", "known_signal_kinds", "register"]

_REGISTRY: dict[str, type[Detector]] = {}

D = TypeVar("D", bound=type[Detector])


def register(cls: D) -> D:
    """Register a detector class under its ``name`` (a class decorator)."""
    name = getattr(cls, "name", None)
    if not name:
        raise ConfigError(f"detector class {cls.__qualname__} has no name")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ConfigError(f"two detectors are registered as {name!r}")
    _REGISTRY[name] = cls
    return cls


def available() -> dict[str, type[Detector]]:
    """Return the registered detector classes by name."""
    return dict(sorted(_REGISTRY.items()))


def create(name: str, **params: Any) -> Detector:
    """Build the detector registered as ``name`` with ``params``."""
    try:
        cls: Callable[..., Detector] = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(f"no detector named {name!r}; known: {known}") from None
    return cls(**params)


def known_signal_kinds() -> set[str]:
    """Return every signal kind a registered detector can raise."""
    return {kind for cls in _REGISTRY.values() for kind in cls.signal_kinds}
