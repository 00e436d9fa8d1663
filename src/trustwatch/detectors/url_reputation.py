"""The ``url_reputation`` detector: the trained URL model on every link.

Each URL posted or linked is scored by a :class:`~trustwatch.urlmodel.UrlModel`
(the shipped one unless another is given) from its string alone; a score at
or above ``min_score`` raises a ``malicious_url`` signal whose score is the
model's calibrated probability and whose reasons are the features that drove
it. Scores are cached by canonical URL, so a link shared a thousand times is
scored once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.file_phishing import UrlScorer, heuristic_url_scorer
from trustwatch.detectors.registry import register
from trustwatch.enrichment.urls import ParsedUrl, load_suffix_list
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase, LinkCreated, UrlPosted
from trustwatch.features.context import EventContext
from trustwatch.urlmodel.model import Reason, UrlModel, load_default_model

__all__ = [
    "UrlReputationDetector",
    "file_link_scorer",
    "load_url_model",
    "model_url_scorer",
]

_CACHE_SIZE = 65_536
#: The most a link in a file scores on the URL model's word alone: a one-link
#: lure with lure words around it then scores 0.875, a review under the
#: shipped policy, not a quarantine (0.9).
MODEL_ALONE_CAP = 0.75
#: The rule baseline's score at which it backs the model's.
RULES_AGREE_AT = 0.5


def load_url_model(path: str | Path) -> UrlModel:
    """Load a model file once per process while it stays the same file.

    Each partition of a stream worker builds its own detectors; they share
    one loaded model, found again by path, size and modification time.

    Raises
    ------
    ConfigError
        When the file cannot be read or is not a URL model.
    """
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise ConfigError(
            f"cannot read URL model {path}: {exc.strerror}; hint: give a file "
            "written by `trustwatch url train`"
        ) from exc
    return _load_url_model(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4)
def _load_url_model(path: str, size: int, modified: int) -> UrlModel:
    del size, modified  # part of the cache key only
    return UrlModel.load(Path(path))


class _ScoreCache:
    """A bounded map from canonical URL to the model's score and reasons.

    Reasons (the costly part: one SHAP pass through the trees) are worked
    out only for URLs scoring at least ``explain_from``.
    """

    def __init__(
        self, model: UrlModel, explain_from: float = 0.0, size: int = _CACHE_SIZE
    ) -> None:
        self.model = model
        self.explain_from = explain_from
        self.size = size
        self._entries: OrderedDict[str, tuple[float, list[Reason]]] = OrderedDict()

    def explain(self, parsed: ParsedUrl) -> tuple[float, list[Reason]]:
        entry = self._entries.get(parsed.url)
        if entry is not None:
            self._entries.move_to_end(parsed.url)
            return entry
        model = self.model
        row = model.features([parsed])
        probability = float(model.probability(model.raw_scores_of(row))[0])
        if probability >= self.explain_from:
            entry = model.explain(parsed, row=row)
        else:
            entry = (probability, [])
        self._entries[parsed.url] = entry
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return entry


def model_url_scorer(model: UrlModel | None = None) -> UrlScorer:
    """Return a scorer ``(ParsedUrl) -> (probability, reasons)`` over ``model``.

    The result fits the ``scorer`` argument of
    :class:`~trustwatch.detectors.file_phishing.FilePhishingDetector`.
    """
    cache = _ScoreCache(model or load_default_model())

    def score(parsed: ParsedUrl) -> tuple[float, Sequence[str]]:
        probability, reasons = cache.explain(parsed)
        return probability, [reason.text for reason in reasons]

    return score


def file_link_scorer(model: UrlModel | None = None) -> UrlScorer:
    """Return the scorer of links found in files: the model, backed by the rules.

    The shipped model's probabilities run high on real benign pages with
    paths (``docs.python.org/3/tutorial/index.html`` scores 1.00), and a
    link in a file decides a quarantine (a one-link lure). So a link scores
    the model's probability where the rule baseline
    (:func:`~trustwatch.detectors.file_phishing.heuristic_url_scorer`) also
    finds it risky (:data:`RULES_AGREE_AT`); where the rules find little, the
    model alone lifts it at most to :data:`MODEL_ALONE_CAP`, so that a file
    is quarantined on the model's word only with other evidence (a password
    form posting off the platform, intel, YARA).

    Examples
    --------
    >>> from trustwatch.enrichment.urls import parse_url
    >>> score = file_link_scorer()
    >>> round(score(parse_url("https://docs.python.org/3/tutorial/index.html"))[0], 2)
    0.75
    >>> score(parse_url("http://198.51.100.7/paypal/signin/"))[0] > 0.95
    True
    """
    from_model = model_url_scorer(model)

    def score(parsed: ParsedUrl) -> tuple[float, Sequence[str]]:
        probability, reasons = from_model(parsed)
        rules, rule_reasons = heuristic_url_scorer(parsed)
        if rules >= RULES_AGREE_AT:
            return max(probability, rules), [*reasons, *rule_reasons]
        if probability <= MODEL_ALONE_CAP:
            return max(probability, rules), reasons
        held = (
            f"the URL model's {probability:.2f} held to {MODEL_ALONE_CAP:.2f}: "
            f"the rules find little ({rules:.2f})"
        )
        return max(MODEL_ALONE_CAP, rules), [held, *reasons]

    return score


@register
class UrlReputationDetector(Detector):
    """Score every URL posted or linked with the trained URL model.

    Parameters
    ----------
    min_score
        Probabilities below this raise no signal. The shipped model's
        probabilities are calibrated on its own (balanced, open) sources and
        run high on real benign pages, so the default keeps only the top of
        the range (the shipped policy reviews at 0.9995).
    platform_domains
        Registrable domains of the platform itself, whose links are not scored.
    model_path
        A model written by ``trustwatch url train``; the shipped model when
        ``None``.
    """

    name = "url_reputation"
    version = "1"
    event_types = frozenset({UrlPosted, LinkCreated})
    signal_kinds = ("malicious_url",)

    def __init__(
        self,
        min_score: float = 0.99,
        platform_domains: tuple[str, ...] = ("trustwatch.example",),
        model_path: str | None = None,
    ) -> None:
        self._params = {
            "min_score": min_score,
            "platform_domains": platform_domains,
            "model_path": model_path,
        }
        model = load_url_model(model_path) if model_path else load_default_model()
        self.model = model
        self.min_score = min_score
        self.platform_domains = frozenset(platform_domains)
        self._cache = _ScoreCache(model, explain_from=min_score)
        load_suffix_list()

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Score the event's URL, if it has one."""
        parsed = ctx.url()
        if parsed is None or parsed.registrable_domain in self.platform_domains:
            return ()
        probability, reasons = self._cache.explain(parsed)
        if probability < self.min_score:
            return ()
        return (
            self.signal(
                event,
                kind="malicious_url",
                score=probability,
                entity_type="url",
                entity=parsed.url,
                reasons=tuple(str(reason) for reason in reasons),
                evidence={
                    "host": parsed.host,
                    "model": self.model.card.get("name", ""),
                },
            ),
        )

    def get_state(self) -> dict[str, Any]:
        """Return an empty state: scores depend on the URL and the model alone."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Accept the empty state."""
