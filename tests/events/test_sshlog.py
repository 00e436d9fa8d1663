"""Tests for trustwatch.events.sshlog."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import Login
from trustwatch.events.sshlog import AuthLogParser, parse_auth_log, read_auth_log

IP = "198.51.100.7"
PAM_FAILURE = (
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
)


def _logins(lines: list[str], **kwargs: object) -> list[Login]:
    items = list(parse_auth_log(lines, year=2015, **kwargs))  # type: ignore[arg-type]
    assert all(isinstance(item, Login) for item in items), items
    return items  # type: ignore[return-value]


def _at(clock: str, pid: int, message: str) -> str:
    return f"Dec 10 {clock} LabSZ sshd[{pid}]: {message}"


def test_accepted_password_is_a_successful_login() -> None:
    (event,) = _logins(
        [_at("09:32:20", 1, f"Accepted password for fztu from {IP} port 49116 ssh2")]
    )
    assert (event.success, event.account, event.username) == (True, "fztu", "fztu")
    assert (event.method, event.ip, event.failure_reason) == ("password", IP, None)
    assert event.ts == datetime(2015, 12, 10, 9, 32, 20, tzinfo=UTC)


def test_accepted_publickey_with_key_fingerprint() -> None:
    line = _at("09:00:00", 1, f"Accepted publickey for bob from {IP} port 22 ssh2: "
               "RSA SHA256:abcdefABCDEF0123")  # fmt: skip
    (event,) = _logins([line])
    assert (event.method, event.account) == ("publickey", "bob")


def test_failed_password_for_an_existing_user() -> None:
    (event,) = _logins(
        [_at("07:13:43", 2, f"Failed password for root from {IP} port 42393 ssh2")]
    )
    assert (event.success, event.account, event.username) == (False, "root", "root")
    assert event.failure_reason == "bad_credentials"


def test_one_invalid_user_attempt_is_one_event() -> None:
    lines = [
        _at("06:55:46", 3, f"reverse mapping checking getaddrinfo for x.example [{IP}] "
            "failed - POSSIBLE BREAK-IN ATTEMPT!"),
        _at("06:55:46", 3, f"Invalid user webmaster from {IP}"),
        _at("06:55:46", 3, "input_userauth_request: invalid user webmaster [preauth]"),
        _at("06:55:46", 3, "pam_unix(sshd:auth): check pass; user unknown"),
        _at("06:55:46", 3, "pam_unix(sshd:auth): authentication failure; logname= "
            f"uid=0 euid=0 tty=ssh ruser= rhost={IP} "),
        _at("06:55:48", 3, f"Failed password for invalid user webmaster from {IP} "
            "port 38926 ssh2"),
        _at("06:55:48", 3, f"Connection closed by {IP} [preauth]"),
    ]  # fmt: skip
    (event,) = _logins(lines)
    assert (event.account, event.username, event.ip) == (None, "webmaster", IP)
    assert event.failure_reason == "invalid_user"
    assert event.ts == datetime(2015, 12, 10, 6, 55, 48, tzinfo=UTC)


def test_invalid_user_who_leaves_before_a_password_is_one_event() -> None:
    lines = [
        _at("08:24:58", 4, f"Invalid user admin from {IP}"),
        _at(
            "08:24:58",
            4,
            f"Failed none for invalid user admin from {IP} port 52631 ssh2",
        ),
        _at("08:24:59", 4, f"Connection closed by {IP} [preauth]"),
    ]
    (event,) = _logins(lines)
    assert (event.account, event.username, event.failure_reason) == (
        None,
        "admin",
        "invalid_user",
    )
    assert event.method == "other"
    assert event.ts == datetime(2015, 12, 10, 8, 24, 58, tzinfo=UTC)


def test_message_repeated_expands_to_one_event_per_repeat() -> None:
    failed = f"Failed password for root from {IP} port 42393 ssh2"
    lines = [
        _at("07:13:31", 5, f"{PAM_FAILURE}rhost=dsl.example  user=root"),
        _at("07:13:43", 5, failed),
        _at("07:13:56", 5, f"message repeated 5 times: [ {failed}]"),
        _at("07:13:58", 5, "PAM 5 more authentication failures; logname= uid=0 "
            f"euid=0 tty=ssh ruser= rhost={IP}  user=root"),
        _at("07:13:58", 5, "Disconnecting: Too many authentication failures for "
            "root [preauth]"),
    ]  # fmt: skip
    events = _logins(lines)
    assert len(events) == 6
    assert len({e.event_id for e in events}) == 6
    assert {e.account for e in events} == {"root"}


def test_pam_only_logs_count_each_failure() -> None:
    lines = [
        "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown",
        "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: authentication failure; logname= "
        f"uid=0 euid=0 tty=NODEVssh ruser= rhost={IP} ",
        "Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= "
        f"uid=0 euid=0 tty=NODEVssh ruser= rhost={IP}  user=root",
        "Jun 15 02:05:03 combo sshd(pam_unix)[20882]: authentication failure; logname= "
        f"uid=0 euid=0 tty=NODEVssh ruser= rhost={IP}  user=root",
        "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus",
    ]
    events = _logins(lines)
    assert [(e.failure_reason, e.account, e.username) for e in events] == [
        ("invalid_user", None, None),
        ("bad_credentials", "root", "root"),
        ("bad_credentials", "root", "root"),
    ]
    assert len({e.event_id for e in events}) == 3


def test_connection_closed_by_authenticating_user_is_an_abandoned_attempt() -> None:
    lines = [
        _at(
            "10:00:00",
            6,
            f"Connection closed by authenticating user git {IP} port 5 [preauth]",
        )
    ]
    (event,) = _logins(lines)
    assert (event.failure_reason, event.account, event.username) == (
        "abandoned",
        "git",
        "git",
    )


def test_close_lines_after_a_failure_add_no_event() -> None:
    lines = [
        _at("10:00:00", 7, f"Invalid user oracle from {IP} port 5"),
        _at(
            "10:00:02",
            7,
            f"Failed password for invalid user oracle from {IP} port 5 ssh2",
        ),
        _at(
            "10:00:03", 7, f"Received disconnect from {IP} port 5:11: Bye Bye [preauth]"
        ),
        _at(
            "10:00:03",
            7,
            f"Disconnected from invalid user oracle {IP} port 5 [preauth]",
        ),
        _at("10:00:04", 8, f"Invalid user pi from {IP} port 6"),
        _at(
            "10:00:05", 8, f"Connection closed by invalid user pi {IP} port 6 [preauth]"
        ),
    ]
    events = _logins(lines)
    assert [(e.username, e.failure_reason) for e in events] == [
        ("oracle", "invalid_user"),
        ("pi", "invalid_user"),
    ]


def test_user_not_allowed_keeps_the_account() -> None:
    lines = [
        _at(
            "10:00:00",
            9,
            f"User root from {IP} not allowed because not listed in AllowUsers",
        ),
        _at("10:00:00", 9, "input_userauth_request: invalid user root [preauth]"),
        _at(
            "10:00:02",
            9,
            f"Failed password for invalid user root from {IP} port 5 ssh2",
        ),
    ]
    (event,) = _logins(lines)
    assert (event.failure_reason, event.account) == ("not_allowed", "root")


def test_a_username_cannot_spoof_the_source_address() -> None:
    line = _at(
        "10:00:00",
        10,
        f"Failed password for invalid user x from 203.0.113.9 port 1 ssh2 from {IP} "
        "port 22 ssh2",
    )
    (event,) = _logins([line])
    assert event.ip == IP
    assert event.username == "x from 203.0.113.9 port 1 ssh2"


def test_host_names_are_not_ip_addresses_and_ipv6_is_canonical() -> None:
    lines = [
        _at("10:00:00", 11, f"{PAM_FAILURE}rhost=ec2.compute.example "),
        _at("10:00:01", 12, "Failed password for root from 2001:DB8::1 port 1 ssh2"),
    ]
    events = _logins(lines)
    assert sorted(str(e.ip) for e in events) == ["2001:db8::1", "None"]


def test_a_broken_address_is_a_dead_letter_and_a_host_name_is_no_address() -> None:
    lines = [
        _at("10:00:00", 21, "Accepted password for bob from 999.51.100.7 port 1 ssh2"),
        _at("10:00:01", 22, "Failed password for root from 2001:db8::zz port 1 ssh2"),
        _at("10:00:02", 23, "Accepted password for ann from gw.example port 1 ssh2"),
    ]
    items = list(parse_auth_log(lines, year=2015))
    letters = [item for item in items if isinstance(item, DeadLetter)]
    logins = [item for item in items if isinstance(item, Login)]
    assert [(d.location, d.reason) for d in letters] == [
        ("line 1", "invalid_ip"),
        ("line 2", "invalid_ip"),
    ]
    assert "'999.51.100.7' is not an IP address" in letters[0].message
    assert [(e.username, e.ip) for e in logins] == [("ann", None)]


def test_broken_addresses_in_evidence_lines_are_dead_letters_too() -> None:
    lines = [
        _at("10:00:01", 31, "Invalid user admin from 999.2.2.2 port 22"),
        _at(
            "10:00:02", 31, "Connection closed by invalid user admin 999.2.2.2 port 22"
        ),
        _at("10:00:03", 32, f"Invalid user bob from {IP} port 22"),
        _at(
            "10:00:04",
            32,
            "Failed password for invalid user bob from 1.2.3 port 2 ssh2",
        ),
        _at("10:00:05", 32, f"Connection closed by invalid user bob {IP} port 22"),
    ]
    items = list(parse_auth_log(lines, year=2015))
    letters = [(d.location, d.reason) for d in items if isinstance(d, DeadLetter)]
    assert letters == [
        ("line 1", "invalid_ip"),
        ("line 2", "invalid_ip"),
        ("line 4", "invalid_ip"),
    ]
    # the broken line left bob's pending attempt as it was: still emitted
    (login,) = [item for item in items if isinstance(item, Login)]
    assert (login.username, login.ip, login.failure_reason) == (
        "bob",
        IP,
        "invalid_user",
    )


def test_a_quiet_connection_emits_its_pending_attempt_after_the_window() -> None:
    lines = [
        _at("10:00:00", 13, f"Invalid user a from {IP}"),
        _at("10:30:00", 14, f"Failed password for root from {IP} port 1 ssh2"),
    ]
    parser = AuthLogParser("auth.log", year=2015, window=timedelta(minutes=10))
    assert parser.feed(1, lines[0]) == []
    settled = parser.feed(2, lines[1])
    assert [e.username for e in settled if isinstance(e, Login)] == ["a", "root"]
    assert parser.finish() == []


def test_event_ids_are_deterministic_hashes_of_name_line_number_and_line() -> None:
    line = _at("07:13:43", 2, f"Failed password for root from {IP} port 42393 ssh2")
    (event,) = _logins([line], source="/var/log/auth.log")
    digest = hashlib.sha256(f"auth.log\x001\x00{line}".encode()).hexdigest()
    assert event.event_id == "ssh-" + digest[:20]
    (again,) = _logins([line], source="/elsewhere/auth.log")
    assert again.event_id == event.event_id


def test_non_syslog_lines_are_dead_letters_and_other_programs_are_skipped() -> None:
    lines = [
        "this is not syslog",
        "Dec 10 06:55:46 LabSZ CRON[1]: (root) CMD (run-parts /etc/cron.hourly)",
        "",
        _at("07:13:43", 2, f"Failed password for root from {IP} port 42393 ssh2"),
    ]
    parser = AuthLogParser("auth.log", year=2015)
    items = [item for n, line in enumerate(lines, 1) for item in parser.feed(n, line)]
    assert [type(item) for item in items] == [DeadLetter, Login]
    letter = items[0]
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.location, letter.source) == (
        "not_syslog",
        "line 1",
        "auth.log",
    )
    assert parser.stats.other_programs == 1


def test_unrecognised_sshd_lines_are_counted_or_dead_lettered_when_strict() -> None:
    line = _at("10:00:00", 15, "something sshd never said")
    parser = AuthLogParser("auth.log", year=2015)
    assert parser.feed(1, line) == []
    assert parser.stats.unrecognised == 1
    strict = AuthLogParser("auth.log", year=2015, strict=True)
    (letter,) = strict.feed(1, line)
    assert isinstance(letter, DeadLetter) and letter.reason == "unrecognised_sshd"


def test_absurd_repeat_counts_are_dead_letters() -> None:
    failed = f"Failed password for root from {IP} port 1 ssh2"
    line = _at("10:00:00", 16, f"message repeated 99999999 times: [ {failed}]")
    (letter,) = parse_auth_log([line], year=2015)
    assert isinstance(letter, DeadLetter) and letter.reason == "too_many_repeats"


def test_zone_parameter_shifts_wall_clock_times() -> None:
    line = _at("07:13:43", 2, f"Failed password for root from {IP} port 42393 ssh2")
    (event,) = _logins([line], tz="Asia/Shanghai")
    assert event.ts == datetime(2015, 12, 9, 23, 13, 43, tzinfo=UTC)


def test_read_auth_log_takes_the_year_from_the_file_mtime(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    path.write_text(
        _at("07:13:43", 2, f"Failed password for root from {IP} port 1 ssh2\n")
    )
    mtime = datetime(2016, 1, 5, tzinfo=UTC).timestamp()
    import os

    os.utime(path, (mtime, mtime))
    (event,) = read_auth_log(path)
    assert isinstance(event, Login)
    assert event.ts.year == 2015


def _expected_openssh_counts(lines: list[str]) -> tuple[int, int, int]:
    """Count attempts straight from the text: decisive lines, then silent pids."""
    failed = sum(": Failed password for " in line for line in lines)
    failed += sum(
        int(m.group(1))
        for line in lines
        if (m := re.search(r"message repeated (\d+) times: \[ Failed password", line))
    )
    accepted = sum(": Accepted " in line for line in lines)
    by_pid: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        by_pid[line.split("sshd[")[1].split("]")[0]].append(line)
    clues = ("Invalid user ", "authentication failure;", "user unknown", "Failed none")
    silent = sum(
        1
        for pid_lines in by_pid.values()
        if any(c in line for line in pid_lines for c in clues)
        and not any(
            ": Failed password" in line or ": Accepted " in line for line in pid_lines
        )
    )
    return failed, accepted, silent


@pytest.mark.datasets
def test_loghub_openssh_sample(datasets_dir: Path) -> None:
    path = datasets_dir / "loghub-auth" / "OpenSSH_OpenSSH_2k.log"
    lines = path.read_text(encoding="utf-8").splitlines()
    failed, accepted, silent = _expected_openssh_counts(lines)
    items = list(read_auth_log(path, year=2015, strict=True))
    assert not [item for item in items if isinstance(item, DeadLetter)]
    logins = [item for item in items if isinstance(item, Login)]
    assert sum(e.success for e in logins) == accepted == 1
    assert sum(not e.success for e in logins) == failed + silent
    invalid = sum("Failed password for invalid user" in line for line in lines)
    assert sum(e.failure_reason == "invalid_user" for e in logins) >= invalid
    assert "173.234.31.186" in {e.ip for e in logins if not e.success}
    assert len({e.event_id for e in logins}) == len(logins)
    assert all(e.ts.year == 2015 and e.ts.month == 12 for e in logins)


@pytest.mark.datasets
def test_loghub_linux_sample_counts_each_pam_failure(datasets_dir: Path) -> None:
    path = datasets_dir / "loghub-auth" / "Linux_Linux_2k.log"
    text = path.read_text(encoding="utf-8", errors="replace")
    expected = len(
        re.findall(r"sshd\(pam_unix\)\[\d+\]: authentication failure;", text)
    )
    items = list(read_auth_log(path, year=2005))
    assert not [item for item in items if isinstance(item, DeadLetter)]
    assert len(items) == expected


@pytest.mark.parametrize("year", [1969, 2500])
def test_an_absurd_modification_time_falls_back_to_now(
    tmp_path: Path, year: int
) -> None:
    import os

    path = tmp_path / "auth.log"
    path.write_text(
        _at("07:13:43", 2, f"Failed password for root from {IP} port 1 ssh2\n")
    )
    mtime = datetime(year, 1, 5, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))
    (event,) = read_auth_log(path)
    assert isinstance(event, Login)
    assert event.ts.year in (datetime.now(UTC).year, datetime.now(UTC).year - 1)


def test_dead_letters_of_a_log_name_its_real_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "auth.log").write_text("not syslog\n")
    monkeypatch.chdir(tmp_path)
    (letter,) = read_auth_log("auth.log", year=2015)
    assert isinstance(letter, DeadLetter)
    assert letter.source == str((tmp_path / "auth.log").resolve())
