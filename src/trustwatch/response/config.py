"""The response configuration: adapters, which action type goes where, the breaker.

``response.toml`` (see ``docs/examples/response.toml``)::

    poll_interval = "10s"
    delay_secret_env = "TRUSTWATCH_DELAY_SECRET"

    [retry]
    max_attempts = 8
    first_backoff = "30s"
    max_backoff = "1h"

    [adapters.platform]
    kind = "webhook"
    url = "https://platform.example/trustwatch/actions"
    secret_env = "TRUSTWATCH_WEBHOOK_SECRET"

    [routes]
    lock_account = "platform"
    default = "platform"

    [breaker]
    budgets = { lock_account = "100 per minute" }
    default_budget = "100 per minute"

Every error names the file and the key, and ends with a hint.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from trustwatch.decisions.model import ACTION_SEVERITY
from trustwatch.decisions.policy import parse_duration
from trustwatch.enrichment.ips import is_loopback_host
from trustwatch.errors import ConfigError

__all__ = [
    "DEFAULT_BUDGET",
    "AdapterSettings",
    "BreakerSettings",
    "ResponseConfig",
    "RetrySettings",
    "check_webhook_url",
    "load_response_config",
    "parse_budget",
    "response_config_from_dict",
    "shown_variable",
]

AdapterKind = Literal["webhook", "kafka", "log"]
_BUDGET_RE = re.compile(r"^([0-9]+)\s+per\s+(second|minute|hour|day)$", re.ASCII)
_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
#: An environment variable's name as POSIX shells accept it.
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_ADAPTER_KEYS: dict[str, set[str]] = {
    "webhook": {"kind", "url", "secret_env", "timeout", "insecure_http"},
    "kafka": {"kind", "bootstrap_servers", "topic", "timeout"},
    "log": {"kind", "path"},
}


#: The budget of each enforcing type the ``[breaker]`` table does not budget.
DEFAULT_BUDGET = (100, timedelta(minutes=1))
#: Types no budget holds: nothing is sent for ``allow``, and reviews are
#: what the breaker sends instead.
_NEVER_BUDGETED = frozenset({"allow", "send_to_review"})

#: The longest an adapter's ``timeout`` (one whole delivery) may be: well
#: under the five minutes a dispatcher's claim on an action lasts, so that no
#: other dispatcher takes the action over while a delivery is still going.
MAX_ADAPTER_TIMEOUT = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class AdapterSettings:
    """One named adapter: its kind and its settings as written."""

    name: str
    kind: AdapterKind
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """How often and how patiently a refused delivery is tried again."""

    max_attempts: int = 8
    first_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """Budgets per action type and the per-rule runaway check.

    Attributes
    ----------
    budgets
        Action type to ``(count, period)``: at most ``count`` dispatches of
        that type in any ``period``.
    default_budget
        The budget of every enforcing type ``budgets`` does not name (all
        but ``allow`` and ``send_to_review``): the periods are of dispatch
        (clock) time, so a replay of history that would act on everything
        in one pass sends no more than this.
    window
        The length of the windows a rule's rate is counted in.
    rate_factor
        A rule firing more than this many times its usual rate is held.
    rate_floor
        The least usual rate assumed, so that a quiet rule has room to fire.
    decay
        Weight of the past in the usual rate (0 forgets at once).
    """

    budgets: dict[str, tuple[int, timedelta]] = field(default_factory=dict)
    default_budget: tuple[int, timedelta] = DEFAULT_BUDGET
    window: timedelta = timedelta(minutes=1)
    rate_factor: float = 10.0
    rate_floor: float = 5.0
    decay: float = 0.8

    def budget_for(self, action_type: str) -> tuple[int, timedelta] | None:
        """Return ``action_type``'s budget, or ``None`` for a type never held."""
        if action_type in _NEVER_BUDGETED:
            return None
        return self.budgets.get(action_type, self.default_budget)


