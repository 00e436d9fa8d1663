"""The data card of a URL model: what it learned from, under which terms, how well.

:func:`render_card` turns a model's ``card`` dictionary (written by
``trustwatch url train``) into Markdown; the shipped model's card is
``default_model.md`` beside it, and a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any

from trustwatch.urlmodel.features import DENSE_FEATURES, NGRAM_SIZES
from trustwatch.urlmodel.model import UrlModel

__all__ = ["render_card"]

_INTENDED = """\
## Intended use

Scoring URLs shared on a file-sharing platform from the string alone: links
posted, link targets, URLs found in uploaded files. The score is a
probability calibrated on a held-out slice of the training sources, whose
classes are roughly balanced; on live traffic, where malicious links are
rare, treat it as a ranking and set thresholds from the evaluation's
false-positive rates, not from the probability alone.

## Limits
"""

_POPULAR_LISTS = "toplists"
_SYNTHETIC = "synthetic-paths"

_NOTHING_FETCHED = """\
- Nothing is fetched or resolved: a page's content and a domain's age are
  not seen.
"""


def _classes(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A source's rows and dates per class, from either card layout.

    Cards since per-class counting hold ``classes``; older ones (the shipped
    model's) hold one ``label`` with ``rows``, ``first`` and ``last``.
    """
    if isinstance(entry.get("classes"), dict):
        return dict(entry["classes"])
    kind = "malicious" if entry.get("label") == 1 else "benign"
    return {kind: {k: entry.get(k) for k in ("rows", "first", "last")}}


def _limits(sources: dict[str, Any]) -> str:
    """The limits section, from the sources the model was trained on."""
    per_class: dict[str, dict[str, dict[str, Any]]] = {"malicious": {}, "benign": {}}
    for name, entry in sources.items():
        for kind, counts in _classes(entry).items():
            per_class.setdefault(kind, {})[name] = counts
    benign = set(per_class["benign"])
    lines = []
    if benign and benign <= {_POPULAR_LISTS, _SYNTHETIC} and _POPULAR_LISTS in benign:
        lines.append(
            "- Benign training data is openly licensed popular-domain lists: home "
            "pages\n  only. "
            + (
                "Ordinary page addresses on those domains come from "
                "trustwatch's own\n  generator (`synthetic-paths`), so real benign "
                "paths are judged by a model\n  that has seen none; "
                if _SYNTHETIC in benign
                else "Ordinary page addresses were not trained on, so real "
                "benign paths\n  are judged by a model that has seen none; "
            )
            + "see the false-positive figures on real benign URLs in\n"
            "  `docs/evaluation.md`."
        )
    elif benign:
        lines.append(
            "- Benign training data: "
            + ", ".join(f"`{name}`" for name in sorted(benign))
            + ". The model knows benign URLs only as\n  these sources show them; "
            "check its false-positive rate on your own\n  benign traffic."
        )
    dates = [
        str(day)
        for counts in per_class["malicious"].values()
        for day in (counts.get("first"), counts.get("last"))
        if day
    ]
    advice = (
        "phishing kits change and so\n  does hosting. Retrain on your own "
        "labelled traffic with\n  `trustwatch url train --labelled FILE`."
    )
    if dates:
        first, last = min(dates)[:4], max(dates)[:4]
        span = first if first == last else f"{first} to {last}"
        lines.append(f"- The malicious sources date from {span}; {advice}")
    elif per_class["malicious"]:
        lines.append(f"- The malicious rows carry no dates; {advice}")
    return "\n".join(lines) + "\n" + _NOTHING_FETCHED


