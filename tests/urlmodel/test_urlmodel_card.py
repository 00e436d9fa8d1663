"""The shipped model's data card is the one its card dictionary renders."""

from importlib import resources

from trustwatch.urlmodel.card import render_card
from trustwatch.urlmodel.corpus import SOURCES
from trustwatch.urlmodel.model import load_default_model


def test_shipped_card_matches_the_model():
    model = load_default_model()
    shipped = resources.files("trustwatch.urlmodel").joinpath("default_model.md")
    assert shipped.read_text(encoding="utf-8") == render_card(model)


def test_shipped_model_used_open_sources_only():
    model = load_default_model()
    open_sources = {s.name for s in SOURCES if s.open_licence}
    for name in model.card["sources"]:
        base = name.split("+", 1)[0]
        assert base in open_sources or base == "synthetic-paths", name
    assert model.card["open_licences_only"] is True
    text = render_card(model)
    assert "Only openly licensed sources were used." in text
    assert "held-out sources" in text
