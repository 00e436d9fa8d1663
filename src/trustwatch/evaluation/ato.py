"""``trustwatch evaluate ato``: login risk against the country-history rule.

One pass over a login stream in time order scores every login with each
scorer, side by side: the login risk model
(``trustwatch.detectors.login_risk.LoginRiskDetector``) and
:class:`CountryHistoryRule`, the rule most teams run (challenge a login whose
country the account has never logged in from). Every scorer sees every login,
failed ones included, and learns as it goes; only successful logins are
measured (a challenge follows a correct password), and only after the warm-up.
For each attacker kind the report gives the share of attack logins caught when
1% and 5% of legitimate logins are challenged (ties split honestly, see
:mod:`trustwatch.evaluation.ato_metrics`), the ROC AUC, and the model's catch
over the rule's. Freeman et al. ("Who Are You? A Statistical Approach to
Measuring User Authenticity", NDSS 2016) report blocking 70% more attacker
logins than that rule, a ratio of 1.7.

Streams: the shipped simulator (:mod:`trustwatch.simulation.logins`), or the
RBA dataset's CSV (:mod:`trustwatch.events.rba`), whose rows carry their own
geolocation (:class:`~trustwatch.enrichment.recorded_geo.RecordedGeo`). When a
datasets folder is given, the report also carries the credential-attack detector's
precision and recall on real SSH logs (``trustwatch.evaluation.ssh``).
"""

from __future__ import annotations

import logging
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from trustwatch.detectors.login_risk import LoginRiskDetector
from trustwatch.enrichment.geo import BundledGeo, GeoInfo, GeoResolver
from trustwatch.enrichment.recorded_geo import RecordedGeo
from trustwatch.errors import ConfigError, InvalidEventError, TrustwatchError
from trustwatch.evaluation.ato_metrics import caught_at, roc_auc
from trustwatch.evaluation.ato_report import (
    ALL_ATTACKS,
    MODEL,
    RULE,
    AtoEvaluation,
    KindResult,
    ScorerResult,
    SshSection,
)
from trustwatch.evaluation.ssh import evaluate_ssh
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import Login
from trustwatch.events.rba import read_rba
from trustwatch.features.context import EventContext
from trustwatch.features.windows import LruDict
from trustwatch.simulation.logins import (
    ATTACK_KINDS,
    LoginSimulationConfig,
    iter_logins,
)

__all__ = [
    "CHALLENGE_RATES",
    "RBA_KINDS",
    "CountryHistoryRule",
    "LoginScorer",
    "RiskAssessment",
    "RuleAssessment",
    "default_scorers",
    "evaluate_logins",
    "evaluate_rba",
    "evaluate_simulation",
    "ssh_section",
]

logger = logging.getLogger(__name__)

CHALLENGE_RATES: tuple[float, ...] = (0.01, 0.05)
"""The challenge budgets reported: 1% and 5% of legitimate logins."""

RBA_KINDS: tuple[str, ...] = ("account_takeover", "attack_ip")
"""The attack truths of the RBA dataset (see ``RbaLogin.truth``), as kinds."""

_LEGIT = "legit"
_PROGRESS_EVERY = 5000
_FAR_APART_S = 30 * 86_400.0  # logins this far out of the stream's order are named
_PROFILED_ACCOUNTS = 200_000


class RiskAssessment(Protocol):
    """What a scorer says about a login: at least a score in ``[0, 1]``."""

    @property
    def score(self) -> float:
        """Risk of the login, higher is riskier."""
        ...


class LoginScorer(Protocol):
    """Scores a login and learns from it, in stream order."""

    def assess(self, event: Login, ctx: EventContext) -> RiskAssessment:
        """Return the login's risk, then learn from the login."""
        ...


@dataclass(frozen=True, slots=True)
class RuleAssessment:
    """The country rule's answer: 1 for a new country, else 0, and why."""

    score: float
    reasons: tuple[str, ...] = ()


