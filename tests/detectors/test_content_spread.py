from datetime import UTC, datetime, timedelta

from trustwatch.detectors.content_spread import ContentSpreadDetector, content_key
from trustwatch.events.model import FileShared, FileUploaded, LinkAccessed, LinkCreated

T0 = datetime(2026, 5, 1, tzinfo=UTC)
EICAR = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"


def at(i):
    return T0 + timedelta(seconds=i)


def upload(i, account, sha256=EICAR):
    return FileUploaded(
        event_id=f"u{i}", ts=at(i), account=account, file_id=f"f{i}", sha256=sha256
    )


def test_same_content_from_many_accounts_is_a_spread():
    detector = ContentSpreadDetector(uploaders=5)
    events = [upload(i, f"acct{i}") for i in range(6)]
    events.append(upload(99, "acct0"))  # a repeat uploader adds nothing
    found = detector.process(events)
    assert [s.event_id for s in found] == ["u4", "u5", "u99"]
    assert found[0].entity == f"sha256:{EICAR}"
    assert found[-1].evidence["uploaders"] == 6


def test_one_account_uploading_many_copies_is_not_a_spread():
    detector = ContentSpreadDetector(uploaders=5)
    assert detector.process([upload(i, "acct") for i in range(20)]) == []


def test_share_fan_out_follows_content_across_copies():
    detector = ContentSpreadDetector(recipients=10)
    events = [upload(0, "a"), upload(1, "b")]
    for i in range(3):
        for file_id in ("f0", "f1"):
            recipients = tuple(f"r{file_id}{i}{j}" for j in range(2))
            events.append(
                FileShared(
                    event_id=f"s{file_id}{i}",
                    ts=at(10 + i),
                    account="a",
                    file_id=file_id,
                    recipients=recipients,
                )
            )
    found = detector.process(events)
    assert found and found[0].kind == "content_spread_shares"
    assert found[-1].evidence["recipients"] == 12


def test_link_opened_from_many_sources():
    detector = ContentSpreadDetector(link_sources=20)
    events = [LinkCreated(event_id="l", ts=at(0), link_id="lnk", file_id="f0")]
    events += [
        LinkAccessed(
            event_id=f"a{i}", ts=at(i + 1), link_id="lnk", ip=f"198.51.100.{i}"
        )
        for i in range(25)
    ]
    found = detector.process(events)
    assert len(found) == 6
    assert found[0].evidence["file_id"] == "f0"


def test_content_key_prefers_the_strongest_hash():
    event = FileUploaded(event_id="x", ts=T0, file_id="f", md5="ABC", sha1="DEF")
    assert content_key(event) == "sha1:def"
    assert content_key(FileUploaded(event_id="y", ts=T0, file_id="f")) is None
