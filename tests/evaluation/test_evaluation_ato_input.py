"""The ATO evaluation under hostile input: cut files, bad rows, odd streams."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trustwatch.errors import InvalidEventError
from trustwatch.evaluation.ato import (
    CountryHistoryRule,
    RuleAssessment,
    evaluate_logins,
    evaluate_rba,
)
from trustwatch.events._files import HEAD_BYTES
from trustwatch.events.model import Login
from trustwatch.events.rba import RBA_COLUMNS
from trustwatch.features.context import EventContext

HEADER = ",".join(RBA_COLUMNS)
T0 = datetime(2020, 2, 3, 12, 0, tzinfo=UTC)


def rba_row(index: int, *, ts: str | None = None, takeover: bool = False) -> str:
    when = ts or f"{T0 + timedelta(minutes=index):%Y-%m-%d %H:%M:%S}.000"
    user = index % 5
    return (
        f"{index},{when},{user},,10.0.0.{user + 1},NO,-,-,29695,"
        f"Mozilla/5.0,Firefox 1,Linux,desktop,True,False,{takeover}"
    )


def rule_only() -> dict[str, CountryHistoryRule]:
    return {"country_rule": CountryHistoryRule()}


def test_a_gzip_file_cut_short_is_evaluated_up_to_the_cut_with_a_note(
    tmp_path: Path,
) -> None:
    noise = random.Random(3)
    # Random user agents keep the data from compressing to a few bytes.
    rows = [
        rba_row(i, takeover=i % 50 == 49).replace(
            "Mozilla/5.0", f"UA{noise.getrandbits(64):x}"
        )
        for i in range(4000)
    ]
    whole = gzip.compress(("\n".join([HEADER, *rows]) + "\n").encode())
    path = tmp_path / "half.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    report = evaluate_rba(path, scorers=rule_only())
    assert 0 < report.logins < 4000
    assert report.dead_letters == {"unreadable": 1}
    cut = report.notes[0]
    assert f"cut short after line {report.logins + 1}" in cut
    assert f"the figures cover the {report.logins:,} logins read before it" in cut
    assert cut in report.render() and cut in report.to_dict()["notes"]


def test_a_gzip_file_cut_before_any_row_says_so(tmp_path: Path) -> None:
    whole = gzip.compress(("\n".join([HEADER, rba_row(0)]) + "\n").encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[:20])
    with pytest.raises(InvalidEventError) as caught:
        evaluate_rba(path, scorers=rule_only())
    assert "no row of cut.csv.gz could be read" in str(caught.value)
    assert "cut short" in str(caught.value) and "hint:" in str(caught.value)


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        (
            [rba_row(1, ts="yesterday"), rba_row(2, ts="never"), "3,x"],
            [
                "3 unreadable: timestamp 2, malformed_csv 1",
                "the first, line 2: cannot read timestamp 'yesterday'",
                "hint: check the Login Timestamp column and --rba-tz",
            ],
        ),
        ([], ["has no row after its header"]),
    ],
    ids=["bad-rows", "header-only"],
)
def test_no_readable_row_names_the_reasons_and_the_first(
    tmp_path: Path, lines: list[str], words: list[str]
) -> None:
    path = tmp_path / "rba.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    with pytest.raises(InvalidEventError) as caught:
        evaluate_rba(path, scorers=rule_only())
    for word in words:
        assert word in str(caught.value)


def test_latin1_rows_past_the_head_name_the_encoding(tmp_path: Path) -> None:
    path = tmp_path / "rba.csv"
    blank = b"\n" * HEAD_BYTES  # the head is UTF-8: the rows after it are not
    rows = (rba_row(1).replace("Linux", "Jörg") + "\n").encode("latin-1") * 2
    path.write_bytes((HEADER + "\n").encode() + blank + rows)
    with pytest.raises(InvalidEventError) as caught:
        evaluate_rba(path, scorers=rule_only())
    message = str(caught.value)
    assert "2 unreadable: encoding 2" in message
    assert "line is not UTF-8" in message and "iconv" in message


def test_a_binary_file_is_refused_as_not_text_never_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "rba.csv"
    path.write_bytes(random.Random(1).randbytes(5000))
    with pytest.raises(InvalidEventError) as caught:
        evaluate_rba(path, scorers=rule_only())
    assert caught.value.reason == "encoding"
    assert "binary data" in str(caught.value) and "empty" not in str(caught.value)


def test_a_row_dated_in_the_future_is_a_dead_letter_not_a_poison(
    tmp_path: Path,
) -> None:
    lines = [rba_row(i, takeover=i % 20 == 19) for i in range(60)]
    lines[5] = rba_row(5, ts="2099-02-03 12:05:02.000")
    path = tmp_path / "rba.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    report = evaluate_rba(path)  # the login model too, when installed
    assert report.dead_letters == {"timestamp": 1}
    assert report.logins == 59
    assert not any("after every login before them" in note for note in report.notes)


def login(n: int, at: datetime, account: str = "a") -> Login:
    return Login(event_id=f"e{n}", ts=at, account=account, ip="192.0.2.1", success=True)


class Flat:
    def assess(self, event: Login, ctx: EventContext) -> RuleAssessment:
        return RuleAssessment(0.0)


def evaluate(items: list[tuple[Login, str]]) -> list[str]:
    report = evaluate_logins(
        items,
        {"model": Flat()},
        geo=None,
        kinds=("naive", "targeted"),
        measure_from=None,
        source="test",
        settings={},
    )
    return list(report.notes)


def test_logins_far_out_of_the_streams_order_are_named() -> None:
    items = [(login(n, T0 + timedelta(minutes=n)), "legit") for n in range(10)]
    items.insert(3, (login(90, datetime(2031, 1, 1, tzinfo=UTC)), "naive"))
    items.append((login(91, datetime(1995, 1, 1, tzinfo=UTC)), "legit"))
    notes = evaluate(items)
    jumped = next(note for note in notes if "after every login before them" in note)
    assert jumped.startswith("1 logins were dated more than 30 days")
    assert "e90 at 2031-01-01 00:00:00 UTC" in jumped
    late = next(note for note in notes if "came before a login already scored" in note)
    # After the stray 2031 login, every later one is far behind it.
    assert late.startswith("8 logins came before")
    assert "8 of them by more than 30 days (first: e3 at 2020-02-03" in late


def test_a_stream_in_order_gets_no_order_note() -> None:
    items = [(login(n, T0 + timedelta(days=n)), "legit") for n in range(10)]
    items.append((login(10, T0 + timedelta(days=9, hours=1)), "naive"))
    notes = evaluate(items)
    assert not any("before" in note or "after every" in note for note in notes)
    assert notes == [
        "no attack login of kind targeted was measured; its row is n/a",
    ]


@pytest.mark.parametrize(
    ("truths", "why"),
    [
        (["naive", "naive"], "no legitimate successful login was measured"),
        (["legit", "legit"], "no attack login was measured (only 2 legitimate"),
        ([], "no legitimate successful login was measured"),
    ],
    ids=["attacks-only", "legit-only", "nothing"],
)
def test_a_run_that_measures_nothing_says_why(truths: list[str], why: str) -> None:
    items = [
        (login(n, T0 + timedelta(minutes=n)), truth) for n, truth in enumerate(truths)
    ]
    report = evaluate_logins(
        items,
        {"model": Flat()},
        geo=None,
        kinds=("naive",),
        measure_from=None,
        source="test",
        settings={},
    )
    unmeasured = report.unmeasured()
    assert unmeasured is not None and why in unmeasured
    assert f"nothing was measured: {unmeasured}; every figure is n/a" in report.notes


def test_the_first_unreadable_rows_are_kept_in_the_report(tmp_path):
    from trustwatch.evaluation.ato import evaluate_rba

    header = (
        "index,Login Timestamp,User ID,Round-Trip Time [ms],IP Address,Country,"
        "Region,City,ASN,User Agent String,Browser Name and Version,"
        "OS Name and Version,Device Type,Login Successful,Is Attack IP,"
        "Is Account Takeover\n"
    )
    good = (
        "{i},2020-02-03 12:{m:02d}:00,{u},,81.2.69.{i},GB,,,29550,"
        "Mozilla/5.0 (Windows NT 10.0) Chrome/120,Chrome 120,Windows 10,desktop,"
        "True,False,False\n"
    )
    rows = [good.format(i=i, m=i, u=1000 + i % 7) for i in range(1, 40)]
    rows.insert(5, "77,not a time,1,,81.2.69.1,GB,,,1,ua,b,o,d,True,False,False\n")
    path = tmp_path / "rba.csv"
    path.write_text(header + "".join(rows))
    report = evaluate_rba(path)
    examples = report.to_dict()["dead_letter_examples"]
    assert [e["reason"] for e in examples] == ["timestamp"]
    assert examples[0]["location"].startswith("line ")
    assert "The first of them:" in report.render()
    assert report.to_dict()["settings"]["limit"] is None
