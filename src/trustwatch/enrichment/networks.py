"""Networks whose addresses say little about where the user is.

A login from a satellite link, an aircraft's Wi-Fi, a privacy relay or a
consumer VPN egresses far from the person: Starlink users appear in the
country of the ground station, in-flight Wi-Fi in the operator's home
country, iCloud Private Relay users at a CDN's edge. Distance-based checks
(impossible travel) must neither fire on such a login nor keep it as the
account's last known location.

:func:`network_kind` recognises them from the autonomous system, by number
where it is well known and by words in the AS name otherwise (the bundled
offline geolocation gives names only). The lists are short and explicit on
purpose: a hosting provider in general is *not* one of these, because an
attacker's proxy looks exactly like it.
"""

from __future__ import annotations

import re

__all__ = ["ROAMING_KINDS", "network_kind"]

ROAMING_KINDS = ("satellite", "in_flight", "relay", "vpn")
"""The kinds :func:`network_kind` returns, besides ``""`` for an ordinary one."""

_BY_NUMBER: dict[int, str] = {
    14593: "satellite",  # SpaceX Starlink
    27277: "satellite",  # SpaceX Starlink
    6621: "satellite",  # Hughes Network Systems
    7155: "satellite",  # Viasat
    36183: "relay",  # Akamai's egress for iCloud Private Relay
}

_BY_NAME: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "satellite",
        re.compile(
            r"starlink|spacex|viasat|hughes network|hughesnet|inmarsat|oneweb"
            r"|eutelsat|marlink|speedcast|kvh industries|iridium|o3b"
        ),
    ),
    (
        "in_flight",
        re.compile(
            r"\bgogo\b|aircell|panasonic avionics|global eagle|anuvu|sitaonair"
            r"|sita onair|inflight|in-flight|onair"
        ),
    ),
    ("relay", re.compile(r"private relay|icloud")),
    (
        "vpn",
        re.compile(
            r"\bvpn\b|nordvpn|expressvpn|surfshark|mullvad|31173 services"
            r"|proton ag|private internet access|ipvanish|cyberghost|windscribe"
        ),
    ),
)


def network_kind(asn: int | None, as_name: str | None) -> str:
    """Say whether a network egresses far from its users, and how.

    Parameters
    ----------
    asn
        The autonomous system number, when known.
    as_name
        The autonomous system's name, when known.

    Returns
    -------
    str
        One of :data:`ROAMING_KINDS`, or ``""`` for an ordinary network (or
        an unknown one).

    Examples
    --------
    >>> network_kind(14593, None)
    'satellite'
    >>> network_kind(None, "Gogo Business Aviation LLC")
    'in_flight'
    >>> network_kind(None, "Deutsche Telekom AG")
    ''
    """
    if asn is not None and asn in _BY_NUMBER:
        return _BY_NUMBER[asn]
    if not as_name:
        return ""
    lowered = as_name.lower()
    for kind, pattern in _BY_NAME:
        if pattern.search(lowered):
            return kind
    return ""