@dataclass(frozen=True, slots=True)
class ResponseConfig:
    """Checked response settings."""

    adapters: dict[str, AdapterSettings]
    routes: dict[str, str]
    retry: RetrySettings = RetrySettings()
    breaker: BreakerSettings = BreakerSettings()
    poll_interval: timedelta = timedelta(seconds=10)
    delay_secret_env: str = "TRUSTWATCH_DELAY_SECRET"

    def adapter_for(self, action_type: str) -> str | None:
        """Return the adapter name for ``action_type``, or ``None``."""
        return self.routes.get(action_type, self.routes.get("default"))


def parse_budget(text: str) -> tuple[int, timedelta]:
    """Parse ``"100 per minute"`` into ``(100, timedelta(minutes=1))``."""
    match = _BUDGET_RE.match(text.strip())
    if not match or int(match.group(1)) < 1:
        raise ValueError(
            f"{text!r} is not a budget like '100 per minute' "
            "(second, minute, hour or day; at least 1)"
        )
    return int(match.group(1)), timedelta(seconds=_PERIODS[match.group(2)])


def _duration(
    raw: dict[str, Any], key: str, default: timedelta, where: str
) -> timedelta:
    if key not in raw:
        return default
    try:
        return parse_duration(str(raw[key]))
    except ValueError:
        raise ConfigError(
            f"{where}: {key}: {raw[key]!r} is not a duration from 1s to 3650d; "
            "hint: write it as '30s', '15m' or '1h'"
        ) from None


def _number(
    raw: dict[str, Any],
    key: str,
    default: float,
    low: float,
    high: float,
    where: str,
    *,
    above_low: bool = False,
) -> float:
    """Read ``key``: a number from ``low`` (excluded when ``above_low``) to
    ``high``, or ``default`` when absent."""
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: {key} must be a number; hint: {key} = {default}")
    fits = (low < value if above_low else low <= value) and value <= high
    if not fits:
        shown = f"({low:g}, {high:g}]" if above_low else f"[{low:g}, {high:g}]"
        raise ConfigError(
            f"{where}: {key} = {value!r} must be in {shown}; hint: {key} = {default:g}"
        )
    return float(value)


def _unknown(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {unknown}; hint: the known keys are "
            f"{sorted(allowed)}"
        )


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: [{key}] must be a table; hint: see docs/examples/response.toml"
        )
    return value


def _adapter_timeout(value: Any, where: str) -> timedelta:
    """Check an adapter's ``timeout``: one whole delivery, over zero and
    under :data:`MAX_ADAPTER_TIMEOUT`."""
    hint = 'hint: timeout = "10s" (the most one delivery may take, at most 2m)'
    try:
        timeout = parse_duration(str(value))
    except ValueError:
        raise ConfigError(
            f"{where}: timeout: {value!r} is not a duration; {hint}"
        ) from None
    if timeout <= timedelta(0) or timeout > MAX_ADAPTER_TIMEOUT:
        raise ConfigError(
            f"{where}: timeout: {value!r} must be over 0s and at most 2m; {hint}"
        )
    return timeout


def check_webhook_url(url: str, where: str, *, plain_http: bool) -> str:
    """Check a webhook URL; return its ``scheme://host:port`` for messages.

    Plain ``http`` is refused off loopback unless ``plain_http`` (the
    adapter's ``insecure_http = true``): actions and their signatures would
    cross the network readable by anyone on the path.

    Raises
    ------
    ConfigError
        When the URL is malformed, not http(s), has no host, a port out of
        range, credentials in it, or is plain http off loopback.
    """
    example = 'url = "https://platform.example/trustwatch/actions"'
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ConfigError(
            f"{where}: the url is malformed ({exc}); hint: {example}"
        ) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{where}: the url is not an http(s) URL; hint: {example}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{where}: the url carries credentials; hint: trustwatch signs each "
            "request with secret_env, leave user:password out of the url"
        )
    port = port or (443 if parts.scheme == "https" else 80)
    shown = f"[{host}]" if ":" in host else host
    shown = f"{parts.scheme}://{shown}:{port}"
    if parts.scheme == "http" and not plain_http and not is_loopback_host(host):
        raise ConfigError(
            f"{where}: {shown} is plain http off loopback; hint: use https, or "
            "set insecure_http = true only behind a TLS-terminating proxy on "
            "the same host or network segment"
        )
    return shown


