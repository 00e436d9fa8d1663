"""Each attack: its volume stays within the configured scale, its truth is right."""

from __future__ import annotations

import ipaddress
from collections import Counter
from urllib.parse import urlsplit

import pytest

from trustwatch.events import (
    AccountCreated,
    Event,
    FileUploaded,
    LinkAccessed,
    Login,
    UrlPosted,
)
from trustwatch.simulation import (
    EICAR_MD5,
    EICAR_SHA1,
    EICAR_SHA256,
    BruteForceScale,
    LinkCampaignScale,
    MalwareSpreadScale,
    Simulation,
    SimulationConfig,
    StuffingScale,
    simulate,
)
from trustwatch.simulation.netblocks import HOSTING

SCALED = SimulationConfig(
    seed=3,
    accounts=1500,
    days=1.0,
    brute_force=BruteForceScale(campaigns=4, attempts=(20, 30), success_rate=0.5),
    credential_stuffing=StuffingScale(
        campaigns=1, ips=(4, 4), usernames=(200, 220), success_rate=0.02
    ),
    phishing_links=LinkCampaignScale(
        campaigns=2, accounts=(2, 3), urls=(5, 6), posts_per_url=(2, 2)
    ),
    malware_links=LinkCampaignScale(campaigns=1, urls=(4, 4), unlisted_share=0.5),
    malware_spread=MalwareSpreadScale(
        uploaders=(6, 6), recipients=(3, 4), link_share=1.0, link_accesses=(10, 12)
    ),
)


@pytest.fixture(scope="module")
def scaled() -> Simulation:
    """A run with every attack at a small, exactly known scale."""
    return simulate(SCALED)


def _events_of(sim: Simulation, attack: str) -> list[Event]:
    ids = set(sim.truth.attacks[attack].event_ids)
    return [e for e in sim.events if e.event_id in ids]


def test_brute_force_hammers_one_account_per_source(scaled: Simulation) -> None:
    failures = Counter(
        (e.ip, e.account)
        for e in _events_of(scaled, "brute_force")
        if isinstance(e, Login) and not e.success
    )
    assert len(failures) == SCALED.brute_force.campaigns
    assert all(20 <= n <= 30 for n in failures.values())


def test_brute_force_truth_splits_taken_over_and_targeted(scaled: Simulation) -> None:
    truth = scaled.truth.attacks["brute_force"]
    wins = {
        e.account
        for e in _events_of(scaled, "brute_force")
        if isinstance(e, Login) and e.success
    }
    assert set(truth.accounts) == wins
    assert len(truth.accounts) + len(truth.targets) == SCALED.brute_force.campaigns


def test_stuffing_wave_uses_few_hosting_sources(scaled: Simulation) -> None:
    truth = scaled.truth.attacks["credential_stuffing"]
    logins = [
        e for e in _events_of(scaled, "credential_stuffing") if isinstance(e, Login)
    ]
    usernames = {e.username for e in logins}
    assert 200 <= len(usernames) <= 220
    assert len(truth.ips) == 4
    blocks = {b.cidr for ip in truth.ips for b in HOSTING if ip in b}
    assert len(blocks) == 1


def test_stuffing_tries_names_that_do_not_exist(scaled: Simulation) -> None:
    logins = [
        e for e in _events_of(scaled, "credential_stuffing") if isinstance(e, Login)
    ]
    unknown = [e for e in logins if e.failure_reason == "invalid_user"]
    assert unknown
    assert all(e.account is None and not e.success for e in unknown)
    wins = [e for e in logins if e.success]
    assert 1 <= len(wins) <= 0.05 * len(logins)


def test_link_campaigns_post_their_urls(scaled: Simulation) -> None:
    truth = scaled.truth.attacks["phishing_links"]
    posted = Counter(
        e.url for e in _events_of(scaled, "phishing_links") if isinstance(e, UrlPosted)
    )
    assert set(posted) == set(truth.urls)
    assert 2 * 5 <= len(truth.urls) <= 2 * 6
    assert set(posted.values()) == {2}


def test_fake_posting_accounts_are_signed_up_first(scaled: Simulation) -> None:
    events = _events_of(scaled, "phishing_links") + _events_of(scaled, "malware_links")
    created = {e.account for e in events if isinstance(e, AccountCreated)}
    posters = {e.account for e in events if isinstance(e, UrlPosted)}
    assert created <= posters
    assert created, "every campaign drew only taken-over accounts"


def test_unlisted_urls_are_kept_out_of_the_intel(scaled: Simulation) -> None:
    intel = set(scaled.intel)
    truth = scaled.truth
    unlisted = truth.unlisted_urls()
    assert unlisted
    assert not unlisted & intel
    assert truth.malicious_urls() - unlisted <= intel
    assert len(truth.attacks["malware_links"].unlisted_urls) == 2


def test_malware_file_spreads_with_eicar_hashes(scaled: Simulation) -> None:
    truth = scaled.truth.attacks["malware_spread"]
    uploads = [
        e for e in _events_of(scaled, "malware_spread") if isinstance(e, FileUploaded)
    ]
    assert len(uploads) == 6
    assert {(e.sha256, e.sha1, e.md5) for e in uploads} == {
        (EICAR_SHA256, EICAR_SHA1, EICAR_MD5)
    }
    assert len({e.account for e in uploads}) == 6
    assert set(truth.hashes) == {EICAR_SHA256, EICAR_SHA1, EICAR_MD5}
    assert set(truth.hashes) <= set(scaled.intel)


def test_malware_links_are_opened_by_many_addresses(scaled: Simulation) -> None:
    opens = Counter(
        e.link_id
        for e in _events_of(scaled, "malware_spread")
        if isinstance(e, LinkAccessed)
    )
    assert len(opens) == 6
    assert all(10 <= n <= 12 for n in opens.values())


def test_attack_infrastructure_uses_documentation_ranges(scaled: Simulation) -> None:
    docs = [
        ipaddress.ip_network("198.51.100.0/24"),
        ipaddress.ip_network("203.0.113.0/24"),
    ]
    literals = 0
    for url in scaled.truth.malicious_urls():
        host = urlsplit(url).hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            continue
        literals += 1
        assert any(address in net for net in docs), url
    assert literals


def test_no_account_is_the_victim_of_two_attacks(scaled: Simulation) -> None:
    seen: Counter[str] = Counter()
    for truth in scaled.truth.attacks.values():
        seen.update(set(truth.accounts) | set(truth.targets))
    assert seen and max(seen.values()) == 1
