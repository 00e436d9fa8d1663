"""The dispatcher: enforced actions out to the platform, safely.

One pass (:meth:`Dispatcher.run_once`):

1. takes in enforced actions the store holds and the ledger does not yet,
   each due at its creation time (the pass's time, for one created after
   it) plus its rule's random delay, and lasting its rule's length from
   that time at the latest; the breaker's runaway check may hold it at once;
2. handles expiry: an action that was sent, or that an attempt may have
   reached the platform with (an attempt that timed out, or was cut off),
   gets a reversal queued and stays ``dispatched`` (in force) until the
   platform confirms it; one never attempted is marked ``expired``;
3. sends what is due, earliest first, through the adapter its type is routed
   to (a reversal through the adapter its action's attempt went through);
   the budget check may hold it instead. A refused delivery is tried
   again after an exponential back-off with jitter (or after the platform's
   ``Retry-After``, capped at the longest back-off), up to the retry limit,
   then marked ``failed``; an unreachable platform, or one asking to slow
   down (HTTP 429), leaves it pending, with its error, for as long as it
   takes.

A take-in cut off half-way (the dispatcher killed while the breaker looked
at an action) is finished by the next dispatcher's first pass.

Actions in ``dry_run`` or ``shadow`` mode never get a dispatch row.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

import msgspec

from trustwatch.decisions.model import Action, stable_id
from trustwatch.decisions.policy import Policy
from trustwatch.errors import ConfigError, StorageError
from trustwatch.response.adapters import Adapter, AdapterError, Delivery
from trustwatch.response.breaker import BREAKER_ACTOR, Breaker
from trustwatch.response.config import ResponseConfig
from trustwatch.response.delay import delay_for
from trustwatch.response.ledger import DispatchLedger, DispatchRecord, parse_utc
from trustwatch.text import shows_something

__all__ = [
    "CLAIM_LEASE",
    "EXPIRY_ACTOR",
    "Dispatcher",
    "PassSummary",
    "policy_delays",
    "reverse_action",
    "rule_of",
]

log = logging.getLogger(__name__)

#: The actor of reversals made because an action expired.
EXPIRY_ACTOR = "expiry"
#: How long an attempt holds its action against other dispatchers, by default.
CLAIM_LEASE = timedelta(minutes=5)
_POLICY_PREFIX = "policy:"


@dataclass(slots=True)
class PassSummary:
    """What one pass did."""

    taken_in: int = 0
    held: int = 0
    dispatched: int = 0
    reversals_sent: int = 0
    retrying: int = 0
    failed: int = 0
    expired: int = 0
    #: Reversals left pending because the adapter their action went through
    #: is no longer in the config (each is also logged as a warning).
    waiting_for_adapter: int = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counts by name."""
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


def rule_of(actor: str) -> str | None:
    """Return the rule id of a policy actor (``policy:name@version#rule``)."""
    if not actor.startswith(_POLICY_PREFIX) or "#" not in actor:
        return None
    return actor.rpartition("#")[2]


def policy_delays(policy: Policy) -> dict[str, tuple[timedelta, timedelta]]:
    """Return the delay range of each rule of ``policy`` that has one."""
    return {rule.id: rule.delay for rule in policy.rules if rule.delay is not None}


def _send(adapter: Adapter, delivery: Delivery) -> None:
    """Send through ``adapter``; any failure is an :class:`AdapterError`.

    An adapter that raises anything else (a defect, or an answer it could
    not read) fails that attempt, which may have reached the platform, and
    never stops the pass or the dispatcher. Only the exception's type is
    kept: its text may hold what the platform sent.
    """
    try:
        adapter.send(delivery)
    except AdapterError:
        raise
    except Exception as exc:
        log.error(
            "adapter failed unexpectedly on action %s: %s",
            delivery.action.action_id,
            type(exc).__name__,
        )
        raise AdapterError(
            f"the adapter raised {type(exc).__name__}; hint: this is a defect of "
            "the adapter, report it; the attempt is retried"
        ) from exc


def _backoff(attempts: int, config: ResponseConfig, rng: random.Random) -> timedelta:
    """Exponential back-off after ``attempts`` tries, with half of it jitter."""
    first = config.retry.first_backoff.total_seconds()
    ceiling = config.retry.max_backoff.total_seconds()
    base = min(ceiling, first * 2 ** min(attempts - 1, 60))
    return timedelta(seconds=base / 2 + rng.uniform(0, base / 2))


