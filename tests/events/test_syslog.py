"""Tests for trustwatch.events.syslog."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events.syslog import SyslogClock, parse_syslog_line

LINE = "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 198.51.100.7"


def _ts(line: str, clock: SyslogClock) -> datetime:
    return parse_syslog_line(line, clock).ts


def test_bsd_line_is_split_into_its_fields() -> None:
    record = parse_syslog_line(LINE, SyslogClock(year=2015))
    assert record.ts == datetime(2015, 12, 10, 6, 55, 46, tzinfo=UTC)
    assert (record.host, record.program, record.pid) == ("LabSZ", "sshd", 24200)
    assert record.message == "Invalid user webmaster from 198.51.100.7"


@pytest.mark.parametrize(
    ("line", "program", "pid", "message"),
    [
        ("<38>Jun  4 01:02:03 h sshd[7]: x", "sshd", 7, "x"),
        ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass", "sshd(pam_unix)",
         19939, "check pass"),
        ("Jun 14 15:16:01 combo syslogd 1.4.1: restart.", "", None,
         "syslogd 1.4.1: restart."),
        ("Jun 14 15:16:01 combo CRON: job", "CRON", None, "job"),
        ("Jun 14 15:16:01.123456 combo sshd-session[5]: y", "sshd-session", 5, "y"),
    ],
)  # fmt: skip
def test_bsd_tags_with_and_without_pids(
    line: str, program: str, pid: int | None, message: str
) -> None:
    record = parse_syslog_line(line, SyslogClock(year=2020))
    assert (record.program, record.pid, record.message) == (program, pid, message)


def test_bsd_fraction_is_kept() -> None:
    line = "Jun 14 15:16:01.5 combo sshd[5]: y"
    assert parse_syslog_line(line, SyslogClock(year=2020)).ts.microsecond == 500000


def test_iso_timestamped_line() -> None:
    line = "2024-02-03T04:05:06.789+01:00 web-1 sshd[99]: Accepted publickey for a"
    record = parse_syslog_line(line, SyslogClock(year=1999))
    assert record.ts == datetime(2024, 2, 3, 3, 5, 6, 789000, tzinfo=UTC)
    assert (record.host, record.program, record.pid) == ("web-1", "sshd", 99)


def test_rfc5424_line_with_structured_data_and_bom() -> None:
    line = (
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example sshd 4711 ID47 "
        '[exampleSDID@32473 iut="3" note="a \\"quoted\\" ]"] \ufeffFailed password'
    )
    record = parse_syslog_line(line, SyslogClock(year=1999))
    assert record.ts == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert (record.host, record.program, record.pid) == (
        "mymachine.example",
        "sshd",
        4711,
    )
    assert record.message == "Failed password"


def test_rfc5424_nil_values() -> None:
    line = "<13>1 2003-10-11T22:14:15Z host app - - - message text"
    record = parse_syslog_line(line, SyslogClock(year=1999))
    assert record.pid is None
    assert record.message == "message text"


@pytest.mark.parametrize(
    "line", ["", "hello world", "{\"json\": true}", "Foo 10 06:55:46 h sshd[1]: x",
             "<13>1 - host app - - - nil timestamp"],
)  # fmt: skip
def test_non_syslog_lines_are_refused(line: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_syslog_line(line, SyslogClock(year=2020))
    assert info.value.reason in {"not_syslog", "timestamp"}


def test_bsd_times_are_read_in_the_given_zone() -> None:
    clock = SyslogClock(year=2015, tz="America/New_York")
    assert _ts(LINE, clock) == datetime(2015, 12, 10, 11, 55, 46, tzinfo=UTC)


def test_december_then_january_moves_to_the_next_year() -> None:
    clock = SyslogClock(year=2015)
    assert _ts("Dec 31 23:59:59 h sshd[1]: a", clock).year == 2015
    assert _ts("Jan  1 00:00:01 h sshd[1]: b", clock).year == 2016
    assert _ts("Jan  2 00:00:01 h sshd[1]: c", clock).year == 2016


def test_a_late_december_line_after_new_year_keeps_the_old_year() -> None:
    clock = SyslogClock(year=2015)
    _ts("Dec 31 23:59:59 h sshd[1]: a", clock)
    _ts("Jan  1 00:00:01 h sshd[1]: b", clock)
    assert _ts("Dec 31 23:59:58 h sshd[1]: late", clock).year == 2015
    assert _ts("Jan  1 00:00:02 h sshd[1]: c", clock).year == 2016


def test_year_comes_from_the_reference_date() -> None:
    reference = datetime(2016, 3, 1, tzinfo=UTC)
    assert _ts(LINE, SyslogClock(reference=reference)).year == 2015
    clock = SyslogClock(reference=datetime(2016, 12, 11, tzinfo=UTC))
    assert _ts(LINE, clock).year == 2016


def test_a_file_spanning_new_year_is_placed_before_its_mtime() -> None:
    clock = SyslogClock(reference=datetime(2016, 1, 2, 12, tzinfo=UTC))
    assert _ts("Dec 30 10:00:00 h sshd[1]: a", clock).year == 2015
    assert _ts("Jan  2 09:00:00 h sshd[1]: b", clock).year == 2016


def test_a_line_up_to_a_day_after_the_reference_keeps_its_year() -> None:
    clock = SyslogClock(reference=datetime(2016, 6, 10, 12, tzinfo=UTC))
    assert _ts("Jun 11 06:00:00 h sshd[1]: a", clock).year == 2016


def test_february_29_in_a_common_year_is_a_timestamp_error() -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_syslog_line("Feb 29 00:00:00 h sshd[1]: x", SyslogClock(year=2015))
    assert info.value.reason == "timestamp"


def test_bad_zone_and_naive_reference_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        SyslogClock(tz="Nowhere/Land")
    with pytest.raises(ConfigError):
        SyslogClock(reference=datetime(2016, 1, 1))


@pytest.mark.parametrize("year", [1, 1989, 2200, 9999])
def test_years_outside_the_event_span_are_refused(year: int) -> None:
    with pytest.raises(ConfigError, match=f"year {year} is outside"):
        SyslogClock(year=year)


def test_a_reference_outside_the_event_span_is_refused() -> None:
    with pytest.raises(ConfigError, match="outside the span"):
        SyslogClock(reference=datetime(9999, 12, 31, 23, tzinfo=UTC))


@pytest.mark.parametrize(
    "line",
    [
        "1970-01-01T00:00:05+00:00 h sshd[1]: x",
        "<34>1 2300-10-11T22:14:15.003Z h sshd 4711 - - x",
        "0001-01-01T00:00:00+01:00 h sshd[1]: x",
    ],
)
def test_lines_outside_the_event_span_are_timestamp_errors(line: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_syslog_line(line, SyslogClock(year=2020))
    assert info.value.reason == "timestamp"


def test_the_year_hint_says_where_the_year_comes_from() -> None:
    with pytest.raises(InvalidEventError, match="modification time"):
        parse_syslog_line("Feb 29 00:00:00 h sshd[1]: x", SyslogClock(year=2015))
