"""How big each simulated attack is: counts and ranges, validated.

A range ``(lo, hi)`` means a whole number drawn uniformly from ``lo`` to ``hi``
inclusive; a share is a probability in ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from trustwatch.errors import ConfigError

__all__ = [
    "BruteForceScale",
    "LinkCampaignScale",
    "MalwareSpreadScale",
    "StuffingScale",
]


def _check(owner: object, name: str) -> None:
    """Validate every field of a scale dataclass, naming ``name`` on error."""
    for f in fields(owner):  # type: ignore[arg-type]
        value = getattr(owner, f.name)
        where = f"{name}.{f.name}"
        if isinstance(value, tuple):
            lo, hi = value
            if not 0 <= lo <= hi:
                raise ConfigError(
                    f"{where}={value!r} is not a range; "
                    "hint: use (lo, hi) with 0 <= lo <= hi"
                )
        elif isinstance(value, float):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{where}={value!r}; hint: a share lies in [0, 1]")
        elif value < 0:
            raise ConfigError(f"{where}={value!r}; hint: a count cannot be negative")


@dataclass(frozen=True)
class BruteForceScale:
    """One source guessing one account's password, many times in minutes.

    Parameters
    ----------
    campaigns
        Number of separate attacks (each: one source, one account).
    attempts
        Failed guesses per attack.
    success_rate
        Chance an attack ends with a correct guess and a takeover.
    """

    campaigns: int = 3
    attempts: tuple[int, int] = (30, 150)
    success_rate: float = 0.5

    def validate(self, name: str = "brute_force") -> None:
        """Raise :class:`~trustwatch.errors.ConfigError` on a bad value."""
        _check(self, name)


@dataclass(frozen=True)
class StuffingScale:
    """A wave of leaked credentials replayed from a few hosting addresses.

    Parameters
    ----------
    campaigns
        Number of waves.
    ips
        Source addresses per wave, all in one hosting provider's block.
    usernames
        Distinct usernames tried per wave.
    invalid_share
        Fraction of those usernames that do not exist on the platform.
    success_rate
        Fraction of existing usernames whose leaked password still works
        (at least one per wave when above zero).
    """

    campaigns: int = 1
    ips: tuple[int, int] = (3, 8)
    usernames: tuple[int, int] = (300, 600)
    invalid_share: float = 0.35
    success_rate: float = 0.015

    def validate(self, name: str = "credential_stuffing") -> None:
        """Raise :class:`~trustwatch.errors.ConfigError` on a bad value."""
        _check(self, name)
        if self.ips[0] < 1:
            raise ConfigError(f"{name}.ips={self.ips!r}; hint: a wave needs a source")


@dataclass(frozen=True)
class LinkCampaignScale:
    """Accounts posting malicious URLs (phishing pages or malware downloads).

    Parameters
    ----------
    campaigns
        Number of campaigns (each: one set of URLs and its posting accounts).
    accounts
        Posting accounts per campaign.
    urls
        Distinct URLs per campaign.
    posts_per_url
        Times each URL is posted.
    fake_account_share
        Fraction of posting accounts signed up by the attacker (the rest are
        taken-over accounts of real users).
    unlisted_share
        Fraction of URLs kept out of the intel feed (at least one per
        campaign when above zero).
    """

    campaigns: int = 3
    accounts: tuple[int, int] = (2, 4)
    urls: tuple[int, int] = (4, 10)
    posts_per_url: tuple[int, int] = (1, 3)
    fake_account_share: float = 0.5
    unlisted_share: float = 0.25

    def validate(self, name: str = "link_campaign") -> None:
        """Raise :class:`~trustwatch.errors.ConfigError` on a bad value."""
        _check(self, name)
        if self.accounts[0] < 1 or self.posts_per_url[0] < 1:
            raise ConfigError(
                f"{name}: accounts={self.accounts!r}, "
                f"posts_per_url={self.posts_per_url!r}; hint: both start at 1"
            )


@dataclass(frozen=True)
class MalwareSpreadScale:
    """One malicious file passed on from account to account.

    Parameters
    ----------
    campaigns
        Number of outbreaks (each starts from one taken-over account).
    uploaders
        Accounts that upload and share the file per outbreak.
    recipients
        Recipients per share.
    link_share
        Chance an uploader also makes a public link to the file.
    link_accesses
        Opens of each such link, by many different addresses.
    """

    campaigns: int = 1
    uploaders: tuple[int, int] = (8, 20)
    recipients: tuple[int, int] = (3, 12)
    link_share: float = 0.5
    link_accesses: tuple[int, int] = (5, 30)

    def validate(self, name: str = "malware_spread") -> None:
        """Raise :class:`~trustwatch.errors.ConfigError` on a bad value."""
        _check(self, name)
        if self.uploaders[0] < 1 or self.recipients[0] < 1:
            raise ConfigError(
                f"{name}: uploaders={self.uploaders!r}, "
                f"recipients={self.recipients!r}; hint: both start at 1"
            )