class Dispatcher:
    """Send enforced actions through their adapters.

    Parameters
    ----------
    ledger
        The store and its dispatch state.
    config
        Routes, retry and breaker settings.
    adapters
        The adapters by name (see :func:`~trustwatch.response.adapters.build_adapters`).
    delays
        Delay range by rule id (see :func:`policy_delays`).
    delay_key
        The secret the delays are drawn with; required when ``delays`` is set.
    rng
        The source of back-off jitter.
    lease
        How long an attempt holds its action against other dispatchers.
    policy_ref
        The ``name@version`` of the policy ``delays`` come from: actions of
        another policy version get a warning (once per policy), since their
        delays are looked up by rule id in this one.
    build
        Builds a configured adapter by name when a reversal needs one that
        ``adapters`` lacks (no route names it any more).
    """

    def __init__(
        self,
        ledger: DispatchLedger,
        config: ResponseConfig,
        adapters: Mapping[str, Adapter],
        *,
        delays: Mapping[str, tuple[timedelta, timedelta]] | None = None,
        delay_key: bytes | None = None,
        rng: random.Random | None = None,
        lease: timedelta = CLAIM_LEASE,
        policy_ref: str | None = None,
        build: Callable[[str], Adapter] | None = None,
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.adapters = dict(adapters)
        self.delays = dict(delays or {})
        if self.delays and not delay_key:
            raise ConfigError(
                "some rules delay their actions but no delay key was given; "
                f"hint: set {config.delay_secret_env}"
            )
        self._delay_key = delay_key or b""
        self._rng = rng or random.SystemRandom()
        self._lease = lease
        self._fixed_now = False
        self._recovered = False
        self._policy_ref = policy_ref
        self._warned_policies: set[str] = set()
        self._build = build
        self.breaker = Breaker(config.breaker, ledger)

    # -- one pass ------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> PassSummary:
        """Take in, expire and send once; return what happened.

        Without ``now`` the pass reads the clock, and reads it again for
        each action it sends: a pass of many slow sends must not stamp,
        claim or count its later ones at the time it began. With ``now``
        (tests, replays) every step uses that time.
        """
        self._fixed_now = now is not None
        now = now or datetime.now(UTC)
        summary = PassSummary()
        self._take_in(now, summary)
        self._expire(now, summary)
        self._send_due(now, summary)
        self._take_in(now, summary)
        return summary

    def _moment(self, now: datetime) -> datetime:
        """``now`` in a pass given its time, else the clock's time now."""
        return now if self._fixed_now else max(now, datetime.now(UTC))

    def run_forever(
        self,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        sleep: Callable[[float], object] = time.sleep,
        on_pass: Callable[[PassSummary], None] | None = None,
    ) -> None:
        """Run passes every poll interval until ``should_stop`` says so.

        A pass the store refuses (locked, full disk) is logged and the next
        one tries again: nothing is lost, the actions stay where they were.
        """
        interval = self.config.poll_interval.total_seconds()
        while not should_stop():
            try:
                summary = self.run_once()
            except StorageError as exc:
                log.error("dispatch pass failed, trying again: %s", exc)
            else:
                if on_pass is not None:
                    on_pass(summary)
            if should_stop():
                return
            sleep(interval)

    def due_at(self, action: Action, now: datetime | None = None) -> datetime:
        """Return when ``action`` may be sent: creation plus its rule's delay.

        An action created after ``now`` (its event dated ahead of the clock,
        by a wrong clock or a forged field) counts as created at ``now``: no
        event's date holds its action back.
        """
        created = action.created_at if now is None else min(action.created_at, now)
        rule = rule_of(action.actor)
        bounds = self.delays.get(rule) if rule else None
        if bounds is None:
            return created
        return created + delay_for(
            action.action_id, bounds[0], bounds[1], self._delay_key
        )

    def expires_at(self, action: Action, now: datetime) -> datetime | None:
        """Return when an action taken in at ``now`` ends, if earlier than its
        own ``expires_at``: an action created after ``now`` lasts its rule's
        length from ``now``, as its due time counts from ``now`` (no event's
        date stretches its action)."""
        if action.expires_at is None or action.created_at <= now:
            return None
        return min(action.expires_at, now + (action.expires_at - action.created_at))

    def _note_policy(self, action: Action) -> None:
        """Warn once per policy when an action names another policy than the
        one whose delays were loaded."""
        if self._policy_ref is None:
            return
        if not action.actor.startswith(_POLICY_PREFIX) or "#" not in action.actor:
            return
        ref = action.actor[len(_POLICY_PREFIX) :].rpartition("#")[0]
        if ref == self._policy_ref or ref in self._warned_policies:
            return
        self._warned_policies.add(ref)
        log.warning(
            "actions of policy %s are taken in, but the delays loaded are those "
            "of policy %s: their rules' delays follow %s by rule id; hint: pass "
            "--policy with the policy file of %s",
            ref,
            self._policy_ref,
            self._policy_ref,
            ref,
        )

    def _take_in(self, now: datetime, summary: PassSummary) -> None:
        if not self._recovered:
            # a dispatcher killed between putting a row in held and the
            # breaker's verdict left it so: finish the check once, at start
            self._recovered = True
            for action in self.ledger.stuck("held", _TAKING_IN):
                self._check_rate(action, now, summary)
        for action in self.ledger.untaken():
            self._note_policy(action)
            ends = self.expires_at(action, now)
            if not _breakable(action):
                summary.taken_in += self.ledger.add(
                    action.action_id, self.due_at(action, now), expires_at=ends
                )
                continue
            # the row goes in held, so nobody sends it before the breaker has
            # looked; only the dispatcher whose row went in counts the action
            if not self.ledger.add(
                action.action_id,
                self.due_at(action, now),
                state="held",
                last_error=_TAKING_IN,
                expires_at=ends,
            ):
                continue
            self._check_rate(action, now, summary)

    def _check_rate(self, action: Action, now: datetime, summary: PassSummary) -> None:
        """Let the breaker count a row being taken in; free or hold it."""
        # an action dated ahead of the pass counts now: one dated far ahead
        # would otherwise move its rule's windows there and leave the rest
        # too late to be counted
        reason = self.breaker.runaway(action.actor, min(action.created_at, now))
        if reason is None:
            self.ledger.set_state(
                action.action_id, "pending", leaving=("held",), error=""
            )
            summary.taken_in += 1
            return
        review = self._send_to_review(action, reason, now)
        self.ledger.set_state(
            action.action_id,
            "held",
            leaving=("held",),
            error=f"{reason}; sent to review as {review}",
        )
        summary.held += 1

    def _send_to_review(self, action: Action, reason: str, now: datetime) -> str:
        review = Action(
            action_id=stable_id("act", action.action_id, BREAKER_ACTOR),
            verdict_id=action.verdict_id,
            event_id=action.event_id,
            type="send_to_review",
            target_type=action.target_type,
            target=action.target,
            mode=action.mode,
            actor=BREAKER_ACTOR,
            reason=f"held {action.type} {action.action_id} of {action.actor}: {reason}",
            created_at=now,
        )
        self.ledger.store.write_actions([review])
        log.warning("breaker held action %s: %s", action.action_id, reason)
        return review.action_id

    def _expire(self, now: datetime, summary: PassSummary) -> None:
        for record in self.ledger.expiring(now):
            action = self.ledger.action(record.action_id)
            ends = _ends(action, record)
            if record.state == "dispatched" or record.attempts > 0:
                # an attempt that timed out or was cut off may have reached
                # the platform: take it back all the same (the platform
                # applies a reversal of what it never saw as nothing)
                try:
                    self.ledger.add_reversal(
                        record.action_id,
                        EXPIRY_ACTOR,
                        f"expired at {ends}",
                        now,
                        send=True,
                        due=_after_lease(record, now, self._lease),
                    )
                except ConfigError:
                    continue
                if record.state != "dispatched":
                    # in force, as a dispatched action, until the platform
                    # confirms the reversal (the reversal's 2xx marks it expired)
                    self.ledger.set_state(
                        record.action_id,
                        "dispatched",
                        leaving=(record.state,),
                        error=f"expired at {ends} after an attempt that may have "
                        "reached the platform; it counts as in force until the "
                        "platform confirms the reversal that is sent",
                    )
            elif self.ledger.set_state(
                record.action_id,
                "expired",
                leaving=(record.state,),
                error=f"expired at {ends} before it was dispatched",
            ):
                summary.expired += 1

    def _send_due(self, started: datetime, summary: PassSummary) -> None:
        for record in self.ledger.due(started):
            now = self._moment(started)
            delivery = self._delivery(record)
            if delivery is None:
                continue
            found = self._adapter(delivery, record, now, summary)
            if found is None:
                continue
            adapter_name, adapter = found
            action_type = delivery.action.type
            budgeted = (
                delivery.operation == "apply"
                and _breakable(delivery.action)
                and self.breaker.has_budget(action_type)
            )
            # only the dispatcher that claimed the action looks at the budget,
            # so that no other can hold it meanwhile or take its slot; the
            # claim numbers the attempt, telling it apart from one another
            # dispatcher makes after this one's lease
            attempt = self.ledger.claim(
                record.action_id, now, now + self._lease, adapter_name
            )
            if attempt is None:
                continue
            if budgeted:
                reason = self.breaker.take_budget(
                    action_type, record.action_id, attempt, now
                )
                if reason is not None:
                    review = self._send_to_review(delivery.action, reason, now)
                    summary.held += self.ledger.hold_unsent(
                        record.action_id, f"{reason}; sent to review as {review}"
                    )
                    continue
            self._attempt(adapter, delivery, record, now, summary)
            # only now: if the attempt failed half-way (sent, but not marked
            # dispatched) the slot stays taken until the action is recorded
            # as dispatched, or for an hour
            if budgeted:
                self._give_back(action_type, record.action_id, attempt)

    def _give_back(self, action_type: str, action_id: str, attempt: int) -> None:
        try:
            self.breaker.give_back(action_type, action_id, attempt)
        except StorageError as exc:
            log.warning(
                "the budget slot of action %s was not given back (it stays "
                "taken until the action is recorded as dispatched, or for an "
                "hour): %s",
                action_id,
                exc,
            )

    def _delivery(self, record: DispatchRecord) -> Delivery | None:
        target_id = record.reversal_of or record.action_id
        action = self.ledger.action(target_id)
        if action is None:
            self.ledger.set_state(
                record.action_id,
                "failed",
                leaving=("pending",),
                error=f"the action {target_id} is missing from the store",
            )
            return None
        if record.reversal_of is None:
            action = _clamped(action, record)
            return Delivery(
                record.action_id, "apply", action, action.actor, action.reason
            )
        applied = self.ledger.record(target_id)
        if applied is not None:
            action = _clamped(action, applied)
        reversal = self.ledger.reversal(record.action_id)
        actor = reversal.actor if reversal else EXPIRY_ACTOR
        reason = reversal.reason if reversal else "reversal"
        return Delivery(record.action_id, "reverse", action, actor, reason)

    def _adapter(
        self,
        delivery: Delivery,
        record: DispatchRecord,
        now: datetime,
        summary: PassSummary,
    ) -> tuple[str, Adapter] | None:
        """The adapter to send through, by name: a reversal's is the one its
        action's attempt went through (the current route for rows recorded
        before the ledger kept it). None leaves the row pending, saying why."""
        later = now + self.config.retry.max_backoff
        applied = (
            self.ledger.record(record.reversal_of)
            if record.reversal_of is not None
            else None
        )
        if applied is not None and applied.adapter:
            adapter = self._named(applied.adapter)
            if adapter is None:
                missing = (
                    "which could not be set up (a warning says why)"
                    if applied.adapter in self.config.adapters
                    else "which the config no longer has"
                )
                why = (
                    f"{delivery.action.action_id} was sent through adapter "
                    f"{applied.adapter!r}, {missing}, so its reversal waits (it "
                    "is never sent through another); hint: put "
                    f"[adapters.{applied.adapter}] back in the config"
                )
                self.ledger.retry_later(record.action_id, later, why)
                summary.waiting_for_adapter += 1
                log.warning("reversal %s waits: %s", record.action_id, why)
                return None
            return applied.adapter, adapter
        name = self.config.adapter_for(delivery.action.type)
        adapter = self.adapters.get(name) if name else None
        if name is None or adapter is None:
            self.ledger.retry_later(
                record.action_id,
                later,
                f"no adapter is routed for {delivery.action.type}; hint: add "
                f"routes.{delivery.action.type} or routes.default to the config",
            )
            return None
        return name, adapter

    def _named(self, name: str) -> Adapter | None:
        """The adapter ``name``, built now if configured but not yet built."""
        found = self.adapters.get(name)
        if found is not None or name not in self.config.adapters:
            return found
        if self._build is None:
            log.warning("adapter %s is configured but was not built", name)
            return None
        try:
            found = self.adapters[name] = self._build(name)
        except ConfigError as exc:
            log.warning("adapter %s cannot be built: %s", name, exc)
            return None
        return found

    def _attempt(
        self,
        adapter: Adapter,
        delivery: Delivery,
        record: DispatchRecord,
        now: datetime,
        summary: PassSummary,
    ) -> None:
        attempts = record.attempts + 1
        try:
            _send(adapter, delivery)
        except AdapterError as exc:
            refused_enough = attempts >= self.config.retry.max_attempts
            counted = not exc.throttled
            if exc.permanent or (refused_enough and counted and not exc.unreachable):
                self.ledger.set_state(
                    record.action_id, "failed", leaving=("pending",), error=str(exc)
                )
                summary.failed += 1
                log.error("action %s failed: %s", record.action_id, exc)
            else:
                wait = self._wait(exc, attempts)
                self.ledger.retry_later(
                    record.action_id, now + wait, str(exc), counted=counted
                )
                summary.retrying += 1
                log.warning("action %s will be retried: %s", record.action_id, exc)
            return
        marked = self.ledger.set_state(
            record.action_id, "dispatched", leaving=("pending",), dispatched_at=now
        )
        if delivery.operation == "reverse":
            summary.reversals_sent += 1
            final = "expired" if delivery.actor == EXPIRY_ACTOR else "reversed"
            self.ledger.set_state(
                delivery.action.action_id, final, leaving=("dispatched",)
            )
            return
        summary.dispatched += 1
        if not marked:
            self._sent_after_all(record.action_id, now)

    def _wait(self, exc: AdapterError, attempts: int) -> timedelta:
        """How long to wait after a refusal: the platform's ``Retry-After``
        (capped at the longest back-off), else the back-off."""
        if exc.retry_after is not None:
            ceiling = self.config.retry.max_backoff.total_seconds()
            return timedelta(seconds=min(max(exc.retry_after, 1.0), ceiling))
        return _backoff(max(attempts, 1), self.config, self._rng)

    def _sent_after_all(self, action_id: str, now: datetime) -> None:
        """Record an action that went out while its row moved on.

        Reversed by hand meanwhile: it is taken back. Expired meanwhile: the
        next pass reverses it as an expired action in force. Held or failed
        by another dispatcher whose attempt began after this one's lease: it
        is in force all the same, and recorded so.
        """
        found = self.ledger.record(action_id)
        was = found.state if found is not None else None
        if was not in ("reversed", "expired", "held", "failed"):
            return
        self.ledger.set_state(
            action_id, "dispatched", leaving=(was,), dispatched_at=now
        )
        log.warning("action %s was sent while it was marked %s", action_id, was)
        if was == "reversed":
            self.ledger.queue_reversal(action_id, now)


#: What a held row says while the breaker looks at it during take-in.
_TAKING_IN = "being taken in: the breaker is checking its rule's rate"


def _ends(action: Action | None, record: DispatchRecord) -> str:
    """When an action ended, as ISO text: its row's clamped expiry, else its own."""
    if record.expires_at:
        return parse_utc(record.expires_at).isoformat()
    return action.expires_at.isoformat() if action and action.expires_at else ""


def _clamped(action: Action, record: DispatchRecord) -> Action:
    """``action`` with its row's clamped expiry, when it has one."""
    if not record.expires_at:
        return action
    return msgspec.structs.replace(action, expires_at=parse_utc(record.expires_at))


def _after_lease(record: DispatchRecord, now: datetime, lease: timedelta) -> datetime:
    """When a reversal of ``record``'s action may go: after the lease of an
    attempt that may still be sending it (at most ``lease`` from now), so
    that the reversal never reaches the platform before the action.

    A failed or held row has no attempt in flight: its last one ended (the
    breaker holds an action as an attempt begins, and sends nothing)."""
    if record.state in ("dispatched", "failed", "held") or not record.next_attempt_at:
        return now
    leased = parse_utc(record.next_attempt_at)
    return max(now, min(leased, now + lease))


def _breakable(action: Action) -> bool:
    """Whether the breaker watches ``action``: not reviews, not its own."""
    return action.type != "send_to_review" and action.actor != BREAKER_ACTOR


def reverse_action(
    ledger: DispatchLedger, action_id: str, actor: str, reason: str, now: datetime
) -> str:
    """Reverse an action by hand; return what happens in words.

    An action already sent, or one an attempt may have reached the platform
    with (an attempt was made: it may have timed out after the platform
    applied it, or been cut off), gets a reversal queued for the same
    adapter, and stays (or becomes) ``dispatched`` until the platform
    confirms the reversal; one never attempted is marked ``reversed`` and
    never sent. A
    reversal that failed is named, with how to try it again.
    """
    if not shows_something(actor) or not shows_something(reason):
        raise ConfigError(
            "a reversal needs an actor and a reason; hint: --actor NAME --reason TEXT"
        )
    action = ledger.action(action_id)
    if action is None:
        raise ConfigError(
            f"no action {action_id} in {ledger.path}; hint: `trustwatch actions list`"
        )
    if action.mode != "enforce":
        raise ConfigError(
            f"action {action_id} was recorded in {action.mode} mode and never "
            "dispatched; hint: only enforced actions can be reversed"
        )
    record = ledger.record(action_id)
    if record is None:
        ledger.add(
            action_id,
            action.created_at,
            state="reversed",
            last_error=f"reversed by {actor} before it was taken in",
        )
        ledger.add_reversal(action_id, actor, reason, now, send=False)
        return "reversed before dispatch: nothing was sent"
    if record.reversal_of is not None:
        raise ConfigError(
            f"{action_id} is a reversal; hint: reverse {record.reversal_of} instead"
        )
    _check_no_failed_reversal(ledger, action_id)
    if record.state in ("pending", "held", "failed") and record.attempts > 0:
        due = _after_lease(record, now, CLAIM_LEASE)
        ledger.add_reversal(action_id, actor, reason, now, send=True, due=due)
        # in force, as a dispatched action, until the platform confirms the
        # reversal (its 2xx marks the action reversed; a refusal leaves it so)
        ledger.set_state(
            action_id,
            "dispatched",
            leaving=(record.state,),
            error=f"reversed by {actor} after an attempt that may have reached "
            "the platform; it counts as in force until the platform confirms "
            "the reversal that is sent",
        )
        when = (
            "on the next dispatch pass"
            if due <= now
            else f"on the first dispatch pass from {due:%Y-%m-%d %H:%M:%S} UTC, "
            "once an attempt that may be in flight has ended"
        )
        return (
            "reversal queued: an earlier attempt may have reached the platform, "
            f"so a reversal is sent {when}"
        )
    if record.state in ("pending", "held", "failed"):
        ledger.add_reversal(action_id, actor, reason, now, send=False)
        if ledger.set_state(
            action_id,
            "reversed",
            leaving=(record.state,),
            error=f"reversed by {actor} before dispatch",
        ):
            return "reversed before dispatch: nothing was sent"
        record = ledger.record(action_id) or record
        if record.state == "dispatched":
            ledger.queue_reversal(action_id, now)
            return "reversal queued: it is sent on the next dispatch pass"
        return f"reversed ({record.state})"
    if record.state == "dispatched":
        ledger.add_reversal(action_id, actor, reason, now, send=True)
        return "reversal queued: it is sent on the next dispatch pass"
    raise ConfigError(
        f"action {action_id} is already {record.state}; hint: "
        f"`trustwatch actions show {action_id}`"
    )


def _check_no_failed_reversal(ledger: DispatchLedger, action_id: str) -> None:
    """Raise, with the way out, when ``action_id``'s reversal failed."""
    found = ledger.reversal_of(action_id)
    sent = ledger.record(found.reversal_id) if found is not None else None
    if found is None or sent is None or sent.state != "failed":
        return
    raise ConfigError(
        f"the reversal {found.reversal_id} of action {action_id} failed "
        f"({sent.last_error or 'refused'}), so the action may still be in "
        f"force; hint: `trustwatch actions retry {found.reversal_id} --as NAME "
        "--reason TEXT` queues it again"
    )
