"""The RBA dataset's CSV layout: labelled logins, dead letters for bad rows."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trustwatch.errors import ConfigError
from trustwatch.events import rba
from trustwatch.events._files import HEAD_BYTES
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.rba import RBA_COLUMNS, RbaLogin, read_rba

HEADER = ",".join(RBA_COLUMNS)
CHROME = (
    '"Mozilla/5.0  (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 '
    '(KHTML, like Gecko Chrome/90.0.4411.0 Safari/537.36"'
)


def row(
    index: int = 0,
    ts: str = "2020-02-03 12:43:30.772",
    user: str = "-4324475583306591935",
    rtt: str = "",
    ip: str = "10.0.65.171",
    country: str = "NO",
    asn: str = "29695",
    success: str = "True",
    attack: str = "False",
    takeover: str = "False",
) -> str:
    return (
        f"{index},{ts},{user},{rtt},{ip},{country},-,-,{asn},{CHROME},"
        f"Chrome 90.0.4411,Mac OS X 10.14.6,desktop,{success},{attack},{takeover}"
    )


def write(tmp_path: Path, *lines: str, name: str = "rba.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def split(
    items: list[RbaLogin | DeadLetter],
) -> tuple[list[RbaLogin], list[DeadLetter]]:
    logins = [i for i in items if isinstance(i, RbaLogin)]
    letters = [i for i in items if isinstance(i, DeadLetter)]
    return logins, letters


def test_rows_become_labelled_logins_with_their_own_geo(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        row(),
        row(1, ts="2020-02-03 12:44:00.001", rtt="412", success="False"),
        row(2, ip="77.106.183.7", country="US", asn="7922", takeover="True"),
        row(3, attack="True", success="False", country="-", asn=""),
    )
    logins, letters = split(list(read_rba(path)))
    assert letters == []
    first = logins[0]
    assert first.event.event_id == "rba-0"
    assert first.event.account == first.event.username == "-4324475583306591935"
    assert first.event.ts == datetime(2020, 2, 3, 12, 43, 30, 772000, tzinfo=UTC)
    assert first.event.success and first.event.failure_reason is None
    assert "Chrome/90.0.4411.0" in (first.event.user_agent or "")
    assert (first.country, first.asn, first.region, first.city) == (
        "NO",
        29695,
        None,
        None,
    )
    assert (first.browser, first.os, first.device_type) == (
        "Chrome 90.0.4411",
        "Mac OS X 10.14.6",
        "desktop",
    )
    assert first.rtt_ms is None and logins[1].rtt_ms == 412.0
    assert logins[1].event.failure_reason == "bad_credentials"
    assert [login.truth for login in logins] == [
        "legit",
        "legit",
        "account_takeover",
        "attack_ip",
    ]
    assert (logins[3].country, logins[3].asn) == (None, None)


def test_timestamps_are_read_in_the_zone_given(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row(ts="2020-07-01 12:00:00.000"))
    (login,) = read_rba(path, tz="Europe/Oslo")
    assert isinstance(login, RbaLogin)
    assert login.event.ts == datetime(2020, 7, 1, 10, 0, tzinfo=UTC)
    (epoch,) = read_rba(write(tmp_path, HEADER, row(ts="1580733810772"), name="e.csv"))
    assert isinstance(epoch, RbaLogin)
    assert epoch.event.ts == datetime(2020, 2, 3, 12, 43, 30, 772000, tzinfo=UTC)


def test_columns_may_come_in_any_order_and_optional_ones_may_be_missing(
    tmp_path: Path,
) -> None:
    header = (
        "Is Account Takeover,Is Attack IP,Login Successful,User Agent String,ASN,"
        "Country,IP Address,User ID,Login Timestamp"
    )
    line = "False,True,True,curl/8.5.0,16276,FR,2001:db8::1,42,2020-02-04 01:02:03"
    (login,) = read_rba(write(tmp_path, header, line))
    assert isinstance(login, RbaLogin)
    assert login.event.event_id == "rba-line-2"
    assert (login.country, login.asn, login.event.ip) == ("FR", 16276, "2001:db8::1")
    assert login.truth == "attack_ip" and login.rtt_ms is None


@pytest.mark.parametrize(
    ("line", "reason", "words"),
    [
        (row(ip="999.1.2.3"), "schema", "IP Address"),
        (row(ip=""), "schema", "IP Address"),
        (row(success="maybe"), "schema", "Login Successful"),
        (row(takeover="yes please"), "schema", "Is Account Takeover"),
        (row(ts="yesterday"), "timestamp", "timestamp"),
        (row(ts="1850-01-01 00:00:00"), "timestamp", "span"),
        (row(country="Norway"), "schema", "Country"),
        (row(asn="AS29695"), "schema", "ASN"),
        (row(rtt="-3"), "schema", "Round-Trip"),
        (row(rtt="nan"), "schema", "Round-Trip"),
        (row(user=""), "schema", "User ID"),
        (row(user="9" * 600), "schema", "User ID"),
        ("5,2020-02-03 12:43:30,1,,10.0.0.1,NO", "malformed_csv", "expected 16"),
        (
            '6,2020-02-03 12:43:30,1,,10.0.0.1,NO,-,-,1,"unclosed',
            "malformed_csv",
            "CSV",
        ),
        ("x7" + row()[1:], "schema", "index"),
    ],
)
def test_bad_rows_become_dead_letters_and_reading_goes_on(
    tmp_path: Path, line: str, reason: str, words: str
) -> None:
    path = write(tmp_path, HEADER, line, row(9))
    logins, letters = split(list(read_rba(path)))
    assert [login.event.event_id for login in logins] == ["rba-9"]
    (letter,) = letters
    assert (letter.location, letter.reason) == ("line 2", reason)
    assert words in letter.message
    assert letter.source == str(path.resolve())
    assert letter.raw == line


def test_a_line_that_is_not_utf8_past_the_head_is_one_dead_letter(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rba.csv"
    good = "\n".join(row(i) for i in range(40)) + "\n"
    assert len(good) > HEAD_BYTES  # the bad line is past what the head check sees
    path.write_bytes(
        (HEADER + "\n" + good).encode()
        + row(40).encode()[:-5]
        + b"\xff\xfe\n"
        + row(41).encode()
    )
    logins, letters = split(list(read_rba(path)))
    assert [(letter.location, letter.reason) for letter in letters] == [
        ("line 42", "encoding")
    ]
    assert len(logins) == 41


@pytest.mark.parametrize(
    ("content", "words"),
    [
        # Random bytes: the header line itself cannot be decoded.
        (random.Random(5).randbytes(5000), "binary data"),
        # A UTF-8 header, then rows in Latin-1.
        (
            (HEADER + "\n" + row(user="Jörg") + "\n").encode("latin-1"),
            "not UTF-8 text (byte 0xf6 on line 2)",
        ),
    ],
    ids=["random-bytes", "latin-1"],
)
def test_a_file_that_is_not_utf8_text_is_refused_as_a_whole(
    tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "rba.csv"
    path.write_bytes(content)
    (letter,) = read_rba(path)
    assert isinstance(letter, DeadLetter)
    assert (letter.location, letter.reason) == ("file", "encoding")
    assert words in letter.message and "hint:" in letter.message
    assert "empty" not in letter.message


def test_a_file_of_blank_lines_is_not_called_empty(tmp_path: Path) -> None:
    (letter,) = read_rba(write(tmp_path, "", " ", ""))
    assert isinstance(letter, DeadLetter)
    assert (letter.location, letter.reason) == ("file", "unsupported_format")
    assert "only blank lines" in letter.message


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (row(asn="4294967296"), "ASN"),
        (row(ip="fe80::1%eth0"), "zone index"),
        (row(ip="fe80::1%25"), "zone index"),
        (row(ts="2199-06-01 00:00:00.000"), "in the future"),
        ("1" * 19 + row()[1:], "index"),
    ],
    ids=["asn-over-32-bits", "zone", "encoded-zone", "future", "index-19-digits"],
)
def test_out_of_range_values_are_refused(tmp_path: Path, line: str, words: str) -> None:
    logins, letters = split(list(read_rba(write(tmp_path, HEADER, line, row(9)))))
    assert [login.event.event_id for login in logins] == ["rba-9"]
    (letter,) = letters
    assert words in letter.message
    assert letter.reason == ("timestamp" if "future" in words else "schema")


def test_edge_values_that_are_valid_are_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        row(0, asn="4294967295", ip="::ffff:198.51.100.7"),
        row(1, ip="2001:DB8:0:0::1"),
        row(2, ts=f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}.000"),
    )
    logins, letters = split(list(read_rba(path)))
    assert letters == []
    assert logins[0].asn == 4_294_967_295
    assert [login.event.ip for login in logins[:2]] == ["198.51.100.7", "2001:db8::1"]
    assert len(logins) == 3


def test_a_row_index_read_before_is_a_duplicate(tmp_path: Path) -> None:
    big = 1 << 40  # past the bitmap: remembered in the set
    path = write(
        tmp_path,
        HEADER,
        row(22, rtt="nan"),  # refused: leaves index 22 free
        row(22),
        row(22, success="False"),
        "022" + row()[1:],  # the same number written with a leading zero
        row(7),
        row(big),
        row(big),
    )
    logins, letters = split(list(read_rba(path)))
    assert [login.event.event_id for login in logins] == [
        "rba-22",
        "rba-7",
        f"rba-{big}",
    ]
    assert [(x.location, x.reason) for x in letters] == [
        ("line 2", "schema"),
        ("line 4", "duplicate"),
        ("line 5", "duplicate"),
        ("line 8", "duplicate"),
    ]
    assert "index 22 was already read" in letters[1].message


def test_a_gzip_file_cut_short_ends_with_where_it_broke_off(tmp_path: Path) -> None:
    rows = [row(i, user=str(random.Random(i).getrandbits(60))) for i in range(3000)]
    whole = gzip.compress(("\n".join([HEADER, *rows]) + "\n").encode())
    path = tmp_path / "rba.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    logins, letters = split(list(read_rba(path)))
    (letter,) = letters
    assert letter.reason == "unreadable"
    assert 0 < len(logins) < 3000
    # The header is line 1: the data broke off after the last login's line.
    assert letter.location == f"line {len(logins) + 2}"
    assert f"cut short after line {len(logins) + 1}" in letter.message


def test_an_overlong_line_is_too_large(tmp_path: Path) -> None:
    huge = row(user="1" + "0" * 70_000)
    logins, letters = split(list(read_rba(write(tmp_path, HEADER, huge, row(1)))))
    assert [letter.reason for letter in letters] == ["too_large"]
    assert len(logins) == 1


def test_a_file_without_the_header_is_refused_as_a_whole(tmp_path: Path) -> None:
    items = list(read_rba(write(tmp_path, row(), row(1))))
    (letter,) = items
    assert isinstance(letter, DeadLetter)
    assert (letter.location, letter.reason) == ("file", "unsupported_format")
    assert "Login Timestamp" in letter.message


def test_empty_and_utf16_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    (letter,) = read_rba(empty)
    assert isinstance(letter, DeadLetter) and letter.reason == "unsupported_format"
    wide = tmp_path / "wide.csv"
    wide.write_bytes((HEADER + "\n" + row()).encode("utf-16"))
    (letter,) = read_rba(wide)
    assert isinstance(letter, DeadLetter)
    assert (letter.location, letter.reason) == ("file", "encoding")


def test_gzip_files_and_byte_order_marks_are_read(tmp_path: Path) -> None:
    path = tmp_path / "rba.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8-sig") as out:
        out.write(HEADER + "\r\n" + row() + "\r\n\r\n" + row(1) + "\r\n")
    logins, letters = split(list(read_rba(path)))
    assert letters == [] and [x.event.event_id for x in logins] == ["rba-0", "rba-1"]


def test_unusable_arguments_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a file"):
        read_rba(tmp_path)
    with pytest.raises(ConfigError, match="not a file"):
        read_rba(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match="time zone"):
        read_rba(write(tmp_path, HEADER, row()), tz="Mars/Olympus")


def test_past_the_bound_large_indices_go_unchecked_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rba, "_MAX_SPARSE_INDICES", 2)
    big = [(1 << 40) + n for n in range(3)]
    path = write(tmp_path, HEADER, *(row(i) for i in big), row(big[0]), row(big[2]))
    with caplog.at_level("WARNING", logger="trustwatch.events.rba"):
        logins, letters = split(list(read_rba(path)))
    # The first two are remembered; the third is not, so its repeat gets in.
    assert [x.reason for x in letters] == ["duplicate"]
    assert len(logins) == 4
    assert "2 rows with an index above" in caplog.text
