"""Two ``trustwatch run`` on one store: the second is refused at once."""

from __future__ import annotations

import fcntl
from pathlib import Path

import msgspec

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.testing import synthetic_events


def test_a_second_run_on_a_store_in_use_is_refused_and_writes_nothing(
    tmp_path: Path, capsys
) -> None:
    events = tmp_path / "events.jsonl"
    lines = [msgspec.json.encode(e) for e in synthetic_events(20)]
    events.write_bytes(b"\n".join(lines) + b"\n")
    db = tmp_path / "store.sqlite"
    args = ["run", str(events), "--resume", "--db", str(db), "--no-geo"]

    # the lock another run holds: flock locks conflict per open file, so one
    # process shows it as well as two
    with open(f"{db}.lock", "a+b") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        code = main(args)
    err = capsys.readouterr().err
    assert code == ExitCode.DEPENDENCY_FAILED
    assert f"another `trustwatch run` is writing to store {db}" in err
    assert "hint:" in err and "Traceback" not in err
    assert not db.exists()

    # once the first run is over, the next one goes ahead
    assert main(args) == ExitCode.OK
    assert db.is_file()