class CountryHistoryRule:
    """Challenge a login from a country the account has never logged in from.

    The baseline of Freeman et al. (NDSS 2016). An account's countries are
    those of its successful logins (an attacker's failed guesses teach it
    nothing); an account with no successful login yet has none, so its first
    login is new. A login whose country is unknown does not fire: the rule
    has nothing to compare.

    Parameters
    ----------
    max_accounts
        Accounts remembered; the least recently seen is forgotten first.
    max_countries
        Countries remembered per account.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from trustwatch.enrichment.recorded_geo import RecordedGeo
    >>> geo = RecordedGeo()
    >>> geo.record("192.0.2.1", GeoInfo("DE", None, None))
    >>> login = Login(event_id="e1", ts=datetime(2025, 1, 1, tzinfo=UTC),
    ...               account="a", ip="192.0.2.1", success=True)
    >>> rule = CountryHistoryRule()
    >>> [rule.assess(login, EventContext(login, geo)).score for _ in range(2)]
    [1.0, 0.0]
    """

    def __init__(self, max_accounts: int = 5_000_000, max_countries: int = 64) -> None:
        if max_accounts < 1 or max_countries < 1:
            raise ConfigError("max_accounts and max_countries must be at least 1")
        self._max_countries = max_countries
        # A tuple per account: a few dozen bytes for the usual one or two.
        self._countries: LruDict[str, tuple[str, ...]] = LruDict(max_accounts)

    def assess(self, event: Login, ctx: EventContext) -> RuleAssessment:
        """Return 1 when the login's country is new for its account, else 0."""
        info = ctx.location()
        country = info.country if info is not None else None
        account = event.account or event.username
        if country is None or not account:
            return RuleAssessment(0.0)
        seen = self._countries.get(account) or ()
        new = country not in seen
        if event.success:
            self._learn(account, seen, country)
        if new:
            return RuleAssessment(1.0, (f"new country {country} for this account",))
        return RuleAssessment(0.0)

    def _learn(self, account: str, seen: tuple[str, ...], country: str) -> None:
        if country not in seen and len(seen) < self._max_countries:
            seen = (*seen, country)
        self._countries.put(account, seen)  # most recently seen last


def default_scorers() -> tuple[dict[str, LoginScorer], tuple[str, ...]]:
    """Return the login risk model and the country rule, with a note.

    The rule remembers as many accounts as the model does, so that neither
    wins by memory alone.
    """
    model = LoginRiskDetector()
    bound = int(model.get_params()["max_accounts"])
    scorers: dict[str, LoginScorer] = {
        MODEL: model,
        RULE: CountryHistoryRule(max_accounts=bound),
    }
    return scorers, (f"model and rule each remember at most {bound:,} accounts",)


def ssh_section(datasets: Path | None, geo: GeoResolver | None = None) -> SshSection:
    """Run the SSH stuffing evaluation on ``datasets``, or say why it cannot run.

    ``geo`` keys networks by AS there, as ``trustwatch run`` does (the bundled
    data by default).
    """
    if datasets is None:
        return SshSection(skipped="no datasets folder given (--datasets)")
    if not datasets.is_dir():
        raise ConfigError(
            f"the datasets folder {datasets} is absent; hint: point --datasets at "
            "the folder holding loghub-auth and honeypot-auth-uqo"
        )
    try:
        result = evaluate_ssh(datasets, geo=geo if geo is not None else BundledGeo())
    except TrustwatchError as exc:
        raise ConfigError(
            f"the SSH evaluation cannot run on {datasets}: {exc}; hint: point "
            "--datasets at the folder holding loghub-auth and honeypot-auth-uqo"
        ) from exc
    return SshSection(result=result.to_dict(), text=result.render("markdown"))


