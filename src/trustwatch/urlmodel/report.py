"""Write URL evaluation results as JSON and as a Markdown table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from trustwatch.urlmodel.evaluation import FPR_TARGETS, SplitResult

__all__ = ["render_markdown", "to_json"]


def to_json(results: Sequence[SplitResult]) -> list[dict[str, Any]]:
    """Return the results as plain JSON-ready values (curves included)."""
    out = []
    for split in results:
        entry = asdict(split)
        for method in entry["methods"]:
            method["tpr_at_fpr"] = {
                f"{k:g}": v for k, v in method["tpr_at_fpr"].items()
            }
        out.append(entry)
    return out


def _supported(benign: int, fpr: float) -> bool:
    """Whether ``benign`` test URLs can measure a false-positive rate of ``fpr``.

    Below ``1 / fpr`` benign URLs one false positive already exceeds it, so
    the rate measured is really the true-positive rate at no false positive.
    """
    return benign * fpr >= 1


def _needs(fpr: float) -> str:
    return f"n/a (needs ≥ {round(1 / fpr):,} benign)"


def render_markdown(results: Sequence[SplitResult], *, rejected: int = 0) -> str:
    """Return one table per split: ROC AUC, average precision, TPR at each FPR.

    A TPR at an FPR the split's benign test URLs are too few to measure
    (fewer than ``1 / FPR``) is shown as ``n/a``, with the count it needs.
    """
    lines: list[str] = []
    for split in results:
        lines.append(f"### {split.name} split")
        lines.append("")
        lines.append(f"{split.description}.")
        lines.append(
            f"Training: {split.train_malicious:,} malicious, {split.train_benign:,} "
            f"benign. Test: {split.test_malicious:,} malicious, {split.test_benign:,} "
            f"benign ({split.test_benign_with_path:,} of them with a path)."
        )
        lines.append("")
        header = "| method | ROC AUC | avg. precision | " + " | ".join(
            f"TPR @ FPR {fpr:g}" for fpr in FPR_TARGETS
        )
        lines.append(header + " |")
        lines.append("|---" * (3 + len(FPR_TARGETS)) + "|")
        for method in split.methods:
            tprs = " | ".join(
                f"{method.tpr_at_fpr[fpr]:.1%}"
                if _supported(split.test_benign, fpr)
                else _needs(fpr)
                for fpr in FPR_TARGETS
            )
            lines.append(
                f"| {method.name} | {method.roc_auc:.4f} | "
                f"{method.average_precision:.4f} | {tprs} |"
            )
        lines.append("")
        recall = ", ".join(
            f"{source} {share:.1%} of {split.test_sources.get(source, 0):,}"
            for source, share in split.recall_by_source.items()
        )
        lines.append(f"Model recall at FPR 1e-3, by source: {recall}.")
        if not _supported(split.test_benign, 1e-3):
            lines.append(
                f"With {split.test_benign:,} benign test URLs, that threshold "
                "flags none of them: these are recalls at FPR 0, not 1e-3 "
                "(1,000 benign needed)."
            )
        if split.test_benign_with_path:
            share = split.path_benign_flagged / split.test_benign_with_path
            lines.append(
                f"At that threshold, {split.path_benign_flagged:,} of the "
                f"{split.test_benign_with_path:,} benign URLs with a path are flagged "
                f"({share:.2%}), on {split.path_benign_hosts_flagged} of their "
                f"{split.path_benign_hosts} hosts."
            )
        lines.append("")
    if rejected:
        lines.append(f"{rejected:,} labelled strings were not URLs and were left out.")
        lines.append("")
    return "\n".join(lines)
