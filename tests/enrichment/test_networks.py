"""Networks that egress far from their users, by AS number or name."""

import pytest

from trustwatch.enrichment.networks import ROAMING_KINDS, network_kind


@pytest.mark.parametrize(
    ("asn", "name", "kind"),
    [
        (14593, None, "satellite"),
        (None, "SPACEX-STARLINK", "satellite"),
        (None, "Viasat Inc.", "satellite"),
        (None, "Gogo Business Aviation LLC", "in_flight"),
        (None, "Panasonic Avionics Corporation", "in_flight"),
        (36183, "Akamai Technologies, Inc.", "relay"),
        (None, "NordVPN S.A.", "vpn"),
        (None, "31173 Services AB", "vpn"),
        (3320, "Deutsche Telekom AG", ""),
        (None, "DIGITALOCEAN-ASN", ""),
        (None, "M247 Europe SRL", ""),
        (None, "Gogoro Inc.", ""),
        (None, None, ""),
        (None, "", ""),
    ],
)
def test_network_kind(asn, name, kind):
    assert network_kind(asn, name) == kind
    assert kind == "" or kind in ROAMING_KINDS