def evaluate_simulation(
    config: LoginSimulationConfig | None = None,
    *,
    scorers: Mapping[str, LoginScorer] | None = None,
    datasets: Path | None = None,
    geo: GeoResolver | None = None,
    challenge_rates: Sequence[float] = CHALLENGE_RATES,
    progress: Callable[[int], None] | None = None,
) -> AtoEvaluation:
    """Evaluate the scorers on the shipped login simulator.

    Parameters
    ----------
    config
        The simulation; its defaults otherwise.
    scorers
        Named scorers; :func:`default_scorers` otherwise.
    datasets
        A shared datasets folder for the SSH section (skipped without it).
    geo
        Resolver of source addresses; the bundled GeoIP data otherwise.
    challenge_rates
        The challenge budgets.
    progress
        Called with the number of logins done, now and then.
    """
    config = config or LoginSimulationConfig()
    chosen, notes = _scorers(scorers)
    stream = ((item.event, item.truth) for item in iter_logins(config))
    settings = {
        "seed": config.seed,
        "accounts": config.accounts,
        "days": config.days,
        "warm-up days": config.warmup_days,
    }
    notes += (
        "simulated logins (trustwatch.simulation.logins: figures and assumptions "
        "in its docstring); attacks and measurement start after the warm-up",
    )
    result = evaluate_logins(
        stream,
        chosen,
        geo=geo if geo is not None else BundledGeo(),
        kinds=ATTACK_KINDS,
        measure_from=config.measure_start.timestamp(),
        source="simulated logins",
        settings=settings,
        challenge_rates=challenge_rates,
        notes=notes,
        progress=progress,
    )
    return replace(result, ssh=ssh_section(datasets, geo))


def evaluate_rba(
    path: Path,
    *,
    tz: str = "UTC",
    limit: int | None = None,
    scorers: Mapping[str, LoginScorer] | None = None,
    datasets: Path | None = None,
    challenge_rates: Sequence[float] = CHALLENGE_RATES,
    progress: Callable[[int], None] | None = None,
    max_addresses: int = 1_000_000,
) -> AtoEvaluation:
    """Evaluate the scorers on an RBA dataset CSV file, with the rows' own geo.

    Every row is scored in file order (the dataset is in time order); rows
    labelled takeover or attack address are the attacks, the others are
    legitimate. Unreadable rows are counted by reason; when the data breaks
    off (a gzip file cut short), the report's notes say where, and that the
    figures cover the rows before it.

    Parameters
    ----------
    path
        The CSV file (gzip-compressed too).
    tz
        Zone the file's timestamps are read in.
    limit
        Read at most this many logins.
    scorers, datasets, challenge_rates, progress
        As for :func:`evaluate_simulation`.
    max_addresses
        Addresses whose recorded location is kept.

    Raises
    ------
    ConfigError
        When ``path`` is not a file, ``tz`` is unknown or ``limit`` is below 1.
    InvalidEventError
        When the file is not an RBA dataset CSV, or no row of it can be read
        (the message counts the unreadable rows by reason and quotes the
        first).
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    rows = read_rba(path, tz=tz)
    geo = RecordedGeo(max_addresses)
    unread = _Unread()
    chosen, notes = _scorers(scorers)
    stream = _rba_stream(rows, geo, unread, limit)
    result = evaluate_logins(
        stream,
        chosen,
        geo=geo,
        kinds=RBA_KINDS,
        measure_from=None,
        source=f"RBA dataset file {path.name}",
        settings={"file": str(path), "zone": tz, "limit": limit},
        challenge_rates=challenge_rates,
        notes=notes,
        progress=progress,
        dead_letters=unread.reasons,
        dead_letter_examples=unread.examples,
    )
    if unread.refused is not None:
        raise InvalidEventError(unread.refused.reason, unread.refused.message)
    if result.logins == 0:
        raise InvalidEventError("schema", unread.nothing_read(path))
    if unread.cut is not None:
        cut = (
            f"{unread.cut.message}; the figures cover the {result.logins:,} "
            "logins read before it"
        )
        result = replace(result, notes=(cut, *result.notes))
    return replace(result, ssh=ssh_section(datasets))


class _Unread:
    """The dead letters of a file: counts by reason, the first, a refusal, a cut."""

    _HINTS: ClassVar[dict[str, str]] = {
        "encoding": "convert the file to UTF-8 first, e.g. with iconv -f LATIN1 "
        "-t UTF-8 (naming its encoding)",
        "unreadable": "the file is corrupt or cut short: copy or download it again",
        "timestamp": "check the Login Timestamp column and --rba-tz",
    }

    #: Dead letters kept whole (location, reason, message) for the report.
    EXAMPLES = 20

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()
        self.examples: list[dict[str, str]] = []
        self.first: DeadLetter | None = None
        self.refused: DeadLetter | None = None
        self.cut: DeadLetter | None = None

    def add(self, letter: DeadLetter) -> None:
        """Count one dead letter, and keep it when it is the first or says more."""
        self.reasons[letter.reason] += 1
        if len(self.examples) < self.EXAMPLES:
            self.examples.append(
                {
                    "location": letter.location,
                    "reason": letter.reason,
                    "message": letter.message,
                }
            )
        if self.first is None:
            self.first = letter
        if letter.location == "file":
            self.refused = letter
        elif letter.reason == "unreadable":
            self.cut = letter

    def nothing_read(self, path: Path) -> str:
        """Say why no row of ``path`` became a login, with the reasons."""
        if self.first is None:
            return (
                f"{path.name} has no row after its header; hint: give the RBA "
                "dataset's CSV file"
            )
        total = sum(self.reasons.values())
        if self.cut is not None and total == 1:
            return (
                f"no row of {path.name} could be read: {self.cut.message}; "
                f"hint: {self._HINTS['unreadable']}"
            )
        reasons = ", ".join(f"{r} {n:,}" for r, n in self.reasons.most_common())
        top = self.reasons.most_common(1)[0][0]
        hint = self._HINTS.get(top, "check that it is the RBA dataset's CSV file")
        return (
            f"no row of {path.name} could be read ({total:,} unreadable: {reasons}; "
            f"the first, {self.first.location}: {self.first.message}); hint: {hint}"
        )


def _rba_stream(
    rows: Iterable[Any],
    geo: RecordedGeo,
    unread: _Unread,
    limit: int | None,
) -> Iterator[tuple[Login, str]]:
    """Yield each good row's login and truth, recording its location first."""
    logins = 0
    for item in rows:
        if isinstance(item, DeadLetter):
            unread.add(item)
            continue
        if item.country is not None or item.asn is not None:
            geo.record(item.event.ip, GeoInfo(item.country, item.asn, None))
        yield item.event, item.truth
        logins += 1
        if limit is not None and logins >= limit:
            return