def render_card(model: UrlModel) -> str:
    """Return the model's data card as Markdown."""
    card: dict[str, Any] = model.card
    settings: dict[str, Any] = card.get("settings", {})
    lines = [
        f"# URL model: {card.get('name', 'unnamed')}",
        "",
        f"Trained {card.get('trained_at', 'at an unknown time')} with "
        f"`{card.get('command', 'trustwatch url train')}`.",
        "",
        "## Model",
        "",
        f"- Stage one: a logistic regression (stochastic gradient descent, L2 "
        f"penalty {settings.get('regularisation', '?')}, "
        f"{settings.get('epochs', '?')} epochs) over 2^{model.bits} hashed "
        f"character n-grams ({min(NGRAM_SIZES)} to {max(NGRAM_SIZES)} characters "
        "of host, path and query), fitted once per domain fold so that every "
        "training row's score comes from a model that never saw its domain.",
        f"- Stage two: {settings.get('trees', '?')} gradient-boosted trees "
        f"(LightGBM, {settings.get('leaves', '?')} leaves, learning rate "
        f"{settings.get('learning_rate', '?')}) over that score and "
        f"{len(DENSE_FEATURES)} named features: "
        + ", ".join(f.name for f in DENSE_FEATURES)
        + ".",
        "- Rows are weighted so that each class weighs the same and no one "
        "domain dominates (one over the square root of its row count).",
        f"- Platt scaling (a = {model.calibration[0]:.4f}, "
        f"b = {model.calibration[1]:.4f}) fitted on "
        f"{card.get('rows', {}).get('calibration', '?'):,} rows whose "
        "registrable domains were held out of training."
        if isinstance(card.get("rows", {}).get("calibration"), int)
        else "- Platt scaling fitted on a held-out domain slice.",
        "",
        "## Sources",
        "",
        "| source | label | rows | first | last | licence |",
        "|---|---|---|---|---|---|",
    ]
    sources: dict[str, Any] = card.get("sources", {})
    for name, entry in sorted(sources.items()):
        for label, counts in sorted(
            _classes(entry).items(), key=lambda item: item[0] != "malicious"
        ):
            lines.append(
                f"| {name} | {label} | {counts.get('rows') or 0:,} | "
                f"{counts.get('first') or '-'} | {counts.get('last') or '-'} | "
                f"{entry.get('licence', '')} |"
            )
    lines.append("")
    if card.get("host_pages"):
        lines.append(
            "Sources ending in `+host` are the home pages of the hosts behind "
            "that source's malicious URLs, labelled malicious, so that a bare "
            "home page does not read as safe."
        )
    if card.get("ordinary_paths"):
        lines.append(
            f"`synthetic-paths` holds {card['ordinary_paths']:,} page addresses "
            "on the benign domains, from trustwatch's own generator "
            "(`trustwatch.urlmodel.shapes`)."
        )
    lines.append("")
    only_open = card.get("open_licences_only")
    lines.append(
        "Only openly licensed sources were used."
        if only_open
        else "Some sources are not openly licensed: do not ship this model."
    )
    lines.append("")
    metrics = card.get("metrics")
    if metrics:
        lines += [
            "## Evaluation of this recipe",
            "",
            "| split | ROC AUC | TPR @ FPR 1e-2 | TPR @ FPR 1e-3 | TPR @ FPR 1e-4 |",
            "|---|---|---|---|---|",
        ]
        for split, values in metrics.items():
            tpr = values["tpr_at_fpr"]
            benign = values.get("test_benign")
            shown = [
                f"{tpr[key]:.1%}"
                if benign is None or benign * float(key) >= 1
                else f"n/a (needs ≥ {round(1 / float(key)):,} benign)"
                for key in ("0.01", "0.001", "0.0001")
            ]
            lines.append(
                f"| {split} | {values['roc_auc']:.4f} | " + " | ".join(shown) + " |"
            )
        lines += ["", str(card.get("metrics_note", "")).strip(), ""]
        held = metrics.get("held-out sources")
        if held:
            lines += [
                "On sources it never saw, the model ranks better than the rule "
                f"baseline overall (ROC AUC {held['roc_auc']:.3f}) but finds few "
                "of their URLs at low false-positive rates: the open sources do "
                "not look like today's phishing or like real benign pages. Keep the "
                "rules (`url_heuristics`) running beside it, and retrain on your "
                "own labelled traffic.",
                "",
            ]
    lines.append(_INTENDED)
    lines.append(_limits(sources))
    return "\n".join(lines)
