"""Tests for trustwatch.events.decode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hypothesis
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events.decode import DEFAULT_MAX_DEPTH, EventDecoder
from trustwatch.events.model import (
    EVENT_TYPES,
    ApiTokenCreated,
    FileShared,
    FileUploaded,
    Login,
    Logout,
)

BASE = '"type":"login","event_id":"e1","ts":"2024-05-01T12:00:00Z","success":true'
DECODER = EventDecoder()


def _line(extra: str = "", base: str = BASE) -> bytes:
    return ("{" + base + ("," + extra if extra else "") + "}").encode()


def _reason(line: bytes, decoder: EventDecoder = DECODER) -> str:
    with pytest.raises(InvalidEventError) as info:
        decoder.decode(line)
    return info.value.reason


def test_decodes_a_compact_line_into_its_event_class() -> None:
    event = DECODER.decode(_line('"account":"a1","ip":"198.51.100.7"'))
    assert isinstance(event, Login)
    assert (event.account, event.ip, event.success) == ("a1", "198.51.100.7", True)
    assert event.ts == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_every_event_type_round_trips_through_json() -> None:
    for tag, cls in EVENT_TYPES.items():
        fields = {"file_id": "f1", "link_id": "l1", "url": "https://a.example/"}
        fields["success"] = False
        wanted = {f: fields[f] for f in cls.__struct_fields__ if f in fields}
        event = cls(event_id=f"id-{tag}", ts=datetime(2024, 1, 1, tzinfo=UTC), **wanted)
        assert DECODER.decode(msgspec.json.encode(event)) == event


def test_trailing_newlines_and_python_json_spacing_are_accepted() -> None:
    spaced = json.dumps(
        {"type": "logout", "event_id": "e", "ts": "2024-05-01T12:00:00Z"}
    ).encode()
    assert isinstance(DECODER.decode(spaced + b"\r\n"), Logout)


def test_offsets_are_normalised_to_utc() -> None:
    event = DECODER.decode(_line(base=BASE.replace("Z", "+02:00")))
    assert event.ts.tzinfo is UTC
    assert event.ts.hour == 10


def test_json01_duplicate_keys_are_refused(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    case = hardcases["JSON-01"]["input"]
    assert _reason(case.encode()) == "duplicate_key"
    # The same trick inside an otherwise valid event, at the root and nested.
    assert _reason(_line('"success":false')) == "duplicate_key"
    assert _reason(_line('"meta":{"roles":["_admin"],"roles":[]}')) == "duplicate_key"


@pytest.mark.parametrize(
    "extra",
    [
        '"account":"a" , "account" :"b"',
        '"account":"a",\t"account"\t:"b"',
        '"account":"a",\n"account"\r\n:"b"',
        '"account":"a","\\u0061ccount":"b"',
        '"x":[{"k":1},{"k":2,"k":3}]',
        '"x":"\\":","account":"a","account":"b"',
        '"x":{"":1,"":2}',
    ],
)
def test_duplicates_hidden_by_spacing_escapes_or_nesting_are_refused(
    extra: str,
) -> None:
    assert _reason(_line(extra)) == "duplicate_key"


@pytest.mark.parametrize(
    "extra",
    [
        '"x":"a\\":b","y":"\\":"',
        '"x":{"a":1,"b":{"a":2}}',
        '"x":[{"a":1},{"a":2}]',
        '"x":"\\" ","y":1',
        '"a" :1, "b"\t: 2',
        '"x":{}',
    ],
)
def test_look_alike_keys_that_are_not_duplicates_pass(extra: str) -> None:
    assert isinstance(DECODER.decode(_line(extra)), Login)


def test_json02_epoch_millisecond_timestamps_are_read_exactly(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    value = json.loads(hardcases["JSON-02"]["input"])["date"]
    event = DECODER.decode(
        _line(base=BASE.replace('"2024-05-01T12:00:00Z"', str(value)))
    )
    assert event.ts == datetime(2020, 7, 22, 18, 8, 5, 858000, tzinfo=UTC)


def test_json02_large_integers_are_not_rounded() -> None:
    line = _line(
        '"size":2882429806056571124',
        base=BASE.replace('"login"', '"file_uploaded"') + ',"file_id":"f"',
    )
    event = DECODER.decode(line)
    assert isinstance(event, FileUploaded)
    assert event.size == 2882429806056571124


def test_json03_huge_number_is_out_of_range(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    case = hardcases["JSON-03"]["input"]
    assert _reason(case.encode()) == "number_out_of_range"
    assert _reason(_line('"price":' + "2" * 8122)) == "number_out_of_range"
    assert _reason(_line('"price":1e400')) == "number_out_of_range"


def test_file_sizes_beyond_64_bits_are_out_of_range() -> None:
    base = BASE.replace('"login"', '"file_uploaded"') + ',"file_id":"f"'
    assert _reason(_line('"size":' + str(2**64), base=base)) == "number_out_of_range"


def test_json06_ten_thousand_deep_array_is_a_clean_error(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    case = hardcases["JSON-06"]["input"]
    assert _reason(case.encode()) == "too_deep"
    nested = "[" * 10000 + "0" + "]" * 10000
    assert _reason(_line(f'"x":{nested}')) == "too_deep"


def test_depth_limit_is_exact() -> None:
    # The root object is level 1, so 63 arrays reach the default limit of 64.
    at_limit = "[" * (DEFAULT_MAX_DEPTH - 1) + "]" * (DEFAULT_MAX_DEPTH - 1)
    assert isinstance(DECODER.decode(_line(f'"x":{at_limit}')), Login)
    over = "[" + at_limit + "]"
    assert _reason(_line(f'"x":{over}')) == "too_deep"
    objects = '{"a":' * (DEFAULT_MAX_DEPTH) + "0" + "}" * DEFAULT_MAX_DEPTH
    assert _reason(_line(f'"x":{objects}')) == "too_deep"


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    text = json.dumps("[{" * 500 + '\\"' + "[" * 100)
    event = DECODER.decode(_line(f'"user_agent":{text}'))
    assert event.user_agent is not None and event.user_agent.startswith("[{[{")


def test_an_unexpected_recursion_error_is_reported_as_too_deep() -> None:
    decoder = EventDecoder(max_depth=512)
    nested = "[" * 5000 + "]" * 5000
    assert _reason(_line(f'"x":{nested}'), decoder) == "too_deep"


def test_line_size_limit() -> None:
    decoder = EventDecoder(max_bytes=200)
    assert _reason(_line('"user_agent":"' + "u" * 300 + '"'), decoder) == "too_large"
    fits = _line('"user_agent":"' + "u" * 50 + '"')
    assert isinstance(decoder.decode(fits + b"\r\n"), Login)


@pytest.mark.parametrize(
    "line",
    [b"", b"   ", b"{", b"not json", b'{"a":NaN}', b'{"a":"\xff"}', b'{"a":"\\ud800"}',
     b'{"type":"login"}{}', b"\xef\xbb\xbf{}"],
)  # fmt: skip
def test_malformed_json(line: bytes) -> None:
    assert _reason(line) == "malformed_json"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[1,2]", "schema"),
        (b'"login"', "schema"),
        (b'{"event_id":"e"}', "schema"),
        (b'{"type":"nope","event_id":"e"}', "unknown_type"),
        (b'{"type":["login"],"event_id":"e"}', "unknown_type"),
        (_line(base=BASE.replace('"event_id":"e1",', "")), "schema"),
        (_line(base=BASE.replace('"e1"', '""')), "schema"),
        (_line(base=BASE.replace("true", '"yes"')), "schema"),
        (_line('"method":"telepathy"'), "schema"),
        (_line('"v":2'), "schema"),
        (_line('"v":0'), "schema"),
        (_line('"v":"1"'), "schema"),
        (_line(base=BASE.replace('"ts":"2024-05-01T12:00:00Z",', "")), "schema"),
    ],
)
def test_schema_violations_have_stable_reasons(line: bytes, reason: str) -> None:
    assert _reason(line) == reason


def test_newer_schema_version_says_so() -> None:
    with pytest.raises(InvalidEventError, match="upgrade trustwatch"):
        DECODER.decode(_line('"v":2,"brand_new_field":{"x":1}'))


@pytest.mark.parametrize(
    "ts",
    ['"yesterday"', '"2017-03-26T02:59:33"', "true", '"Tue Feb 23 00:44:27 IST 2016"'],
)
def test_unreadable_timestamps(ts: str) -> None:
    assert (
        _reason(_line(base=BASE.replace('"2024-05-01T12:00:00Z"', ts))) == "timestamp"
    )


def test_naive_timestamps_use_the_decoder_zone() -> None:
    decoder = EventDecoder(source_tz="Europe/Berlin")
    line = _line(base=BASE.replace("12:00:00Z", "12:00:00"))
    assert decoder.decode(line).ts == datetime(2024, 5, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("1595441285", datetime(2020, 7, 22, 18, 8, 5, tzinfo=UTC)),
        ('"1595441285858"', datetime(2020, 7, 22, 18, 8, 5, 858000, tzinfo=UTC)),
        (
            '"Tue Feb 23 00:44:27 PST 2016"',
            datetime(2016, 2, 23, 8, 44, 27, tzinfo=UTC),
        ),
        (
            '"2017-03-26T02:59:33,492Z"',
            datetime(2017, 3, 26, 2, 59, 33, 492000, tzinfo=UTC),
        ),
    ],
)
def test_other_timestamp_forms_fall_back_to_the_lenient_parser(
    ts: str, expected: datetime
) -> None:
    event = DECODER.decode(_line(base=BASE.replace('"2024-05-01T12:00:00Z"', ts)))
    assert event.ts == expected


def test_unknown_fields_are_ignored() -> None:
    event = DECODER.decode(_line('"future":{"a":[1,2,{"b":null}]}'))
    assert isinstance(event, Login)


def test_decode_dict_accepts_python_values() -> None:
    row = {
        "type": "api_token_created",
        "event_id": "e",
        "ts": datetime(2024, 1, 1, tzinfo=UTC),
        "scopes": ["read", "write"],
    }
    event = DECODER.decode_dict(row)
    assert isinstance(event, ApiTokenCreated)
    assert event.scopes == ("read", "write")
    assert row["scopes"] == ["read", "write"]


def test_decode_dict_reads_epochs_and_refuses_bad_rows() -> None:
    base = {"type": "file_shared", "event_id": "e", "file_id": "f"}
    event = DECODER.decode_dict({**base, "ts": 1595441285858})
    assert isinstance(event, FileShared)
    assert event.ts.year == 2020
    with pytest.raises(InvalidEventError) as info:
        DECODER.decode_dict({**base, "ts": datetime(2020, 1, 1)})
    assert info.value.reason == "timestamp"
    with pytest.raises(InvalidEventError) as info:
        DECODER.decode_dict({**base, "ts": 1595441285, "recipients": "not-a-list"})
    assert info.value.reason == "schema"


def test_nothing_but_invalid_event_error_escapes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("trustwatch.events.decode.parse_timestamp", broken)
    line = _line(base=BASE.replace('"2024-05-01T12:00:00Z"', "1595441285"))
    assert _reason(line) == "undecodable"
    with pytest.raises(InvalidEventError) as info:
        DECODER.decode_dict({"type": "logout", "event_id": "e", "ts": 1595441285})
    assert info.value.reason == "undecodable"


@pytest.mark.parametrize(
    "kwargs", [{"max_bytes": 1}, {"max_depth": 0}, {"source_tz": "Nowhere/Land"}]
)
def test_bad_settings_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        EventDecoder(**kwargs)


# Adversarial property tests: the counting shortcut must agree with an exact
# parse on every document, however it is spaced or escaped.

_KEYS = st.sampled_from(["a", "b", "ab", ":", '"', " ", "\\", "type", "ts"])
_SCALARS = st.one_of(
    st.integers(-(2**70), 2**70), st.booleans(), st.none(),
    st.text(alphabet='ab":\\ {}[],\t', max_size=6),
)  # fmt: skip


def _trees() -> st.SearchStrategy[Any]:
    return st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.lists(st.tuples(_KEYS, inner), max_size=4).map(_Pairs),
        ),
        max_leaves=12,
    )


class _Pairs(list[tuple[str, Any]]):
    """An object as written, keys possibly repeated."""


def _encode_key(key: str, escape: bool) -> str:
    if escape:
        return '"' + "".join(f"\\u{ord(c):04x}" for c in key) + '"'
    return json.dumps(key)


def _render(tree: Any, data: st.DataObject) -> str:
    space = data.draw(st.sampled_from(["", "", " ", "\t", "\n ", "\r\n"]))
    if isinstance(tree, _Pairs):
        parts = [
            _encode_key(k, data.draw(st.booleans())) + space + ":" + _render(v, data)
            for k, v in tree
        ]
        return "{" + ("," + space).join(parts) + "}"
    if isinstance(tree, list):
        return "[" + ("," + space).join(_render(v, data) for v in tree) + "]"
    return json.dumps(tree)


def _has_duplicate(text: str) -> bool:
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> None:
        nonlocal found
        keys = [k for k, _ in pairs]
        found |= len(keys) != len(set(keys))

    json.loads(text, object_pairs_hook=hook)
    return found


@settings(max_examples=400, derandomize=True, deadline=None)
@given(tree=_trees(), data=st.data())
def test_duplicate_detection_matches_an_exact_parse(
    tree: Any, data: st.DataObject
) -> None:
    rendered = _render(tree, data)
    line = _line('"extra":' + rendered)
    duplicate = _has_duplicate(rendered)
    hypothesis.event("duplicate" if duplicate else "unique")
    if duplicate:
        assert _reason(line) == "duplicate_key"
    else:
        assert isinstance(DECODER.decode(line), Login)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    depth=st.integers(0, 80),
    noise=st.text(alphabet='[]{}"\\ab', max_size=8),
    brackets=st.sampled_from(["[]", "{}"]),
)
def test_depth_check_matches_the_true_depth(
    depth: int, noise: str, brackets: str
) -> None:
    inner = json.dumps(noise)
    opening, closing = brackets
    value = inner
    for _ in range(depth):
        value = (
            (opening + '"k":' + value + closing)
            if opening == "{"
            else (opening + value + closing)
        )
    line = _line('"extra":' + value)
    if depth + 1 > DEFAULT_MAX_DEPTH:
        assert _reason(line) == "too_deep"
    else:
        assert isinstance(DECODER.decode(line), Login)


def test_canonical_lines_still_get_the_version_size_and_zone_checks() -> None:
    ts = datetime(2024, 5, 1, 12, tzinfo=UTC)
    newer = msgspec.json.encode(Login(event_id="e", ts=ts, success=True, v=2))
    assert _reason(newer) == "schema"
    big = FileUploaded(event_id="e", ts=ts, file_id="f", size=2**64)
    assert _reason(msgspec.json.encode(big)) == "number_out_of_range"
    berlin = datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    event = DECODER.decode(msgspec.json.encode(Logout(event_id="e", ts=berlin)))
    assert event.ts == ts
    assert event.ts.tzinfo is UTC


def test_duplicates_with_equal_values_are_refused_too() -> None:
    assert _reason(_line('"success":true', base=BASE)) == "duplicate_key"
    event = Logout(event_id="e", ts=datetime(2024, 5, 1, tzinfo=UTC))
    canonical = msgspec.json.encode(event)
    doubled = canonical[:-1] + b',"event_id":"e"}'
    assert _reason(doubled) == "duplicate_key"
    assert DECODER.decode(canonical + b"\r\n") == event


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    text=st.text(max_size=20),
    names=st.lists(st.text(max_size=8), max_size=3),
    micros=st.integers(0, 10**15),
)
def test_canonical_lines_round_trip_whatever_their_text(
    text: str, names: list[str], micros: int
) -> None:
    ts = datetime(1990, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    events = [
        Login(event_id="e" + text, ts=ts, success=True, user_agent=text, username=text),
        FileShared(event_id="f", ts=ts, file_id="x" + text, recipients=tuple(names)),
    ]
    for event in events:
        line = msgspec.json.encode(event)
        assert DECODER.decode(line) == event
        assert DECODER.decode(line + b"\n") == event


@pytest.mark.parametrize(
    "ts", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
)
def test_times_that_overflow_in_utc_are_timestamp_errors_without_warnings(
    ts: str, caplog: pytest.LogCaptureFixture
) -> None:
    canonical = f'{{"type":"logout","event_id":"e","ts":"{ts}"}}'.encode()
    spaced = json.dumps({"type": "logout", "event_id": "e", "ts": ts}).encode()
    for line in (canonical, spaced):
        assert _reason(line) == "timestamp"
    with pytest.raises(InvalidEventError) as info:
        DECODER.decode_dict({"type": "logout", "event_id": "e", "ts": ts})
    assert info.value.reason == "timestamp"
    assert not caplog.records


@pytest.mark.parametrize(
    "ts",
    [
        '"1989-12-31T23:59:59Z"',
        '"2200-01-01T00:00:00Z"',
        '"2199-12-31T23:00:00-01:00"',
        "99999999999000000",
        "0",
        '"1970-01-01T00:00:00Z"',
    ],
)
def test_times_outside_the_event_span_are_refused(ts: str) -> None:
    canonical = ('{"type":"logout","event_id":"e","ts":' + ts + "}").encode()
    assert _reason(canonical) == "timestamp"
    assert _reason(canonical.replace(b",", b", ")) == "timestamp"
    with pytest.raises(InvalidEventError, match="outside the accepted span") as info:
        DECODER.decode_dict({"type": "logout", "event_id": "e", "ts": json.loads(ts)})
    assert info.value.reason == "timestamp"


def test_the_edges_of_the_event_span_are_accepted() -> None:
    for ts in ("1990-01-01T00:00:00Z", "2199-12-31T23:59:59.999999Z"):
        line = f'{{"type":"logout","event_id":"e","ts":"{ts}"}}'.encode()
        assert isinstance(DECODER.decode(line), Logout)


@pytest.mark.parametrize("blank", [" ", "\t", "\n \r", "\u3000", "\u00a0\u2003"])
@pytest.mark.parametrize(
    ("kind", "field", "extra"),
    [
        ("logout", "event_id", {}),
        ("file_shared", "file_id", {"event_id": "e"}),
        ("link_accessed", "link_id", {"event_id": "e"}),
        ("url_posted", "url", {"event_id": "e"}),
        ("file_uploaded", "file_id", {"event_id": "e"}),
    ],
)
def test_identifiers_of_only_whitespace_are_schema_errors(
    blank: str, kind: str, field: str, extra: dict[str, str]
) -> None:
    record = {
        "type": kind,
        "event_id": "e",
        "file_id": "f",
        "link_id": "l",
        "url": "https://a.example/",
        "ts": "2024-05-01T12:00:00Z",
    }
    record[field] = blank
    compact = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()
    spaced = json.dumps(record).encode()
    for line in (compact, spaced):
        with pytest.raises(InvalidEventError, match=f"{field} is only whitespace"):
            DECODER.decode(line)
    assert _reason(compact) == "schema"
    with pytest.raises(InvalidEventError, match="only whitespace"):
        DECODER.decode_dict(record)


@pytest.mark.parametrize(
    "ip", ["999.1.1.1", "not-an-ip", "203.0.113.9:443", "   ", "fe80::1%\x1b[2J"]
)
def test_an_address_that_is_not_an_ip_is_refused(ip: str) -> None:
    record = {"type": "logout", "event_id": "e", "ts": "2024-05-01T12:00:00Z"}
    record["ip"] = ip
    line = json.dumps(record, separators=(",", ":")).encode()
    assert _reason(line) == "invalid_ip"
    with pytest.raises(InvalidEventError, match="not an IPv4 or IPv6 address"):
        DECODER.decode_dict(record)


@pytest.mark.parametrize(
    "ip",
    [
        "203.0.113.9",
        "2001:DB8::1",
        "::ffff:192.0.2.1",
        # as the enrichment reads them: kept as sent
        " 203.0.113.5\n",
        "[2001:db8::1]",
        "fe80::1%eth0",
        "",
        None,
    ],
)
def test_addresses_and_no_address_are_accepted(ip: str | None) -> None:
    record = {"type": "logout", "event_id": "e", "ts": "2024-05-01T12:00:00Z"}
    if ip is not None:
        record["ip"] = ip
    assert DECODER.decode(json.dumps(record).encode()).ip == ip


def test_identifiers_are_kept_exactly_as_sent() -> None:
    line = b'{"type":"file_shared","event_id":" e1 ","ts":"2024-05-01T12:00:00Z",'
    event = DECODER.decode(line + b'"file_id":"\\tf1"}')
    assert isinstance(event, FileShared)
    assert (event.event_id, event.file_id) == (" e1 ", "\tf1")


def test_a_naive_time_hints_at_the_cli_option() -> None:
    line = b'{"type":"logout","event_id":"e","ts":"2024-05-01T12:00:00"}'
    with pytest.raises(InvalidEventError, match="--source-tz ZONE") as info:
        DECODER.decode(line)
    assert "source_tz=" in str(info.value)


def test_every_required_identifier_of_every_event_type_refuses_blanks() -> None:
    import msgspec.inspect as mi

    for tag, cls in EVENT_TYPES.items():
        fields = mi.type_info(cls).fields  # type: ignore[attr-defined]
        texts = [
            f.name
            for f in fields
            if isinstance(f.type, mi.StrType) and f.type.min_length and f.required
        ]
        assert "event_id" in texts, tag
        record: dict[str, Any] = {"type": tag, "ts": "2024-05-01T12:00:00Z"}
        record.update({name: "x1" for name in texts})
        if "success" in cls.__struct_fields__:
            record["success"] = True
        assert isinstance(DECODER.decode(msgspec.json.encode(record)), cls)
        for name in texts:
            line = msgspec.json.encode({**record, name: " "})
            assert _reason(line) == "schema", (tag, name)