def _scorers(
    scorers: Mapping[str, LoginScorer] | None,
) -> tuple[dict[str, LoginScorer], tuple[str, ...]]:
    if scorers is None:
        return default_scorers()
    if not scorers:
        raise ConfigError("no scorer to evaluate")
    return dict(scorers), ()


def evaluate_logins(
    stream: Iterable[tuple[Login, str]],
    scorers: Mapping[str, LoginScorer],
    *,
    geo: GeoResolver | None,
    kinds: Sequence[str],
    measure_from: float | None,
    source: str,
    settings: Mapping[str, Any],
    challenge_rates: Sequence[float] = CHALLENGE_RATES,
    notes: Sequence[str] = (),
    ssh: SshSection | None = None,
    progress: Callable[[int], None] | None = None,
    dead_letters: Mapping[str, int] | None = None,
    dead_letter_examples: Sequence[Mapping[str, str]] | None = None,
) -> AtoEvaluation:
    """Score a labelled login stream with every scorer, and measure them.

    Parameters
    ----------
    stream
        Logins in time order, each with its truth: ``"legit"`` or a kind.
    scorers
        Named scorers; ``"model"`` and ``"country_rule"`` get compared.
    geo
        Resolver of source addresses for the scorers' context.
    kinds
        The attack kinds, in report order; another truth is an error.
    measure_from
        Epoch seconds before which logins are scored but not measured.
    source, settings, notes, ssh
        What the report says about the run.
    challenge_rates
        The challenge budgets, each in ``(0, 1]``.
    progress
        Called with the number of logins done, now and then.
    dead_letters
        Unreadable records by reason, filled while ``stream`` is read.
    dead_letter_examples
        The first unreadable records (location, reason, message), filled
        while ``stream`` is read.

    Raises
    ------
    ConfigError
        When a truth is not ``"legit"`` nor one of ``kinds``.
    TrustwatchError
        When a scorer fails on a login (the event id is named).
    """
    scored = _score(stream, scorers, geo, kinds, measure_from, progress)
    legit = scored.truth == 0
    results = []
    for name in scorers:
        scores = np.frombuffer(scored.scores[name], dtype=np.float64)
        results.append(
            ScorerResult(
                name=name,
                kinds=_kind_results(
                    scores, scored.truth, legit, kinds, challenge_rates
                ),
                seconds=scored.seconds[name],
                logins=scored.logins,
            )
        )
    extra = [*notes, *scored.order_notes()]
    report = AtoEvaluation(
        source=source,
        settings=dict(settings),
        challenge_rates=tuple(challenge_rates),
        kinds=tuple(kinds),
        legit=int(np.count_nonzero(legit)),
        logins=scored.logins,
        scorers=tuple(results),
        notes=tuple(extra),
        profile=scored.profile.summary(),
        dead_letters=dict(dead_letters or {}),
        dead_letter_examples=tuple(dict(d) for d in dead_letter_examples or ()),
        ssh=ssh or SshSection(skipped="not asked for"),
    )
    return replace(report, notes=(*report.notes, *_coverage_notes(report)))


