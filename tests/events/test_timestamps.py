"""Tests for trustwatch.events.timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events.timestamps import (
    EARLIEST_EVENT_TIME,
    FLAG_AMBIGUOUS,
    FLAG_ASSUMED_ZONE,
    FLAG_LEAP_SECOND,
    FLAG_NONEXISTENT,
    LATEST_EVENT_TIME,
    check_event_time,
    localize,
    parse_timestamp,
    parse_timestamp_flags,
)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_ts01_date_output_with_pst_is_eight_hours_behind_utc(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    case = hardcases["TS-01"]
    assert parse_timestamp(case["input"]) == _utc(2016, 2, 23, 8, 44, 27)


def test_ts04_numeric_strings_follow_the_magnitude_rule(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    assert parse_timestamp(hardcases["TS-04"]["input"]) == _utc(
        2020, 4, 9, 23, 59, 37, 93312
    )
    assert parse_timestamp("1726901201037") == _utc(2024, 9, 21, 6, 46, 41, 37000)
    assert parse_timestamp(1726901201037) == parse_timestamp("1726901201037")


def test_ts04_fourteen_digits_are_a_compact_date_not_an_epoch() -> None:
    assert parse_timestamp("20171222160001", default_tz="UTC") == _utc(
        2017, 12, 22, 16, 0, 1
    )


def test_ts05_nonexistent_local_time_takes_the_offset_before_the_gap(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    case = hardcases["TS-05"]["input"]
    import json

    record = json.loads(case)
    when, flags = parse_timestamp_flags(
        record["timestamp"], source_tz=record["source_tz"]
    )
    assert when == _utc(2017, 3, 26, 1, 59, 33, 492000)
    assert flags == {FLAG_NONEXISTENT, FLAG_ASSUMED_ZONE}


def test_ambiguous_local_time_takes_the_first_occurrence() -> None:
    when, flags = parse_timestamp_flags(
        "2017-10-29T02:30:00", source_tz="Europe/Berlin"
    )
    assert when == _utc(2017, 10, 29, 0, 30)
    assert FLAG_AMBIGUOUS in flags


def test_json02_epoch_milliseconds_integer() -> None:
    assert parse_timestamp(1595441285858) == _utc(2020, 7, 22, 18, 8, 5, 858000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_595_441_285, _utc(2020, 7, 22, 18, 8, 5)),
        (1_595_441_285_858_123, _utc(2020, 7, 22, 18, 8, 5, 858123)),
        (1_595_441_285_858_123_456, _utc(2020, 7, 22, 18, 8, 5, 858123)),
        ("1595441285858123456", _utc(2020, 7, 22, 18, 8, 5, 858123)),
        (1586476777.093312, _utc(2020, 4, 9, 23, 59, 37, 93312)),
        ("1.5e9", _utc(2017, 7, 14, 2, 40)),
        (-1, _utc(1969, 12, 31, 23, 59, 59)),
        (0, _utc(1970, 1, 1)),
    ],
)
def test_epochs_are_exact_in_every_unit(
    value: int | float | str, expected: datetime
) -> None:
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", [10**20, -(10**20), 1e20, "100000000000000000000"])
def test_epochs_of_1e20_or_more_are_refused(value: int | float | str) -> None:
    with pytest.raises(InvalidEventError, match="too large") as info:
        parse_timestamp(value)
    assert info.value.reason == "timestamp"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, None, [], ""])
def test_non_timestamps_are_refused_with_the_timestamp_reason(value: Any) -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_timestamp(value)
    assert info.value.reason == "timestamp"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-07-22T18:08:05.858Z", _utc(2020, 7, 22, 18, 8, 5, 858000)),
        ("2020-07-22T20:08:05.858+02:00", _utc(2020, 7, 22, 18, 8, 5, 858000)),
        ("2020-07-22t18:08:05z", _utc(2020, 7, 22, 18, 8, 5)),
        ("2020-07-22T18:08:05.858123456Z", _utc(2020, 7, 22, 18, 8, 5, 858123)),
        ("2020-07-22 18:08:05 UTC", _utc(2020, 7, 22, 18, 8, 5)),
        ("2020-07-22 11:08:05 -0700 MST", _utc(2020, 7, 22, 18, 8, 5)),
        ("Wed, 22 Jul 2020 11:08:05 -0700", _utc(2020, 7, 22, 18, 8, 5)),
        ("Wed, 22 Jul 2020 20:08:05 +0200 (CEST)", _utc(2020, 7, 22, 18, 8, 5)),
        ("22 Jul 20 18:08 GMT", _utc(2020, 7, 22, 18, 8)),
        ("Wed Jul 22 18:08:05 UTC 2020", _utc(2020, 7, 22, 18, 8, 5)),
        ("Wed Jul 22 20:08:05 CEST 2020", _utc(2020, 7, 22, 18, 8, 5)),
        ("[22/Jul/2020:11:08:05 -0700]", _utc(2020, 7, 22, 18, 8, 5)),
    ],
)
def test_text_forms_resolve_to_the_same_instant(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


def test_result_is_always_utc() -> None:
    when = parse_timestamp("2020-07-22T20:08:05+02:00")
    assert when.tzinfo is UTC


def test_comma_fraction_is_read_as_a_decimal_fraction() -> None:
    assert parse_timestamp("2017-03-26T02:59:33,492Z").microsecond == 492000


def test_leap_second_is_clamped_and_flagged() -> None:
    when, flags = parse_timestamp_flags("2016-12-31T23:59:60Z")
    assert when == _utc(2016, 12, 31, 23, 59, 59, 999999)
    assert flags == {FLAG_LEAP_SECOND}


@pytest.mark.parametrize("zone", ["IST", "AST", "SST"])
def test_ambiguous_abbreviations_are_refused_not_guessed(zone: str) -> None:
    with pytest.raises(InvalidEventError, match="ambiguous"):
        parse_timestamp(f"Tue Feb 23 00:44:27 {zone} 2016")


def test_unknown_abbreviation_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="unknown zone abbreviation 'XYZ'"):
        parse_timestamp("Tue Feb 23 00:44:27 XYZ 2016")


@pytest.mark.parametrize(
    "text", ["2017-03-26T02:59:33", "Tue Feb 23 00:44:27 2016", "20171222160001"]
)
def test_naive_times_are_refused_without_a_zone(text: str) -> None:
    with pytest.raises(InvalidEventError, match="no time zone"):
        parse_timestamp(text)


def test_naive_times_use_source_tz_before_default_tz() -> None:
    text = "2017-07-01T12:00:00"
    assert parse_timestamp(text, default_tz="UTC") == _utc(2017, 7, 1, 12)
    assert parse_timestamp(
        text, source_tz="America/New_York", default_tz="UTC"
    ) == _utc(2017, 7, 1, 16)


def test_datetime_values_are_converted_or_localised() -> None:
    aware = datetime(2020, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert parse_timestamp(aware) == _utc(2020, 1, 1, 10)
    with pytest.raises(InvalidEventError):
        parse_timestamp(datetime(2020, 1, 1))
    assert parse_timestamp(datetime(2020, 1, 1), source_tz="UTC") == _utc(2020, 1, 1)


@pytest.mark.parametrize(
    "text",
    ["garbage", "2020-13-01T00:00:00Z", "99999999999999", "2020-02-30T00:00Z",
     "2020-07-22T18:08:05+25:00", "x" * 200],
)  # fmt: skip
def test_invalid_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_timestamp(text)
    assert info.value.reason == "timestamp"


def test_unknown_zone_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        parse_timestamp("2020-01-01T00:00:00", source_tz="Mars/Olympus")


def test_localize_flags_every_result_as_assumed() -> None:
    when, flags = localize(datetime(2020, 7, 1, 12), "Europe/Berlin")
    assert when == _utc(2020, 7, 1, 10)
    assert flags == {FLAG_ASSUMED_ZONE}


def test_decimal_and_other_numeric_types_are_epochs() -> None:
    from decimal import Decimal
    from fractions import Fraction

    assert parse_timestamp(Decimal("1595441285.858123")) == _utc(
        2020, 7, 22, 18, 8, 5, 858123
    )
    assert parse_timestamp(Fraction(3, 2)) == _utc(1970, 1, 1, 0, 0, 1, 500000)
    with pytest.raises(InvalidEventError):
        parse_timestamp(Decimal("NaN"))


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31 23:59:59 -0100",
        "Mon, 1 Jan 0001 00:00:00 +0100",
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_times_that_leave_years_1_to_9999_in_utc_are_timestamp_errors(
    value: str | datetime,
) -> None:
    with pytest.raises(InvalidEventError, match="outside years 1-9999") as info:
        parse_timestamp(value)
    assert info.value.reason == "timestamp"


def test_local_times_that_overflow_in_utc_are_timestamp_errors() -> None:
    with pytest.raises(InvalidEventError) as info:
        localize(datetime(1, 1, 1), "Europe/Berlin")
    assert info.value.reason == "timestamp"
    with pytest.raises(InvalidEventError):
        parse_timestamp("0001-01-01T00:00:00", source_tz="Asia/Tokyo")


def test_parse_timestamp_itself_reads_dates_outside_the_event_span() -> None:
    assert parse_timestamp("1985-03-15T00:00:00Z") == _utc(1985, 3, 15)


def test_check_event_time_keeps_the_span_and_refuses_the_rest() -> None:
    assert check_event_time(EARLIEST_EVENT_TIME) is EARLIEST_EVENT_TIME
    last = LATEST_EVENT_TIME - timedelta(microseconds=1)
    assert check_event_time(last) is last
    for outside in (
        EARLIEST_EVENT_TIME - timedelta(microseconds=1),
        LATEST_EVENT_TIME,
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=1))),
    ):
        with pytest.raises(InvalidEventError, match="outside the accepted span"):
            check_event_time(outside)