#: A variable name as people write them (``TRUSTWATCH_WEBHOOK_SECRET``):
#: capitals, with an underscore or short. Only such a name is shown in a
#: message: a key pasted into ``secret_env`` can look like a lowercase or
#: long name too.
_SHOWN_NAME_RE = re.compile(
    r"[A-Z][A-Z0-9]{0,11}|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", re.ASCII
)


def shown_variable(name: str, key: str) -> str:
    """Return how a message names the variable a ``*_env`` key holds: the
    name itself when it reads as one people write, else by its key."""
    if _SHOWN_NAME_RE.fullmatch(name):
        return f"the environment variable {name}"
    return (
        f"the environment variable {key} names (not shown: if the key itself "
        "was written there, change the key)"
    )


def _check_env_name(value: str, key: str, where: str, example: str) -> None:
    """Refuse a ``*_env`` value that is not a variable name, without showing
    it: it is most likely the secret itself, pasted in by mistake."""
    if _ENV_NAME_RE.fullmatch(value):
        return
    raise ConfigError(
        f"{where}: {key} must name an environment variable (letters, digits, _), "
        f"not hold the key; hint: {key} = {example!r}, with the secret in that "
        "variable (the value given is not shown: if it was the secret, change it)"
    )


def _adapter(name: str, raw: Any, where: str) -> AdapterSettings:
    here = f"{where}: adapters.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{here} must be a table; hint: [adapters.{name}]")
    kind = raw.get("kind")
    if kind not in _ADAPTER_KEYS:
        raise ConfigError(
            f"{here}: kind {kind!r} is not webhook, kafka or log; "
            'hint: kind = "webhook"'
        )
    _unknown(raw, _ADAPTER_KEYS[kind], here)
    needed = {"webhook": ("url", "secret_env"), "kafka": ("bootstrap_servers", "topic")}
    for key in needed.get(kind, ()):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ConfigError(
                f"{here}: {key} (a string) is required; hint: see "
                "docs/examples/response.toml"
            )
    if kind == "webhook":
        _check_env_name(
            raw["secret_env"], "secret_env", here, "TRUSTWATCH_WEBHOOK_SECRET"
        )
    if "timeout" in raw:
        _adapter_timeout(raw["timeout"], here)
    if kind == "webhook":
        plain = raw.get("insecure_http", False)
        if not isinstance(plain, bool):
            raise ConfigError(
                f"{here}: insecure_http must be true or false; hint: leave it "
                "out and use an https url"
            )
        check_webhook_url(raw["url"], here, plain_http=plain)
    return AdapterSettings(name=name, kind=cast(AdapterKind, kind), settings=dict(raw))