def _coverage_notes(report: AtoEvaluation) -> list[str]:
    """Say why figures are missing: nothing measured, or a kind without attacks."""
    why = report.unmeasured()
    if why is not None:
        return [f"nothing was measured: {why}; every figure is n/a"]
    counted = report.scorers[0]
    empty = [kind for kind in report.kinds if counted.kind(kind).attacks == 0]
    if not empty:
        return []
    return [
        f"no attack login of kind {', '.join(empty)} was measured; "
        f"{'its row is' if len(empty) == 1 else 'their rows are'} n/a"
    ]


def _kind_results(
    scores: np.ndarray[Any, np.dtype[np.float64]],
    truth: np.ndarray[Any, np.dtype[np.uint8]],
    legit: np.ndarray[Any, np.dtype[np.bool_]],
    kinds: Sequence[str],
    rates: Sequence[float],
) -> tuple[KindResult, ...]:
    benign = scores[legit]
    results = []
    for code, kind in [*enumerate(kinds, start=1), (-1, ALL_ATTACKS)]:
        attacks = scores[~legit] if code < 0 else scores[truth == code]
        results.append(
            KindResult(
                kind=kind,
                attacks=int(attacks.size),
                roc_auc=roc_auc(benign, attacks),
                caught=tuple(caught_at(benign, attacks, rate) for rate in rates),
            )
        )
    return tuple(results)


class _Scored:
    """What one pass over the stream leaves: truths, scores, times, profile."""

    def __init__(self, names: Iterable[str]) -> None:
        self.codes = array("B")
        self.scores = {name: array("d") for name in names}
        self.seconds = dict.fromkeys(self.scores, 0.0)
        self.logins = 0
        self.late = 0
        self.far_late = 0
        self.jumped = 0
        self.first_far_late: Login | None = None
        self.first_jumped: Login | None = None
        self.profile = _Profile()

    @property
    def truth(self) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """Truth codes of the measured logins: 0 legit, then kinds from 1."""
        return np.frombuffer(self.codes, dtype=np.uint8)

    def place(self, event: Login, t: float, newest: float) -> None:
        """Count ``event`` (at ``t``) if it is out of order after ``newest``."""
        if t < newest:
            self.late += 1
            if newest - t > _FAR_APART_S:
                self.far_late += 1
                self.first_far_late = self.first_far_late or event
        elif t - newest > _FAR_APART_S and newest > float("-inf"):
            self.jumped += 1
            self.first_jumped = self.first_jumped or event

    def order_notes(self) -> list[str]:
        """Say where the stream was not in time order, naming the first far cases."""
        days = f"{_FAR_APART_S / 86_400:.0f} days"
        notes = []
        if self.jumped:
            notes.append(
                f"{self.jumped:,} logins were dated more than {days} after every "
                f"login before them (first: {_when(self.first_jumped)}): a stray "
                "date or a gap in the data; check the timestamps"
            )
        if self.late:
            far = (
                f"; {self.far_late:,} of them by more than {days} (first: "
                f"{_when(self.first_far_late)})"
                if self.far_late
                else ""
            )
            notes.append(
                f"{self.late:,} logins came before a login already scored "
                f"(the stream is not in time order there){far}"
            )
        return notes


