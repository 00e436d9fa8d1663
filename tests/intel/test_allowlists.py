"""Allow-lists from MISP warninglists: what they cover, and where they apply."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.errors import ConfigError
from trustwatch.intel import IndicatorStore, indicator_from_text
from trustwatch.intel.allowlists import AllowList, WarningList
from trustwatch.runtime.embedded import load_intel, run_embedded
from trustwatch.storage.sqlite import SqliteStore
from trustwatch.testing import synthetic_events

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def listed(allow: AllowList, text: str) -> str | None:
    """The list that holds the indicator written as ``text``."""
    return allow.reason(indicator_from_text(text, "test"))


def warning_list(
    name: str, type: str, entries: list[str], matching: list[str] | None = None
) -> WarningList:
    return WarningList(
        name=name, type=type, entries=entries, matching_attributes=matching or []
    )


def write_list(path: Path, **fields: Any) -> Path:
    body = {"name": "list", "type": "string", "list": [], "version": 1, **fields}
    path.write_text(json.dumps(body))
    return path


# --- real warninglists --------------------------------------------------------------


def _real(datasets_dir: Path, name: str) -> Path:
    folder = datasets_dir / name
    if not folder.is_dir():
        reason = f"{folder} is absent: the real warninglists are not on this machine"
        if os.environ.get("TRUSTWATCH_REQUIRE_DATASETS") == "1":
            pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_DATASETS=1 requires it")
        pytest.skip(reason)
    return folder


@pytest.fixture(scope="module")
def top_lists(datasets_dir: Path) -> AllowList:
    return AllowList.from_paths(_real(datasets_dir, "misp-warninglists-toplists"))


@pytest.fixture(scope="module")
def aux_dir(datasets_dir: Path) -> Path:
    return _real(datasets_dir, "misp-warninglists-aux")


def test_real_top_lists_load(top_lists: AllowList) -> None:
    assert len(top_lists) == 5
    assert top_lists.entries > 130_000
    assert top_lists.skipped_entries == {}


@pytest.mark.parametrize(
    "value",
    ["google.com", "www.google.com", "http://google.com/", "https://google.com"],
)
def test_top_domain_and_its_bare_urls_are_allow_listed(
    top_lists: AllowList, value: str
) -> None:
    assert listed(top_lists, value) == "Top 1000 website from Alexa"


@pytest.mark.parametrize(
    "value",
    [
        "https://sites.google.com/view/secure-login",
        "https://www.google.com/url?q=http://evil.example/",
        "http://google.com/?next=evil",
        "http://google.com/login.php",
        "evil-google.example",
        "evil.github.io",
    ],
)
def test_paths_on_listed_hosts_and_lookalikes_stay_indicators(
    top_lists: AllowList, value: str
) -> None:
    assert listed(top_lists, value) is None


def test_shared_hosting_suffix_covers_itself_not_its_users(
    top_lists: AllowList,
) -> None:
    assert listed(top_lists, "github.io") is not None
    assert listed(top_lists, "phish.github.io") is None


def test_empty_file_hashes_are_stopped(aux_dir: Path) -> None:
    allow = AllowList.from_paths(aux_dir / "lists_empty-hashes_list.json")
    name = "List of known hashes for empty files"
    assert listed(allow, EMPTY_MD5) == name
    assert listed(allow, EMPTY_SHA256.upper()) == name
    assert listed(allow, "0" * 32) is None
    # a hash list never covers a domain
    assert listed(allow, "google.com") is None


def test_addresses_in_listed_networks_are_stopped(aux_dir: Path) -> None:
    allow = AllowList.from_paths(
        [aux_dir / "lists_parking-domain_list.json", aux_dir / "lists_vpn-ipv4*"]
    )
    assert listed(allow, "103.224.183.10") == "Parking domains"  # 103.224.182.0/23
    assert listed(allow, "1.13.2.3") is not None  # 1.12.0.0/14, a VPN range
    assert listed(allow, "1.12.128.0/17") is not None
    assert listed(allow, "1.12.0.0/13") is None  # wider than the listed network
    assert listed(allow, "192.0.2.1") is None


# --- semantics, on small lists ----------------------------------------------------


def test_hostname_lists_cover_subdomains_down_to_the_registrable_domain() -> None:
    allow = AllowList(
        [
            warning_list(
                "hosts", "hostname", [".Example.COM", "*.cdn.example.net", "co.uk"]
            )
        ]
    )
    assert listed(allow, "example.com") == "hosts"
    assert listed(allow, "a.b.example.com") == "hosts"
    assert listed(allow, "x.cdn.example.net") == "hosts"
    assert listed(allow, "example.net") is None
    assert listed(allow, "shop.co.uk") is None  # a public suffix covers nothing
    assert listed(allow, "notexample.com") is None


def test_string_lists_match_exact_values_only() -> None:
    allow = AllowList(
        [
            warning_list(
                "exact",
                "string",
                ["example.com", "HTTP://Known.Example/path", "198.51.100.1"],
            )
        ]
    )
    assert listed(allow, "example.com") == "exact"
    assert listed(allow, "http://example.com/") == "exact"
    assert listed(allow, "www.example.com") is None
    assert listed(allow, "http://known.example/path") == "exact"
    assert listed(allow, "http://known.example/other") is None
    assert listed(allow, "198.51.100.1") == "exact"


def test_substring_and_regex_lists() -> None:
    allow = AllowList(
        [
            warning_list("sub", "substring", ["tracker", "ad-serv"], ["domain"]),
            warning_list("re", "regex", ["/^cdn[0-9]+\\./i", "([bad"], ["domain"]),
        ]
    )
    assert listed(allow, "my-tracker.example") == "sub"
    assert listed(allow, "x.ad-serve.example") == "sub"
    assert listed(allow, "CDN42.example") == "re"
    assert listed(allow, "plain.example") is None
    assert listed(allow, "http://tracker.example/x") is None  # domains only
    assert allow.skipped_entries == {"re": 1}
    assert allow.entries == 3


def test_cidr_lists_hold_ipv6_and_skip_bad_entries() -> None:
    allow = AllowList(
        [warning_list("nets", "cidr", ["2001:db8::/32", "203.0.113.7", "nonsense"])]
    )
    assert listed(allow, "2001:db8::1") == "nets"
    assert listed(allow, "203.0.113.7") == "nets"
    assert listed(allow, "203.0.113.8") is None
    assert listed(allow, "http://[2001:db8::2]/") == "nets"
    assert listed(allow, "http://[2001:db8::2]/payload") is None
    assert allow.skipped_entries == {"nets": 1}


def test_matching_attributes_choose_indicator_types() -> None:
    allow = AllowList(
        [
            warning_list("for-urls", "hostname", ["a.example"], ["url"]),
            warning_list("for-domains", "hostname", ["b.example"], ["hostname"]),
            warning_list("for-all", "string", ["c.example"]),
        ]
    )
    assert listed(allow, "http://a.example/") == "for-urls"
    assert listed(allow, "a.example") is None
    assert listed(allow, "b.example") == "for-domains"
    assert listed(allow, "http://b.example/") is None
    assert listed(allow, "c.example") == "for-all"
    assert listed(allow, "http://c.example/") == "for-all"


def test_the_first_list_that_holds_a_value_is_named() -> None:
    allow = AllowList(
        [
            warning_list("first", "hostname", ["example.com"]),
            warning_list("second", "string", ["www.example.com"]),
        ]
    )
    assert listed(allow, "www.example.com") == "first"
    assert allow.names == ("first", "second")


# --- files --------------------------------------------------------------------------


def test_from_paths_reads_folders_of_both_layouts_and_globs(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    write_list(flat / "one.json", name="one", list=["one.example"])
    (flat / "notes.txt").write_text("not a list")
    nested = tmp_path / "lists" / "two"
    nested.mkdir(parents=True)
    write_list(nested / "list.json", name="two", list=["two.example"])
    allow = AllowList.from_paths([flat, tmp_path / "lists", str(flat / "*.json")])
    assert allow.names == ("one", "two")
    assert listed(allow, "two.example") == "two"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a MISP warninglist"),
        ('{"name": "x", "type": "fuzzy", "list": []}', "has type 'fuzzy'"),
        ('{"name": "x", "list": []}', "not a MISP warninglist"),
    ],
)
def test_bad_list_files_are_config_errors(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "list.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        AllowList.from_paths(path)
    assert "hint:" in str(caught.value)


def test_missing_paths_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        AllowList.from_paths(tmp_path / "none.json")
    with pytest.raises(ConfigError, match="matches no file"):
        AllowList.from_paths(str(tmp_path / "*.json"))
    with pytest.raises(ConfigError, match=r"holds no \.json file"):
        AllowList.from_paths(tmp_path)


# --- store and runtime --------------------------------------------------------------


def _feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.txt"
    path.write_text(
        "google.example\nhttp://google.example/\nhttp://google.example/login\n"
        f"{EMPTY_MD5}\nevil.example\n"
    )
    return path


def _allow() -> AllowList:
    return AllowList(
        [
            warning_list("top", "hostname", ["google.example"]),
            warning_list("empty", "string", [EMPTY_MD5], ["md5"]),
        ]
    )


def test_store_refuses_and_counts_allow_listed_indicators() -> None:
    items = [
        indicator_from_text(text, "t")
        for text in ("mail.google.example", EMPTY_MD5, "evil.example")
    ]
    store = IndicatorStore(items, allowlist=_allow())
    assert len(store) == 1
    assert dict(store.allowlisted) == {"top": 1, "empty": 1}
    assert store.match_host("mail.google.example") == []
    assert store.match_hash(EMPTY_MD5) == []
    assert store.match_host("evil.example")


def test_set_allowlist_drops_indicators_already_held() -> None:
    items = [indicator_from_text(t, "t") for t in ("google.example", "evil.example")]
    store = IndicatorStore(items)
    assert store.match_host("google.example")
    assert store.set_allowlist(_allow()) == 1
    assert store.match_host("google.example") == []
    assert dict(store.allowlisted) == {"top": 1}
    store.add(indicator_from_text("www.google.example", "t"))
    assert len(store) == 1 and store.allowlisted["top"] == 2


def test_load_intel_turns_allow_listed_indicators_into_dead_letters(
    tmp_path: Path,
) -> None:
    intel = load_intel([_feed(tmp_path)], allowlist=_allow())
    assert len(intel.store) == 2  # the URL with a path, and evil.example
    assert dict(intel.allowlisted) == {"top": 2, "empty": 1}
    letters = [letter for letter in intel.rejected if letter.reason == "allow_listed"]
    assert [letter.location for letter in letters] == ["line 1", "line 2", "line 4"]
    assert "'top'" in letters[0].message and "hint:" in letters[0].message
    assert letters[2].raw == EMPTY_MD5
    with SqliteStore(tmp_path / "db.sqlite") as store:
        events = tmp_path / "events.jsonl"
        events.write_bytes(
            b"\n".join(msgspec.json.encode(e) for e in synthetic_events(50))
        )
        run_embedded([events], store, intel=intel)
        stored = {d.reason for d in store.dead_letters()}
    assert stored == {"allow_listed"}


def test_run_command_takes_allowlists(tmp_path: Path, capsys: Any) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(msgspec.json.encode(e) for e in synthetic_events(50)))
    allow = write_list(
        tmp_path / "top.json", name="top", type="hostname", list=["google.example"]
    )
    db = tmp_path / "db.sqlite"
    code = main(
        [
            "run",
            str(events),
            "--intel",
            str(_feed(tmp_path)),
            "--allowlist",
            str(allow),
            "--db",
            str(db),
        ]
    )
    assert code == ExitCode.OK
    capsys.readouterr()
    assert main(["dead-letters", "--db", str(db)]) == ExitCode.OK
    assert "allow_listed" in capsys.readouterr().out
    code = main(["run", str(events), "--allowlist", str(allow), "--db", str(db)])
    assert code == ExitCode.BAD_CONFIG
    assert "--allowlist needs --intel" in capsys.readouterr().err
