"""The records of an account-takeover evaluation, as Markdown and as JSON.

:class:`AtoEvaluation` holds, for each scorer (the login risk model, the
country-history rule) and each attacker kind, the share of attack logins
caught at each challenge budget and the ROC AUC, beside the counts that say
how much to trust them, the notes of the run and, when it ran, the SSH
stuffing evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trustwatch.evaluation.ato_metrics import Caught

__all__ = ["AtoEvaluation", "KindResult", "ScorerResult", "SshSection"]

MODEL = "model"
"""Name of the login risk model among the scorers."""

RULE = "country_rule"
"""Name of the country-history rule among the scorers."""

ALL_ATTACKS = "all"
"""The row that pools every attacker kind."""


@dataclass(frozen=True, slots=True)
class KindResult:
    """One scorer against one attacker kind.

    Attributes
    ----------
    kind
        The attacker kind (or ``"all"``).
    attacks
        Attack logins scored.
    roc_auc
        Area under the ROC curve against legitimate logins, or ``None``.
    caught
        What each challenge budget catches (``None`` without attacks).
    """

    kind: str
    attacks: int
    roc_auc: float | None
    caught: tuple[Caught | None, ...]


@dataclass(frozen=True, slots=True)
class ScorerResult:
    """How one scorer did, and what it cost.

    Attributes
    ----------
    name
        ``"model"`` or ``"country_rule"`` (or a caller's own name).
    kinds
        One result per attacker kind, then ``"all"``.
    seconds
        Time spent in the scorer over every login of the stream.
    logins
        Logins the scorer saw (measured or not).
    """

    name: str
    kinds: tuple[KindResult, ...]
    seconds: float
    logins: int

    def kind(self, kind: str) -> KindResult:
        """Return the result for ``kind``.

        Raises
        ------
        KeyError
            When the scorer has no result for ``kind``.
        """
        for result in self.kinds:
            if result.kind == kind:
                return result
        raise KeyError(kind)


@dataclass(frozen=True, slots=True)
class SshSection:
    """The SSH stuffing evaluation, or why it did not run."""

    result: Mapping[str, Any] | None = None
    text: str | None = None
    skipped: str | None = None


@dataclass(frozen=True)
class AtoEvaluation:
    """An account-takeover evaluation of login scorers on one login stream.

    Attributes
    ----------
    source
        What the logins are, in words.
    settings
        The parameters of the run (seed, accounts, days, file...).
    challenge_rates
        The budgets, as shares of legitimate logins.
    kinds
        The attacker kinds, in report order.
    legit
        Legitimate successful logins measured.
    logins
        Logins in the stream, failed ones and the warm-up included.
    scorers
        One result per scorer.
    notes
        What the reader must know (a scorer missing, late events...).
    profile
        What the legitimate logins look like (per-account figures).
    dead_letters
        Unreadable rows by reason (file input only).
    dead_letter_examples
        The first unreadable rows, each with its location, reason and message.
    ssh
        The credential-attack evaluation on real SSH logs, or why it was skipped.
    """

    source: str
    settings: Mapping[str, Any]
    challenge_rates: tuple[float, ...]
    kinds: tuple[str, ...]
    legit: int
    logins: int
    scorers: tuple[ScorerResult, ...]
    notes: tuple[str, ...] = ()
    profile: Mapping[str, Any] = field(default_factory=dict)
    dead_letters: Mapping[str, int] = field(default_factory=dict)
    dead_letter_examples: tuple[Mapping[str, str], ...] = ()
    ssh: SshSection = field(default_factory=SshSection)

    def scorer(self, name: str) -> ScorerResult | None:
        """Return the result of the scorer called ``name``, if it ran."""
        return next((s for s in self.scorers if s.name == name), None)

    def unmeasured(self) -> str | None:
        """Say why no figure could be measured, or return ``None`` when some were.

        A figure needs legitimate successful logins (they set the challenge
        threshold) and attack logins (what the threshold catches).
        """
        if not self.scorers:
            return "no scorer ran"
        attacks = self.scorers[0].kind(ALL_ATTACKS).attacks
        if self.legit == 0:
            return (
                "no legitimate successful login was measured (they set the "
                f"challenge threshold); attack logins measured: {attacks:,}"
            )
        if attacks == 0:
            return (
                f"no attack login was measured (only {self.legit:,} legitimate "
                "successful logins)"
            )
        return None

    def ratio(self, kind: str, budget: int) -> float | None:
        """Return the model's catch over the rule's for ``kind`` at a budget.

        ``budget`` indexes :attr:`challenge_rates`. ``None`` when either did
        not run, or the rule caught nothing (no finite ratio).
        """
        model, rule = self.scorer(MODEL), self.scorer(RULE)
        if model is None or rule is None:
            return None
        ours = model.kind(kind).caught[budget]
        theirs = rule.kind(kind).caught[budget]
        if ours is None or theirs is None or theirs.caught <= 0.0:
            return None
        return ours.caught / theirs.caught

    def render(self) -> str:
        """Return the evaluation as a Markdown report."""
        lines = [f"# Account takeover: {self.source}", ""]
        lines.extend(_settings_lines(self.settings))
        lines += [
            "",
            f"{self.logins:,} logins; {self.legit:,} legitimate successful logins "
            "measured. A challenge budget is the share of those that get "
            "challenged; a tie at the threshold counts in proportion to the "
            "budget left for it.",
            "",
        ]
        lines.extend(self._table())
        lines.extend(self._speed())
        if self.notes:
            lines += ["", "Notes:", ""]
            lines.extend(f"- {note}" for note in self.notes)
        if self.profile:
            lines += ["", "## Legitimate logins", ""]
            lines.extend(f"- {key}: {value}" for key, value in self.profile.items())
        if self.dead_letters:
            lines += ["", "## Unreadable rows", ""]
            lines.extend(f"- {r}: {n:,}" for r, n in sorted(self.dead_letters.items()))
            if self.dead_letter_examples:
                lines += ["", "The first of them:", ""]
                lines.extend(
                    f"- {d['location']} ({d['reason']}): {d['message']}"
                    for d in self.dead_letter_examples
                )
        lines.append("")
        if self.ssh.text is not None:
            lines.append(self.ssh.text.rstrip())
        else:
            lines += [
                "## Credential-attack detector on real SSH logins",
                "",
                f"Skipped: {self.ssh.skipped}.",
            ]
        return "\n".join(lines) + "\n"

    def _table(self) -> list[str]:
        rates = [f"{rate:.0%}" for rate in self.challenge_rates]
        header = ["attacker", "attack logins"]
        for rate in rates:
            header += [f"model @{rate}", f"rule @{rate}", f"model/rule @{rate}"]
        header += ["model AUC", "rule AUC"]
        rows = [header, ["---"] * len(header)]
        model, rule = self.scorer(MODEL), self.scorer(RULE)
        counted = model or rule
        for kind in (*self.kinds, ALL_ATTACKS):
            attacks = counted.kind(kind).attacks if counted is not None else 0
            row = [kind, f"{attacks:,}"]
            for budget in range(len(self.challenge_rates)):
                row += [
                    _share(model, kind, budget),
                    _share(rule, kind, budget),
                    _ratio(self.ratio(kind, budget)),
                ]
            row += [_auc(model, kind), _auc(rule, kind)]
            rows.append(row)
        return ["| " + " | ".join(row) + " |" for row in rows]

    def _speed(self) -> list[str]:
        lines = [""]
        for result in self.scorers:
            if result.logins and result.seconds > 0.0:
                per = result.seconds / result.logins * 1e6
                lines.append(
                    f"- {result.name}: {per:,.1f} µs per login "
                    f"({result.logins / result.seconds:,.0f} logins/s, one core)"
                )
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Return the evaluation as JSON-ready values."""
        return {
            "source": self.source,
            "settings": dict(self.settings),
            "challenge_rates": list(self.challenge_rates),
            "kinds": list(self.kinds),
            "logins": self.logins,
            "legit": self.legit,
            "scorers": [_scorer_dict(s) for s in self.scorers],
            "model_over_rule": {
                kind: {
                    f"{rate:g}": self.ratio(kind, i)
                    for i, rate in enumerate(self.challenge_rates)
                }
                for kind in (*self.kinds, ALL_ATTACKS)
            },
            "notes": list(self.notes),
            "profile": dict(self.profile),
            "dead_letters": dict(self.dead_letters),
            "dead_letter_examples": [dict(d) for d in self.dead_letter_examples],
            "ssh": {
                "result": dict(self.ssh.result) if self.ssh.result else None,
                "skipped": self.ssh.skipped,
            },
        }


def _settings_lines(settings: Mapping[str, Any]) -> Sequence[str]:
    return [", ".join(f"{key} {value}" for key, value in settings.items())]


def _share(result: ScorerResult | None, kind: str, budget: int) -> str:
    if result is None:
        return "n/a"
    caught = result.kind(kind).caught[budget]
    return "n/a" if caught is None else f"{caught.caught:.1%}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def _auc(result: ScorerResult | None, kind: str) -> str:
    if result is None:
        return "n/a"
    auc = result.kind(kind).roc_auc
    return "n/a" if auc is None else f"{auc:.3f}"


def _scorer_dict(result: ScorerResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "seconds": result.seconds,
        "logins": result.logins,
        "kinds": [
            {
                "kind": kind.kind,
                "attacks": kind.attacks,
                "roc_auc": kind.roc_auc,
                "caught": [
                    None
                    if caught is None
                    else {
                        "challenge_rate": caught.challenge_rate,
                        "threshold": caught.threshold,
                        "tied_share": caught.tied_share,
                        "caught": caught.caught,
                        "caught_strictly": caught.caught_strictly,
                    }
                    for caught in kind.caught
                ],
            }
            for kind in result.kinds
        ],
    }
