"""``trustwatch intel sync|list|show|match`` and ``run --intel-db``, end to end."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import cli, main
from trustwatch.testing import synthetic_events

HASH = "44d88612fea8a8f36de82e1278abb02f"
URLHAUS = (
    "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
    '"7","2026-02-28 10:00:00","http://198.51.100.7:8080/bin.sh","online",'
    '"2026-02-28 10:00:00","malware_download","elf",'
    '"https://urlhaus.example/url/7/","tester"\n'
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over loopback HTTP (with Last-Modified), and its URL."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def feed_list(tmp_path: Path, served: tuple[Path, str]) -> Path:
    folder, base = served
    (folder / "urlhaus.csv").write_text(URLHAUS)
    (tmp_path / "team.txt").write_text("evil[.]example\n203.0.113.0/24\nbad value\n")
    (tmp_path / "hashes.txt").write_text(f"{HASH};EICAR-Test-File\n")
    path = tmp_path / "feeds.toml"
    path.write_text(
        f"""
        [[feeds]]
        name = "urlhaus"
        url = "{base}/urlhaus.csv"
        format = "urlhaus_csv"
        every = "15m"

        [[feeds]]
        name = "team"
        path = "team.txt"
        threat = "phishing"

        [[feeds]]
        name = "hashes"
        path = "hashes.txt"
        format = "hashlist"
        """
    )
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def test_sync_prints_a_table_and_then_reports_not_due(tmp_path, feed_list) -> None:
    db = str(tmp_path / "intel.sqlite")
    code, out = _invoke("intel", "sync", "--feeds", str(feed_list), "--db", db)
    assert code == ExitCode.OK
    assert "urlhaus" in out and "updated" in out
    assert "invalid_value 1" in out
    assert "team rejected team.txt:3 (invalid_value)" in out
    code, out = _invoke(
        "intel", "sync", "--feeds", str(feed_list), "--db", db, "--json"
    )
    assert code == ExitCode.OK
    report = json.loads(out)
    assert {f["status"] for f in report["feeds"]} == {"skipped_not_due"}


def test_sync_json_list_show_and_match_round_trip(tmp_path, feed_list, capsys) -> None:
    db = str(tmp_path / "intel.sqlite")
    code, out = _invoke(
        "intel", "sync", "--feeds", str(feed_list), "--db", db, "--json"
    )
    assert code == ExitCode.OK
    feeds = {f["feed"]: f for f in json.loads(out)["feeds"]}
    assert feeds["urlhaus"]["added"] == 1
    assert feeds["team"]["added"] == 2
    assert feeds["team"]["rejected_by_reason"] == {"invalid_value": 1}
    assert feeds["hashes"]["added"] == 1

    code, out = _invoke("intel", "list", "--db", db, "--feed", "team", "--json")
    assert code == ExitCode.OK
    values = [r["indicator"]["value"] for r in json.loads(out)]
    assert values == ["203.0.113.0/24", "evil.example"]
    code, out = _invoke("intel", "list", "--db", db, "--type", "md5")
    assert HASH in out and "hashes" in out

    code, out = _invoke(
        "intel", "show", "hxxp://198.51.100[.]7:8080/bin.sh", "--db", db
    )
    assert code == ExitCode.OK
    assert "feed urlhaus" in out and "record 7" in out
    assert "malware_download" in out
    code, out = _invoke("intel", "show", "nothing.example", "--db", db)
    assert "no record" in out

    code, out = _invoke(
        "intel",
        "match",
        "http://198.51.100.7:8080/bin.sh",
        "https://login.evil.example/x",
        "203.0.113.77",
        HASH.upper(),
        "clean.example",
        "--db",
        db,
        "--json",
    )
    assert code == ExitCode.OK
    matches = json.loads(out)
    (url_match,) = matches["http://198.51.100.7:8080/bin.sh"]
    assert url_match["matched_on"] == "url"
    assert url_match["sources"] == [
        {"feed": "urlhaus", "reference": "7", "confidence": 90}
    ]
    (host_match,) = matches["https://login.evil.example/x"]
    assert (host_match["matched_on"], host_match["value"]) == ("domain", "evil.example")
    assert host_match["threat"] == "phishing"
    assert matches["203.0.113.77"][0]["matched_on"] == "cidr"
    assert matches[HASH.upper()][0]["sources"][0]["feed"] == "hashes"
    assert matches["clean.example"] == []

    code, out = _invoke("intel", "match", "evil.example", "--db", db)
    assert "host match on domain evil.example" in out
    assert "feed team record line 1" in out

    capsys.readouterr()
    assert main(["intel", "match", "garbage %%", "evil.example", "--db", db]) == 0
    assert "garbage %% is no URL, host, IP address or hash" in capsys.readouterr().err

    allow = tmp_path / "list.json"
    allow.write_text(
        json.dumps({"name": "known good", "type": "hostname", "list": ["evil.example"]})
    )
    code, out = _invoke(
        "intel", "match", "evil.example", "--db", db, "--allowlist", str(allow)
    )
    assert code == 1
    assert "evil.example: allow-listed by known good, not matched" in out
    assert "no match" not in out
    code, out = _invoke(
        "intel",
        "match",
        "evil.example",
        "--db",
        db,
        "--allowlist",
        str(allow),
        "--json",
    )
    (listed,) = json.loads(out)["evil.example"]
    assert (code, listed["allow_listed"]) == (1, "known good")
    code, out = _invoke("intel", "match", "clean.example", "--db", db)
    assert (code, out.strip()) == (1, "clean.example: no match")


def test_a_failed_feed_makes_sync_exit_non_zero(tmp_path, served) -> None:
    _, base = served
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        f'[[feeds]]\nname = "gone"\nurl = "{base}/missing.txt"\nretries = 0\n'
    )
    db = str(tmp_path / "intel.sqlite")
    result = CliRunner().invoke(
        cli, ["intel", "sync", "--feeds", str(feeds), "--db", db]
    )
    assert result.exit_code == ExitCode.DEPENDENCY_FAILED
    assert "HTTP 404" in result.output


def test_config_errors_exit_with_bad_config(tmp_path, capsys) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text('[[feeds]]\nname = "x"\nurl = "ftp://127.0.0.1/x"\n')
    db = str(tmp_path / "intel.sqlite")
    code = main(["intel", "sync", "--feeds", str(feeds), "--db", db])
    assert code == ExitCode.BAD_CONFIG
    assert "feed 'x' key 'url'" in capsys.readouterr().err
    feeds.write_text('[[feeds]]\nname = "x"\npath = "x.txt"\n')
    code = main(["intel", "sync", "--feeds", str(feeds), "--db", db, "--only", "y"])
    assert code == ExitCode.BAD_CONFIG
    assert "no feed named 'y'" in capsys.readouterr().err


def test_run_matches_the_synced_intel_database(tmp_path, feed_list, capsys) -> None:
    intel_db = str(tmp_path / "intel.sqlite")
    assert main(["intel", "sync", "--feeds", str(feed_list), "--db", intel_db]) == 0
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        b"\n".join(msgspec.json.encode(e) for e in synthetic_events(300)) + b"\n"
    )
    store = str(tmp_path / "store.sqlite")
    args = ["run", str(events), "--intel-db", intel_db, "--db", store, "--no-geo"]
    assert main(args) == ExitCode.OK
    assert f"intel-db {intel_db}" in capsys.readouterr().out
    assert main(["alerts", "--db", store, "--kind", "intel_url", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed


def test_read_commands_need_an_existing_intel_database(tmp_path, capsys) -> None:
    missing = str(tmp_path / "missing.sqlite")
    for command in (["list"], ["show", "x.example"], ["match", "x.example"]):
        assert main(["intel", *command, "--db", missing]) == ExitCode.BAD_CONFIG
        assert "does not exist" in capsys.readouterr().err
    garbage = tmp_path / "notes.txt"
    garbage.write_text("this is not SQLite, just a long enough line of text\n" * 20)
    code = main(["intel", "match", "x.example", "--db", str(garbage)])
    assert code == ExitCode.BAD_CONFIG
    assert "is not an intel database" in capsys.readouterr().err


def test_an_empty_feed_list_is_a_config_error(tmp_path, capsys) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text("# nothing yet\n")
    db = str(tmp_path / "intel.sqlite")
    assert main(["intel", "sync", "--feeds", str(feeds), "--db", db]) == 3
    assert "has no feeds" in capsys.readouterr().err


def test_a_second_sync_while_one_runs_fails_in_one_line(
    tmp_path, feed_list, capsys
) -> None:
    from trustwatch.intel.sync import sync_lock

    db = str(tmp_path / "intel.sqlite")
    with sync_lock(db):
        code = main(["intel", "sync", "--feeds", str(feed_list), "--db", db])
    err = capsys.readouterr().err
    assert code == ExitCode.DEPENDENCY_FAILED
    assert f"another sync holds {db}" in err and "Traceback" not in err


def test_sync_shows_skipped_and_dropped_feeds_and_list_names_feeds(
    tmp_path, feed_list
) -> None:
    db = str(tmp_path / "intel.sqlite")
    code, out = _invoke("intel", "sync", "--feeds", str(feed_list), "--db", db)
    assert code == ExitCode.OK and "skipped" in out
    code, out = _invoke("intel", "list", "--db", db)
    assert "feeds in" in out and "hashes" in out and "team" in out
    fewer = tmp_path / "fewer.toml"
    fewer.write_text('[[feeds]]\nname = "team"\npath = "team.txt"\n')
    code, out = _invoke("intel", "sync", "--feeds", str(fewer), "--db", db, "--json")
    statuses = {f["feed"]: f["status"] for f in json.loads(out)["feeds"]}
    assert statuses["urlhaus"] == statuses["hashes"] == "dropped"
    assert all("skipped" in f for f in json.loads(out)["feeds"])
    code, out = _invoke("intel", "sync", "--feeds", str(feed_list), "--db", db)
    code, out = _invoke("intel", "sync", "--feeds", str(fewer), "--db", db)
    assert "feed hashes no longer in the feed list: dropped 1 record" in out


def test_run_with_intel_db_dead_letters_allow_listed_indicators(
    tmp_path, feed_list, capsys
) -> None:
    intel_db = str(tmp_path / "intel.sqlite")
    assert main(["intel", "sync", "--feeds", str(feed_list), "--db", intel_db]) == 0
    allow = tmp_path / "list.json"
    allow.write_text(
        json.dumps({"name": "known good", "type": "hostname", "list": ["evil.example"]})
    )
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        b"\n".join(msgspec.json.encode(e) for e in synthetic_events(20)) + b"\n"
    )
    store = str(tmp_path / "store.sqlite")
    args = ["run", str(events), "--intel-db", intel_db, "--allowlist", str(allow)]
    assert main([*args, "--db", store, "--no-geo"]) == ExitCode.OK
    capsys.readouterr()
    main(["dead-letters", "--db", store, "--reason", "allow_listed", "--json"])
    letters = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [letter["raw"] for letter in letters] == ["evil.example"]
    assert "known good" in letters[0]["message"]
