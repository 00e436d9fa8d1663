"""Injected-ring evaluation: targets, false clusters and ring pictures."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.errors import ConfigError
from trustwatch.evaluation.ring_pictures import (
    evidence_label,
    render_ring_png,
    write_png,
)
from trustwatch.evaluation.rings import (
    RingEvaluation,
    _method_score,
    default_ring_specs,
    evaluate_injected_rings,
)
from trustwatch.graph.inject import InjectedRing

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_run() -> RingEvaluation:
    """A small run: 600 accounts over two days, four rings."""
    return evaluate_injected_rings(
        accounts=600, days=2.0, seed=5, sizes=(8, 12, 20, 30)
    )


def test_injected_rings_meet_the_issue_targets(small_run: RingEvaluation) -> None:
    assert small_run.truth == 8 + 12 + 20 + 30
    assert small_run.recall >= 0.95
    assert small_run.precision >= 0.99
    assert small_run.meets_targets
    assert [score.size for score in small_run.per_ring] == [8, 12, 20, 30]
    for score in small_run.per_ring:
        assert score.recall >= 0.95 and score.precision >= 0.99
        assert score.late_found == score.late_joiners


def test_top_rings_name_their_injected_source(small_run: RingEvaluation) -> None:
    assert [ring.size for ring in small_run.top_rings] == [30, 20, 12, 8]
    assert small_run.top_rings[0].injected == "injected-3"
    top = small_run.top_rings[0]
    assert top.evidence and all(top.holdings[m] for m in top.members)


def test_no_ring_telemetry_forms_no_risky_ring(small_run: RingEvaluation) -> None:
    clean = small_run.false_clusters
    assert clean.events > 1000
    assert clean.risky_sizes == ()
    assert clean.flagged_accounts == 0
    assert small_run.false_clusters.to_dict()["risky_rings"] == 0


def test_report_renders_tables_and_picture_links(small_run: RingEvaluation) -> None:
    ring_id = small_run.top_rings[0].ring_id
    text = small_run.render([(ring_id, "ring-1.png")])
    assert "| injected-3 | 30 |" in text
    assert f"![ring {ring_id}](ring-1.png)" in text
    assert "False clusters" in text
    payload = small_run.to_dict()
    assert payload["overall"]["meets_targets"] is True
    json.dumps(payload)


def test_methods_compare_on_the_same_telemetry(small_run: RingEvaluation) -> None:
    assert [m.method for m in small_run.methods] == [
        "lockstep",
        "communities",
        "dense_blocks",
    ]
    lockstep = small_run.method("lockstep")
    assert (lockstep.recall, lockstep.precision) == (
        small_run.recall,
        small_run.precision,
    )
    for method in small_run.methods:
        assert method.truth == small_run.truth
        assert method.recall >= 0.95 and method.precision >= 0.99, method.method
        assert method.false_clusters.risky_sizes == ()
    payload = small_run.to_dict()["methods"]
    assert set(payload) == {"lockstep", "communities", "dense_blocks"}
    assert "Methods compared" in small_run.render()
    with pytest.raises(ConfigError, match="not evaluated"):
        small_run.method("louvain")
    with pytest.raises(ConfigError, match="unknown ring methods"):
        evaluate_injected_rings(methods=("louvain",))


def test_ring_picture_is_a_deterministic_png(
    small_run: RingEvaluation, tmp_path: Path
) -> None:
    ring = small_run.top_rings[-1]
    data = render_ring_png(ring)
    assert data.startswith(_PNG_SIGNATURE)
    assert render_ring_png(ring) == data
    written = write_png(tmp_path, "ring.png", data)
    assert written.read_bytes() == data


def test_evidence_labels_hide_the_values() -> None:
    label = evidence_label("ip:198.18.7.10")
    assert label.startswith("ip #")
    assert "198.18" not in label
    assert evidence_label("ip:198.18.7.11") != label


def test_write_png_refuses_paths_and_symlinks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_png(tmp_path, "../escape.png", b"x")
    (tmp_path / "link.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(ConfigError):
        write_png(tmp_path, "link.png", b"x")
    assert not (tmp_path / "elsewhere.png").exists()


@pytest.mark.parametrize(
    ("kwargs", "hint"),
    [
        ({"accounts": 5}, "accounts"),
        ({"days": 0.5}, "too short"),
        ({"sizes": ()}, "no ring sizes"),
        ({"sizes": (2,)}, "ring size"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    kwargs: dict[str, object], hint: str
) -> None:
    with pytest.raises(ConfigError, match=hint):
        evaluate_injected_rings(**kwargs)  # type: ignore[arg-type]


def test_default_specs_vary_proxies_and_late_joiners() -> None:
    specs = default_ring_specs((8, 12, 20, 30))
    assert [s.proxies for s in specs] == [1, 2, 3, 4]
    assert [s.late_joiners for s in specs] == [0, 1, 2, 0]


@pytest.mark.slow
def test_cli_writes_report_and_pictures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    args = ["evaluate", "rings", "--accounts", "600", "--days", "2", "--seed", "5"]
    assert main([*args, "--out", str(out)]) == ExitCode.OK
    text = capsys.readouterr().out
    assert "Injected rings in simulated telemetry" in text
    assert "meets the targets" in text
    pictures = sorted(out.glob("ring-*.png"))
    assert [p.name for p in pictures] == [f"ring-{i}.png" for i in range(1, 7)]
    for picture in pictures:
        assert picture.read_bytes().startswith(_PNG_SIGNATURE)
    report = (out / "report.md").read_text()
    assert "](ring-1.png)" in report
    payload = json.loads((out / "report.json").read_text())
    assert payload["injected_rings"]["overall"]["recall"] >= 0.95
    assert len(payload["injected_rings"]["pictures"]) == 6


def test_cli_refuses_too_few_days(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "rings", "--days", "0.5"])
    assert code != ExitCode.OK


def test_ring_picture_draws_maths_markup_in_ids_as_text(
    small_run: RingEvaluation,
) -> None:
    ring = small_run.top_rings[-1]
    odd = {m: f"$\\oops{m}$" for m in ring.members}
    hostile = replace(
        ring,
        ring_id="$\\notacommand$",
        members=tuple(odd.values()),
        holdings={odd[m]: held for m, held in ring.holdings.items()},
    )
    assert render_ring_png(hostile).startswith(_PNG_SIGNATURE)


def test_precision_is_0_when_nothing_is_flagged() -> None:
    key = [InjectedRing("ring-a", ("a1", "a2", "a3"), ())]
    score = _method_score("lockstep", 0.5, ([], []), ([], []), key, [], 0.0)

    assert (score.flagged, score.recall, score.precision) == (0, 0.0, 0.0)
    assert [(r.found, r.precision) for r in score.per_ring] == [(0, 0.0)]