def _when(event: Login | None) -> str:
    if event is None:
        return "?"
    return f"{event.event_id} at {event.ts.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _score(
    stream: Iterable[tuple[Login, str]],
    scorers: Mapping[str, LoginScorer],
    geo: GeoResolver | None,
    kinds: Sequence[str],
    measure_from: float | None,
    progress: Callable[[int], None] | None,
) -> _Scored:
    codes = {_LEGIT: 0, **{kind: i for i, kind in enumerate(kinds, start=1)}}
    scored = _Scored(scorers)
    clock = time.perf_counter
    newest = float("-inf")
    for event, truth in stream:
        code = codes.get(truth)
        if code is None:
            raise ConfigError(
                f"login {event.event_id} has truth {truth!r}, not legit nor one of "
                f"{', '.join(kinds)}"
            )
        ctx = EventContext(event, geo)
        ctx.network()  # the shared lookup, outside any scorer's time
        measured = event.success and (measure_from is None or ctx.t >= measure_from)
        for name, scorer in scorers.items():
            started = clock()
            try:
                risk = scorer.assess(event, ctx).score
            except TrustwatchError:
                raise
            except Exception as exc:
                raise TrustwatchError(
                    f"scorer {name} failed on login {event.event_id}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            scored.seconds[name] += clock() - started
            if not 0.0 <= risk <= 1.0:  # also refuses nan
                raise TrustwatchError(
                    f"scorer {name} gave login {event.event_id} the score {risk!r}, "
                    "outside [0, 1]"
                )
            if measured:
                scored.scores[name].append(float(risk))
        if measured:
            scored.codes.append(code)
        if code == 0 and event.success:
            scored.profile.add(event, ctx, measured)
        scored.place(event, ctx.t, newest)
        newest = max(newest, ctx.t)
        scored.logins += 1
        if progress is not None and scored.logins % _PROGRESS_EVERY == 0:
            progress(scored.logins)
    logger.info("scored %d logins with %s", scored.logins, ", ".join(scorers))
    return scored


class _Profile:
    """Per-account figures of the legitimate logins, for the report.

    Bounded: accounts past the first :data:`_PROFILED_ACCOUNTS` are left out.
    """

    def __init__(self) -> None:
        self._logins: Counter[str] = Counter()
        self._networks: dict[str, set[str]] = {}
        self._countries: dict[str, set[str]] = {}
        self._agents: dict[str, set[str]] = {}
        self._measured = 0
        self._new_country = 0

    def add(self, event: Login, ctx: EventContext, measured: bool) -> None:
        """Count one successful legitimate login."""
        account = event.account or event.username or ""
        if account not in self._logins and len(self._logins) >= _PROFILED_ACCOUNTS:
            return
        info = ctx.location()
        country = info.country if info is not None and info.country else "unknown"
        countries = self._countries.setdefault(account, set())
        if measured:
            self._measured += 1
            self._new_country += country not in countries
        countries.add(country)
        self._logins[account] += 1
        self._networks.setdefault(account, set()).add(ctx.network() or "unknown")
        self._agents.setdefault(account, set()).add(event.user_agent or "")

    def summary(self) -> dict[str, str]:
        """Return the figures in words."""
        if not self._logins:
            return {}
        out = {
            "accounts with a successful login": f"{len(self._logins):,}",
            "logins per account": _spread(list(self._logins.values())),
            "networks per account": _spread([len(v) for v in self._networks.values()]),
            "countries per account": _spread(
                [len(v) for v in self._countries.values()]
            ),
            "user agents per account": _spread([len(v) for v in self._agents.values()]),
        }
        if self._measured:
            share = self._new_country / self._measured
            out["measured logins from a country new to the account"] = f"{share:.2%}"
        return out


def _spread(values: list[int]) -> str:
    ordered = np.sort(np.asarray(values))
    median = ordered[len(ordered) // 2]
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"median {median}, 90th percentile {p90}, max {ordered[-1]}"
