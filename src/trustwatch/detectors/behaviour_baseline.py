"""Per-account behaviour baselines: activity far above the account's own norm.

Each account's activity is counted per ``period`` (an hour by default) in four
volumes: downloads, uploads, share recipients and links created. An hour in
which the account did anything (logged in, uploaded, opened a link...) is an
*active* period; when it ends, its counts join the account's history of the
last ``history`` active periods. The baseline of a volume, the account's
*usual level*, is the ``quantile`` (95th percentile) of that history, held
back when it rises fast (see below). (The platform has no deletion event, so
deletions are not counted.)

As each event arrives, the volume it adds to is counted over the sliding
``period`` before it. The detector flags the account when the count reaches
``factor`` times the baseline (a baseline under one counts as one) and at least
``min_counts`` for that volume: "312 downloads in 1 h, 40x this account's usual
95th percentile (7.8 per active hour)"; a usual level under one is said to be
counted as one. The score is ``1 - 0.5 ** (count / threshold)`` (0.5 at the
threshold), combined as a noisy-or over every volume over its threshold at that
moment, and raised by two signs of context that alone prove nothing: a device
(``device_id``, else user agent) the account has not used before, and an hour
of the day (UTC) in which the account was active in under 2% of its learned
periods. One signal is raised when a volume first crosses its threshold in a
period, and again each time its count doubles.

**No learning from what it flags.** A period in which anything was flagged
teaches nothing: its counts, its hour of the day and its devices stay out of
the baseline, so an attacker's burst never becomes the account's norm. An
ended period is learned only once the next one has ended too, so that a burst
that began in it and was flagged just after the hour turned (the sliding count
reaching back into it) drops it as well.
**Warm-up:** an account is not flagged before ``warmup`` active periods have
been learned.

**The baseline may not grow fast.** Learning every unflagged period would let
a slow attacker ramp an account up: each hour just under five times the usual
level is learned, the 95th percentile of 64 periods follows the top three or
four of them, and the threshold multiplies every few hours (5,000 downloads
in 12 hours, unflagged, from an account whose norm is 10 an hour). So the
usual level follows the window's quantile down at once but up by at most
``growth`` times (1.1) per learned period in which the volume was above its
*free level*, the level under which the threshold is the least count anyway
(``min_counts / factor``, at least one; 10 downloads an hour by default). It
is set to the quantile when the warm-up ends, and rises freely within the
free level. A flagged period is not learned, so it grows nothing. When the
level is held under the quantile the reason says so.

*The limit that remains*: a ramp no steeper than ``growth`` per active period
is still learned. From 10 downloads an hour, an attacker staying just under
the threshold each hour moves about 880 downloads unflagged in 12 hours
(590 at the least count alone) and about 18,000 in 40 hours, the last hour
at about 1,700 (without the limit: 5,000 in 12 hours, and millions an hour
after 40). A legitimate step up of more than ``factor`` times is flagged
every hour and never learned, as before.

**Why exact window quantiles, and not river.** The quantile is computed exactly
over the stored window (linear interpolation, as numpy's default and river's
``stats.RollingQuantile``, with which
``benchmarks/bench_behaviour_baseline.py`` checks it agrees), and only when a
count could pass its threshold (and once as the warm-up ends). The benchmark
measured river 0.26.1's options: its ``RollingQuantile`` gives the same figures
for more memory (about 5.4 KB per account for the four volumes, against about
3.6 KB for this detector's whole account state) and its quantiles checkpoint
only as opaque bytes from private Rust objects, which on a damaged checkpoint
panic with an error that is not an ``Exception`` (it would escape the
pipeline's isolation of a failing detector); the P² ``Quantile`` never forgets
old habits and is off by about 2 on the 20-period histories of quiet accounts;
half-space trees cost over 1 MB per account and tens of µs per event, and suit
scattered anomalies rather than bursts packed in time. The window here is plain
arrays that serialise as lists of integers.

State is bounded: ``max_accounts`` accounts (least recently used evicted, in
O(1) with an ordered dictionary), each with fixed-size arrays and at most
:data:`KNOWN_DEVICES` devices.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.detectors.takeover_chain import device_key
from trustwatch.errors import ConfigError
from trustwatch.events.model import (
    EVENT_TYPES,
    EventBase,
    FileDownloaded,
    FileShared,
    FileUploaded,
    LinkCreated,
    Login,
)
from trustwatch.features.context import EventContext

__all__ = [
    "DEFAULT_MIN_COUNTS",
    "KNOWN_DEVICES",
    "VOLUMES",
    "BehaviourBaselineDetector",
    "window_quantile",
]

#: The activity volumes counted per account, in the order of the arrays.
VOLUMES: tuple[str, ...] = ("downloads", "uploads", "shares", "links")
#: The least count of each volume in one period that can be flagged.
DEFAULT_MIN_COUNTS: dict[str, int] = {
    "downloads": 50,
    "uploads": 50,
    "shares": 25,
    "links": 10,
}
#: Most devices an account's baseline remembers.
KNOWN_DEVICES = 8

_WORDS = {
    "downloads": "{count} downloads in {period}",
    "uploads": "{count} uploads in {period}",
    "shares": "files shared with {count} recipients in {period}",
    "links": "{count} links created in {period}",
}
_SLOTS = 12  # slots each sliding period is cut into
_CAP = 2**32 - 1  # counts are kept as unsigned 32-bit integers
_VOLUMES = len(VOLUMES)
#: Most (device id, user agent) pairs whose device key is kept at once.
_DEVICE_KEYS = 65_536
_EMPTY_RING = array("I", bytes(4 * len(VOLUMES) * _SLOTS))
_EMPTY_TOTALS = array("I", bytes(4 * len(VOLUMES)))
_RARE_HOUR_SHARE = 0.02
_NEW_DEVICE_WEIGHT = 0.3
_RARE_HOUR_WEIGHT = 0.2
#: Every event an account makes is activity (its hour and device count).
_ACTIVITY: frozenset[type[EventBase]] = frozenset(EVENT_TYPES.values())


def window_quantile(values: Sequence[float], q: float) -> float:
    """Return the ``q`` quantile of ``values``, interpolating linearly.

    The same estimator as numpy's default and river's ``RollingQuantile``.

    Examples
    --------
    >>> window_quantile([1, 2, 3], 0.95)
    2.9
    """
    if not values:
        raise ValueError("the quantile of no values is undefined")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def _note_device(account: _Account, device: str) -> None:
    """Hold a device the account has not used before until its period ends."""
    new = device not in account.devices and device not in account.pending
    if new and len(account.pending) < KNOWN_DEVICES:
        account.pending.append(device)


#: The volume each event type adds one to; a share adds its recipients.
_VOLUME_OF: dict[type[EventBase], int] = {
    FileDownloaded: 0,
    FileUploaded: 1,
    FileShared: 2,
    LinkCreated: 3,
}


class _Account:
    """One account's counts, baseline window, hours of the day and devices.

    A period that has just ended is *held* until the next one ends before it
    is learned: a burst flagged early in the next period may have begun in it,
    and then it is dropped too (see :meth:`BehaviourBaselineDetector._close`).
    """

    __slots__ = (
        "alerted",
        "devices",
        "flagged",
        "held_counts",
        "held_devices",
        "held_flagged",
        "held_period",
        "hours",
        "learned",
        "levels",
        "pending",
        "period",
        "period_counts",
        "quantiles",
        "ring",
        "samples",
        "settled",
        "slot",
        "steps",
        "totals",
    )
    #: The fields worked out again after a restore, not kept in the state.
    _DERIVED = frozenset({"quantiles", "settled"})
    #: The fields kept as unsigned integer arrays (lists in the state).
    _ARRAYS = frozenset(
        "alerted held_counts hours period_counts ring samples steps totals".split()
    )

    def __init__(self, volumes: int, history: int, period: int, slot: int) -> None:
        self.period = period  # the period being counted
        self.slot = slot  # the newest slot of the sliding window
        empty = _EMPTY_TOTALS if volumes == _VOLUMES else array("I", bytes(4 * volumes))
        self.ring = array("I", bytes(4 * volumes * _SLOTS))
        self.totals = empty[:]
        self.period_counts = empty[:]
        self.flagged = False
        self.alerted = empty[:]
        self.pending: list[str] = []  # devices first seen in this period
        self.held_period = -1  # the ended period not yet learned, if any
        self.held_counts = empty[:]
        self.held_flagged = False
        self.held_devices: list[str] = []
        self.samples = array("I", bytes(4 * volumes * history))
        self.learned = 0  # active periods learned, ever
        self.quantiles: list[float] = []  # derived from the samples when needed
        # the usual level per volume, and the learned periods over the free
        # level since it was last worked out (each lets it grow once)
        self.levels = [0.0] * volumes
        self.steps = empty[:]
        self.settled = False  # whether the levels are worked out since learning
        self.hours = array("I", bytes(4 * 24))
        self.devices: list[str] = []

    def to_state(self) -> dict[str, Any]:
        # a save gathers every account: the kept fields are listed once
        return {
            name: getattr(self, name).tolist() if is_array else getattr(self, name)
            for name, is_array in _KEPT_FIELDS
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> _Account:
        """Rebuild an account from :meth:`to_state`.

        Raises
        ------
        KeyError, TypeError, ValueError, OverflowError
            When the state is damaged; the pipeline reports them as a damaged
            checkpoint of this detector.
        """
        account = cls.__new__(cls)
        for name in cls.__slots__:
            if name in cls._DERIVED:
                continue
            value = state[name]
            if name in cls._ARRAYS:
                value = array("I", value)
            elif name == "levels":
                value = [_number(level) for level in value]
            elif isinstance(value, list):
                value = list(value)
            setattr(account, name, value)
        account.quantiles = []
        account.settled = False
        return account


#: The fields of an account a state keeps, each with whether it is an array.
_KEPT_FIELDS = tuple(
    (name, name in _Account._ARRAYS)
    for name in _Account.__slots__
    if name not in _Account._DERIVED
)


@register
class BehaviourBaselineDetector(Detector):
    """Flag account activity far above the account's own baseline.

    Parameters
    ----------
    period
        Seconds of one baseline period, and of the sliding count compared
        with it.
    history
        Active periods in each account's baseline window.
    warmup
        Active periods an account must have learned before it is flagged.
    quantile
        The quantile of the window that is the account's usual level.
    factor
        How many times its usual level a count must reach to be flagged.
    growth
        How many times the usual level may rise per learned period above the
        free level (see the module notes); at least 1.
    min_counts
        Per volume, the least count that can be flagged (defaults:
        :data:`DEFAULT_MIN_COUNTS`).
    max_accounts
        Most accounts kept (least recently used evicted).

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> from trustwatch.events.model import FileDownloaded
    >>> t0 = datetime(2026, 5, 1, tzinfo=UTC)
    >>> def download(i, seconds):
    ...     ts = t0 + timedelta(seconds=seconds)
    ...     return FileDownloaded(event_id=f"d{i}", ts=ts, account="a", file_id="f")
    >>> usual = [download(i, 3600 * i) for i in range(20)]  # one an hour
    >>> burst = [download(100 + i, 3600 * 20 + i) for i in range(60)]
    >>> detector = BehaviourBaselineDetector(warmup=10)
    >>> detector.process(usual + burst)[0].reasons[0]
    "50 downloads in 1 h, 50x this account's usual 95th percentile (1 per active hour)"
    """

    name = "behaviour_baseline"
    version = "2"
    signal_kinds = ("behaviour_anomaly",)
    event_types = _ACTIVITY

    def __init__(
        self,
        period: float = 3600.0,
        history: int = 64,
        warmup: int = 16,
        quantile: float = 0.95,
        factor: float = 5.0,
        min_counts: dict[str, int] | None = None,
        max_accounts: int = 100_000,
        growth: float = 1.1,
    ) -> None:
        counts = dict(DEFAULT_MIN_COUNTS, **(min_counts or {}))
        _check(period, history, warmup, quantile, factor, growth, counts, max_accounts)
        self._params = {
            "period": period,
            "history": history,
            "warmup": warmup,
            "quantile": quantile,
            "factor": factor,
            "min_counts": counts,
            "max_accounts": max_accounts,
            "growth": growth,
        }
        self.period = float(period)
        self.history = history
        self.warmup = warmup
        self.quantile = quantile
        self.factor = factor
        self.min_counts = [counts[v] for v in VOLUMES]
        self.growth = float(growth)
        # past this many steps the growth allowance is beyond any count
        self._max_steps = int(700 / math.log(growth)) if growth > 1 else 0
        # per volume, the level under which the threshold is the least count
        self._free = [max(1.0, n / factor) for n in self.min_counts]
        self.max_accounts = max_accounts
        self.evicted = 0
        self._slot_width = self.period / _SLOTS
        self._accounts: OrderedDict[str, _Account] = OrderedDict()
        self._device_keys: dict[tuple[str | None, str | None], str | None] = {}

    # -------------------------------------------------------------- events

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Count the event against its account and flag a volume over baseline."""
        name = event.account
        if not name or type(event) not in _ACTIVITY:
            return ()
        if isinstance(event, Login) and not event.success:
            return ()  # failed attempts are not the account's activity
        t = ctx.t
        accounts = self._accounts
        account = accounts.get(name)
        if account is None:
            account = self._touch(name, t)
        else:
            accounts.move_to_end(name)
        period = int(t // self.period)
        kind = type(event)
        volume = _VOLUME_OF.get(kind, -1)
        amount = 1
        if kind is FileShared:
            amount = max(1, len(event.recipients))  # type: ignore[attr-defined]
        if period < account.period:
            # late for its period: it counts in the sliding window only
            if volume >= 0:
                self._count(account, volume, amount, t, counted=False)
            return ()
        if period > account.period:
            self._close(account, period)
        try:
            device = self._device_keys[event.device_id, event.user_agent]
        except KeyError:
            device = self._device_of(event)
        if device:
            _note_device(account, device)
        if volume < 0:
            return ()
        count = self._count(account, volume, amount, t, counted=True)
        if account.learned < self.warmup or count < self.min_counts[volume]:
            return ()  # the threshold is never under the least count
        if count < self._threshold(account, volume):
            return ()
        # neither this period nor the one the count reaches back into teaches
        account.flagged = True
        if self._reaches_back(account, volume):
            account.held_flagged = True
        last = account.alerted[volume]
        if last and count < 2 * last:
            return ()
        account.alerted[volume] = min(count, _CAP)
        return [self._signal(event, name, account, volume, device, ctx.t)]

    def _device_of(self, event: EventBase) -> str | None:
        """Return :func:`device_key` of the event, and remember it.

        The same few devices and user agents come back on every event of an
        account; :meth:`process_one` looks the key up before hashing again.
        """
        seen = (event.device_id, event.user_agent)
        if len(self._device_keys) >= _DEVICE_KEYS:
            self._device_keys.clear()
        device = self._device_keys[seen] = device_key(event)
        return device

    def _touch(self, name: str, t: float) -> _Account:
        """Return the account's state, most recently used, created if new."""
        accounts = self._accounts
        account = accounts.get(name)
        if account is not None:
            accounts.move_to_end(name)
            return account
        account = accounts[name] = _Account(
            len(VOLUMES),
            self.history,
            int(t // self.period),
            int(t // self._slot_width),
        )
        if len(accounts) > self.max_accounts:
            accounts.popitem(last=False)
            self.evicted += 1
        return account

    def _count(
        self, account: _Account, volume: int, amount: int, t: float, *, counted: bool
    ) -> int:
        """Add to the sliding count of a volume; return the count in the window."""
        slot = int(t // self._slot_width)
        ring, totals = account.ring, account.totals
        newest = account.slot
        if slot > newest:
            if slot >= newest + _SLOTS:
                # the whole window slid past: start it empty
                ring[:] = _EMPTY_RING
                totals[:] = _EMPTY_TOTALS
            else:
                # empty the slots the window slid past
                for s in range(newest + 1, slot + 1):
                    base = (s % _SLOTS) * _VOLUMES
                    for v in range(_VOLUMES):
                        left = totals[v] - ring[base + v]
                        totals[v] = left if left > 0 else 0
                        ring[base + v] = 0
            account.slot = slot
        elif slot <= newest - _SLOTS:
            return int(totals[volume])  # too late for the window: not counted
        index = (slot % _SLOTS) * _VOLUMES + volume
        # counts saturate at the largest value their unsigned arrays hold
        value = ring[index] + amount
        ring[index] = value if value < _CAP else _CAP
        total = totals[volume] + amount
        if total > _CAP:
            total = _CAP
        totals[volume] = total
        if counted:
            counts = account.period_counts
            value = counts[volume] + amount
            counts[volume] = value if value < _CAP else _CAP
        return total

    @staticmethod
    def _reaches_back(account: _Account, volume: int) -> bool:
        """Whether the sliding count of a volume holds events of the held period."""
        if account.held_period < 0:
            return False
        for slot in range(account.slot - _SLOTS + 1, account.slot + 1):
            # slots are aligned on periods: _SLOTS of them make one
            if slot // _SLOTS != account.held_period:
                continue
            if account.ring[(slot % _SLOTS) * len(VOLUMES) + volume]:
                return True
        return False

    def _threshold(self, account: _Account, volume: int) -> float:
        usual = max(self._usual(account)[volume], 1.0)
        return max(float(self.min_counts[volume]), self.factor * usual)

    # ------------------------------------------------------------ learning

    def _close(self, account: _Account, period: int) -> None:
        """End the counted period and start ``period``.

        The period held from before is learned unless it was flagged. The one
        ending is held in turn when ``period`` follows it directly (the new
        period's sliding count still reaches into it); after a gap nothing
        can reach into it, and it is learned at once, unless flagged.
        """
        if account.held_period >= 0 and not account.held_flagged:
            self._learn(
                account, account.held_period, account.held_counts, account.held_devices
            )
        account.held_period = -1
        if period == account.period + 1:
            account.held_period = account.period
            account.held_flagged = account.flagged
            account.held_counts[:] = account.period_counts
            account.held_devices = account.pending
        elif not account.flagged:
            self._learn(account, account.period, account.period_counts, account.pending)
        account.period = period
        account.flagged = False
        account.pending = []
        account.period_counts[:] = _EMPTY_TOTALS
        account.alerted[:] = _EMPTY_TOTALS

    def _learn(
        self, account: _Account, period: int, counts: array[int], devices: list[str]
    ) -> None:
        """Add an ended period to the account's baseline."""
        history = self.history
        at = account.learned % history
        samples, steps, free = account.samples, account.steps, self._free
        for v in range(_VOLUMES):
            count = counts[v]
            samples[v * history + at] = count
            if count > free[v]:
                steps[v] += 1  # the usual level may grow once more
        account.learned += 1
        account.quantiles = []  # the window changed: work them out when next needed
        account.settled = False
        if account.learned == max(self.warmup, 1):
            # the warm-up is over: the usual level starts at the quantiles
            account.levels = list(self._quantiles(account))
            account.steps[:] = _EMPTY_TOTALS
        hour = int(period * self.period // 3600) % 24
        account.hours[hour] += 1
        if sum(account.hours) > 4 * self.history:
            # halve the hours of the day, so that old habits fade
            for h in range(24):
                account.hours[h] //= 2
        for device in devices:
            if device in account.devices:
                account.devices.remove(device)
            account.devices.append(device)
        del account.devices[:-KNOWN_DEVICES]

    def _quantiles(self, account: _Account) -> list[float]:
        """Return the baseline quantile of the account's window per volume."""
        if account.quantiles:
            return account.quantiles
        size = min(account.learned, self.history)
        if size == 0:
            account.quantiles = [0.0] * len(VOLUMES)
            return account.quantiles
        account.quantiles = [
            window_quantile(
                account.samples[v * self.history : v * self.history + size],
                self.quantile,
            )
            for v in range(len(VOLUMES))
        ]
        return account.quantiles

    def _levels(self, account: _Account) -> list[float]:
        """Work out the account's usual level per volume, changing nothing.

        Before the warm-up ends it is the window's quantile. Then it follows
        the quantile down at once, and up to at most ``growth`` times the last
        level (or the free level, if higher) per step earned since.
        """
        quantiles = self._quantiles(account)
        if account.learned < max(self.warmup, 1):
            return list(quantiles)
        return [
            min(q, max(level, free) * self.growth ** min(steps, self._max_steps))
            for q, level, free, steps in zip(
                quantiles, account.levels, self._free, account.steps, strict=True
            )
        ]

    def _usual(self, account: _Account) -> list[float]:
        """Return the account's usual level per volume, settling it.

        The level is kept and the steps spent, so growth is counted from here;
        settling it again before the next learned period changes nothing (so
        a restored checkpoint, which settles again, continues exactly).
        """
        if not account.settled:
            account.levels = self._levels(account)
            account.steps[:] = _EMPTY_TOTALS
            account.settled = True
        return account.levels

    def baseline(self, account: str) -> dict[str, float] | None:
        """Return an account's usual level per volume, or ``None`` if unknown.

        The level is the baseline quantile of its learned active periods, held
        back where it rose faster than ``growth`` allows; asking changes
        nothing, and the account is not marked as used.
        """
        state = self._accounts.get(account)
        if state is None:
            return None
        return dict(zip(VOLUMES, self._levels(state), strict=True))

    # -------------------------------------------------------------- signal

    def _signal(
        self,
        event: EventBase,
        name: str,
        account: _Account,
        trigger: int,
        device: str | None,
        t: float,
    ) -> Signal:
        """Score every volume over its threshold, the one that just crossed first."""
        reasons: list[str] = []
        volumes: dict[str, Any] = {}
        clean = 1.0
        unit = "hour" if self.period == 3600 else "period"
        order = [trigger] + [v for v in range(len(VOLUMES)) if v != trigger]
        for v in order:
            volume = VOLUMES[v]
            count, threshold = int(account.totals[v]), self._threshold(account, v)
            if count < threshold:
                continue
            clean *= 0.5 ** (count / threshold)
            usual, quantile = self._usual(account)[v], self._quantiles(account)[v]
            text = _WORDS[volume].format(count=count, period=_span(self.period))
            reasons.append(f"{text}, {self._against(count, usual, quantile, unit)}")
            volumes[volume] = {
                "count": count,
                "usual": round(usual, 3),
                "quantile": round(quantile, 3),
                "threshold": round(threshold, 3),
            }
        new_device = bool(device and account.devices and device not in account.devices)
        if new_device:
            clean *= 1.0 - _NEW_DEVICE_WEIGHT
            reasons.append("from a device this account has not used before")
        hour = datetime.fromtimestamp(t, UTC).hour
        if self._rare_hour(account, hour):
            clean *= 1.0 - _RARE_HOUR_WEIGHT
            reasons.append(
                f"at {hour:02d}:00 UTC, an hour this account is rarely active in"
            )
        return self.signal(
            event,
            kind="behaviour_anomaly",
            score=1.0 - clean,
            entity_type="account",
            entity=name,
            reasons=tuple(reasons),
            evidence={
                "volumes": volumes,
                "learned_periods": account.learned,
                "new_device": new_device,
                "hour_utc": hour,
            },
        )

    def _against(self, count: int, usual: float, quantile: float, unit: str) -> str:
        """Say how a count compares with the usual level it was divided by."""
        percentile = f"{_ordinal(self.quantile)} percentile"
        if usual < 1.0:
            # under one it is divided by one: say so, or the ratio reads wrong
            return (
                f"{count}x this account's usual {percentile} of {usual:.3g} per "
                f"active {unit}, counted as 1"
            )
        ratio = f"{count / usual:.0f}x this account's usual"
        if usual < quantile:
            return (
                f"{ratio} level ({usual:.3g} per active {unit}; its {percentile}, "
                f"{quantile:.3g}, rose faster than the baseline may grow)"
            )
        return f"{ratio} {percentile} ({usual:.3g} per active {unit})"

    @staticmethod
    def _rare_hour(account: _Account, hour: int) -> bool:
        total = sum(account.hours)
        if total == 0:
            return False
        near = sum(account.hours[(hour + d) % 24] for d in (-1, 0, 1))
        return near / total < _RARE_HOUR_SHARE

    # --------------------------------------------------------------- state

    def get_state(self) -> dict[str, Any]:
        """Return every account's counts and baseline as plain lists."""
        return {
            "evicted": self.evicted,
            "accounts": [[k, a.to_state()] for k, a in self._accounts.items()],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`.

        Raises
        ------
        ConfigError
            When the state was saved with another number of volumes or
            another ``history``.
        KeyError, TypeError, ValueError, OverflowError
            When the state is damaged (a field missing or of the wrong type);
            the pipeline reports them as a damaged checkpoint of this detector.
        """
        accounts = OrderedDict(
            (k, _Account.from_state(a)) for k, a in state["accounts"]
        )
        volumes = len(VOLUMES)
        for name, account in accounts.items():
            if len(account.samples) != volumes * self.history:
                raise ConfigError(
                    f"behaviour_baseline state for account {name!r} holds "
                    f"{len(account.samples)} samples, not {volumes} volumes "
                    f"x history {self.history}: restore it with the same history"
                )
            sizes = {len(account.levels), len(account.steps), len(account.totals)}
            if sizes != {volumes}:
                raise ConfigError(
                    f"behaviour_baseline state for account {name!r} does not "
                    f"hold {volumes} volumes"
                )
        self.evicted = int(state["evicted"])
        self._accounts = accounts


def _number(value: object) -> float:
    """Return a number from a checkpoint as a float, refusing anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _check(
    period: float,
    history: int,
    warmup: int,
    quantile: float,
    factor: float,
    growth: float,
    min_counts: dict[str, int],
    max_accounts: int,
) -> None:
    """Refuse parameters the detector cannot work with, naming them."""
    problems = []
    if period <= 0:
        problems.append(f"period must be positive, got {period}")
    if history < 1 or warmup < 0:
        problems.append(f"history >= 1 and warmup >= 0, got {history}, {warmup}")
    if not 0.0 < quantile < 1.0:
        problems.append(f"quantile must be in (0, 1), got {quantile}")
    if factor <= 0:
        problems.append(f"factor must be positive, got {factor}")
    if not growth >= 1.0:  # also refuses nan
        problems.append(f"growth must be at least 1, got {growth}")
    unknown = sorted(set(min_counts) - set(VOLUMES))
    if unknown:
        problems.append(f"min_counts names unknown volumes {unknown}; known {VOLUMES}")
    if any(n < 1 for n in min_counts.values()):
        problems.append(f"min_counts must be at least 1, got {min_counts}")
    if max_accounts < 1:
        problems.append(f"max_accounts must be at least 1, got {max_accounts}")
    if problems:
        raise ConfigError("behaviour_baseline: " + "; ".join(problems))


def _span(seconds: float) -> str:
    """Say a period in words: ``"1 h"``, ``"30 min"``, ``"1 d"``."""
    if seconds % 86_400 == 0:
        return f"{seconds / 86_400:g} d"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _ordinal(q: float) -> str:
    n = round(100 * q)
    suffix = (
        "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    )
    return f"{n}{suffix}"
