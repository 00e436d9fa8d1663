"""The package layout is a contract: dependencies point one way."""

from pathlib import Path

import pytest
from importlinter.cli import lint_imports

import trustwatch

ROOT = Path(__file__).resolve().parents[1]


def test_layers_point_one_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True) == 0


def test_top_level_public_api_is_pinned() -> None:
    assert trustwatch.__all__ == ["TrustwatchError", "__version__"]
    assert isinstance(trustwatch.__version__, str)


def test_every_package_declares_its_public_names() -> None:
    packages = sorted(p.parent for p in (ROOT / "src/trustwatch").glob("*/__init__.py"))
    assert packages
    for package in packages:
        text = (package / "__init__.py").read_text()
        assert "__all__" in text, f"{package.name} has no __all__"
