"""Count the YARA rules of the public sets that compile, and why others do not.

Run from the checkout: ``python3 benchmarks/yara_compile_counts.py`` (the
sets are read in place from ``../shared/datasets``), or give rule folders,
files or globs as arguments. Prints, per set, the rules that compiled, the
rejects with their most common reasons, the files read and the load time,
then the time to scan a 1 MiB buffer of random bytes and a 256 KiB text
buffer with the whole set, against hashing the same buffer with SHA-256 in
the same run (the cost every upload pays anyway).
"""

from __future__ import annotations

import glob
import hashlib
import random
import sys
import time
from pathlib import Path

from trustwatch.content.yara_rules import RuleLoad, load_rules

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DEFAULT_SETS = (
    DATASETS / "yara-signature-base" / "yara",
    DATASETS / "yara-rules-community",
    DATASETS / "yara-rules-community" / "malware" / "Operation_Blockbuster",
)


def _buffers() -> dict[str, bytes]:
    rng = random.Random(7)
    words = [b"invoice", b"password", b"http://example.com/a", b"<script>", b"MZ"]
    text = b" ".join(rng.choice(words) for _ in range(40_000))[: 256 * 1024]
    return {"1 MiB random": rng.randbytes(1 << 20), "256 KiB text": text}


def _best(run: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def print_scan_times(load: RuleLoad) -> None:
    """Print the best of three scans of each buffer, and the SHA-256 ratio."""
    for label, data in _buffers().items():
        scan = _best(lambda data=data: load.scan(data, timeout=60))
        digest = _best(lambda data=data: hashlib.sha256(data).digest())
        print(
            f"  scan {label}: {scan * 1000:.1f} ms "
            f"({scan / digest:.0f}x SHA-256 of it, {digest * 1000:.2f} ms)"
        )


def main(argv: list[str]) -> int:
    """Load each set and print its counts; return the exit status."""
    targets = argv or [str(path) for path in DEFAULT_SETS]
    missing = [t for t in targets if not glob.glob(t)]
    if missing:
        print(f"absent: {', '.join(missing)}", file=sys.stderr)
        return 2
    for target in targets:
        load = load_rules([target])
        print(
            f"{target}\n  compiled {len(load.accepted):,}  rejected "
            f"{len(load.rejected):,}  files {len(load.sources):,}  index files "
            f"skipped {load.index_files}  hash literals lowercased "
            f"{load.lint_fixes}  load {load.load_seconds:.1f} s"
        )
        for reason, count in load.reason_counts().most_common(10):
            print(f"  {count:>6,}  {reason}")
        print_scan_times(load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
