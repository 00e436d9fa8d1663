"""Dataset readers: formats, skipped lines and missing files."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustwatch.devdata.feeds import (
    HASH_IOCS,
    LEGIT_SESSIONS,
    URLHAUS,
    read_hash_iocs,
    read_sessions,
    read_urlhaus,
)
from trustwatch.errors import ConfigError


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_hash_iocs_are_typed_by_length_and_lowercased(tmp_path: Path) -> None:
    _write(
        tmp_path,
        HASH_IOCS,
        "# comment;not a hash\n\n"
        "44D88612FEA8A8F36DE82E1278ABB02F;EICAR md5\n"
        "3395856ce81f2b7382dee72602f798b642f14140;EICAR sha1\n"
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f;EICAR\n"
        "44d88612fea8a8f36de82e1278abb02f;duplicate\n"
        "zz88612fea8a8f36de82e1278abb02f0;not hex\n"
        "1234;too short\n",
    )
    iocs = read_hash_iocs(tmp_path)
    assert [(i.algorithm, i.value[:6]) for i in iocs] == [
        ("md5", "44d886"),
        ("sha1", "339585"),
        ("sha256", "275a02"),
    ]


def test_session_rows_without_source_are_skipped(tmp_path: Path) -> None:
    header = (
        "session_id,start_time,end_time,duration,src_ip,src_port,dst_port,protocol,"
        "total_connexion,login_success,login_failed,avg_time_between_failed,"
        "is_business_hours,label\n"
    )
    _write(
        tmp_path,
        LEGIT_SESSIONS,
        header
        + "a1,2025-01-07T05:43:37Z,x,1,198.51.100.2,1,22,ssh,2,1,0,0,False,1\n"
        + "a2,,2025-01-07T05:43:37Z,1,,,,,0,0,0,0,True,1\n",
    )
    rows = read_sessions(tmp_path, LEGIT_SESSIONS)
    assert [(r.session_id, r.succeeded, r.failed) for r in rows] == [("a1", 1, 0)]


def test_urlhaus_reader_takes_the_url_column(tmp_path: Path) -> None:
    _write(
        tmp_path,
        URLHAUS,
        "id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
        '"1","2025-04-21","http://198.51.100.7:8080/bin.sh","online","","x","",'
        '"https://urlhaus.example/url/1/","r"\n',
    )
    assert read_urlhaus(tmp_path) == ["http://198.51.100.7:8080/bin.sh"]


def test_missing_file_raises_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"urlhaus\.csv"):
        read_urlhaus(tmp_path)