def response_config_from_dict(data: dict[str, Any], source: str) -> ResponseConfig:
    """Check and build the response settings from parsed TOML."""
    _unknown(
        data,
        {"poll_interval", "delay_secret_env", "retry", "adapters", "routes", "breaker"},
        source,
    )
    raw_adapters = _table(data, "adapters", source)
    if not raw_adapters:
        raise ConfigError(
            f"{source}: no [adapters.NAME] table; hint: add one, e.g. "
            '[adapters.audit] kind = "log"'
        )
    adapters = {name: _adapter(name, raw, source) for name, raw in raw_adapters.items()}
    routes = _table(data, "routes", source)
    if not routes:
        raise ConfigError(
            f"{source}: [routes] is empty; hint: map action types to "
            'adapters, e.g. default = "audit"'
        )
    for action_type, adapter in routes.items():
        if action_type != "default" and action_type not in ACTION_SEVERITY:
            raise ConfigError(
                f"{source}: routes.{action_type}: not an action type; "
                f"hint: one of {', '.join(ACTION_SEVERITY)} or default"
            )
        if adapter not in adapters:
            raise ConfigError(
                f"{source}: routes.{action_type}: no adapter named "
                f"{adapter!r}; hint: one of {sorted(adapters)}"
            )
    raw_retry = _table(data, "retry", source)
    _unknown(
        raw_retry, {"max_attempts", "first_backoff", "max_backoff"}, f"{source}: retry"
    )
    defaults = RetrySettings()
    retry = RetrySettings(
        max_attempts=int(
            _number(
                raw_retry,
                "max_attempts",
                defaults.max_attempts,
                1,
                1000,
                f"{source}: retry",
            )
        ),
        first_backoff=_duration(
            raw_retry, "first_backoff", defaults.first_backoff, f"{source}: retry"
        ),
        max_backoff=_duration(
            raw_retry, "max_backoff", defaults.max_backoff, f"{source}: retry"
        ),
    )
    raw_breaker = _table(data, "breaker", source)
    here = f"{source}: breaker"
    _unknown(
        raw_breaker,
        {"budgets", "default_budget", "window", "rate_factor", "rate_floor", "decay"},
        here,
    )
    budgets: dict[str, tuple[int, timedelta]] = {}
    for action_type, text in _table(raw_breaker, "budgets", here).items():
        if action_type not in ACTION_SEVERITY:
            raise ConfigError(
                f"{here}: budgets.{action_type}: not an action type; "
                f"hint: one of {', '.join(ACTION_SEVERITY)}"
            )
        if action_type == "send_to_review":
            raise ConfigError(
                f"{here}: budgets.send_to_review: review actions are never "
                "held (they are what the breaker sends instead); hint: remove "
                "it and budget the enforcing types, e.g. lock_account"
            )
        try:
            budgets[action_type] = parse_budget(str(text))
        except ValueError as exc:
            raise ConfigError(
                f"{here}: budgets.{action_type}: {exc}; hint: "
                f'{action_type} = "100 per minute"'
            ) from exc
    base = BreakerSettings()
    default_budget = base.default_budget
    if "default_budget" in raw_breaker:
        try:
            default_budget = parse_budget(str(raw_breaker["default_budget"]))
        except ValueError as exc:
            raise ConfigError(
                f"{here}: default_budget: {exc}; hint: default_budget = "
                '"100 per minute" (raise it, or budget a type in [breaker.budgets])'
            ) from exc
    breaker = BreakerSettings(
        budgets=budgets,
        default_budget=default_budget,
        window=_duration(raw_breaker, "window", base.window, here),
        rate_factor=_number(raw_breaker, "rate_factor", base.rate_factor, 1, 1e6, here),
        rate_floor=_number(
            raw_breaker, "rate_floor", base.rate_floor, 0, 1e9, here, above_low=True
        ),
        decay=_number(raw_breaker, "decay", base.decay, 0, 0.999, here),
    )
    if breaker.rate_factor * breaker.rate_floor < 1:
        raise ConfigError(
            f"{here}: rate_factor {breaker.rate_factor:g} times rate_floor "
            f"{breaker.rate_floor:g} lets no rule fire even once per window, so "
            "every action would be held and no rule could ever learn its rate; "
            f"hint: rate_floor = {base.rate_floor:g} (their product must be at "
            "least 1)"
        )
    secret_env = data.get("delay_secret_env", "TRUSTWATCH_DELAY_SECRET")
    if not isinstance(secret_env, str) or not secret_env.strip():
        raise ConfigError(
            f"{source}: delay_secret_env must name an environment "
            'variable; hint: delay_secret_env = "TRUSTWATCH_DELAY_SECRET"'
        )
    _check_env_name(secret_env, "delay_secret_env", source, "TRUSTWATCH_DELAY_SECRET")
    return ResponseConfig(
        adapters=adapters,
        routes={str(k): str(v) for k, v in routes.items()},
        retry=retry,
        breaker=breaker,
        poll_interval=_duration(data, "poll_interval", timedelta(seconds=10), source),
        delay_secret_env=secret_env,
    )


def load_response_config(path: str | Path) -> ResponseConfig:
    """Load and check ``response.toml``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror}; hint: pass "
            "--config with an existing file"
        ) from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{path}: not valid UTF-8 TOML: {exc}; hint: see "
            "docs/examples/response.toml"
        ) from exc
    return response_config_from_dict(data, str(path))
