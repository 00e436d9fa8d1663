"""Pictures of rings: members and the evidence they share, as PNG.

Analysts read rings as pictures. Each picture is a bipartite drawing: the
ring's members (account ids) on an outer circle, its shared evidence on an
inner circle, and a line from each member to each piece of evidence it holds.
Evidence is labelled by its kind and a short digest of its value, never the
value itself (addresses, e-mail shapes and URLs stay out of the picture);
`trustwatch rings show` prints the same labels beside the values. The
digest keeps values off a picture that is passed around; it is not a secret
(anyone can hash a guessed address and compare). Account ids and evidence
labels are drawn as plain text, never as matplotlib's maths markup.

The layout is fixed by the sorted ids alone, and the PNG carries no
timestamp or software tag, so the same ring gives the same bytes. Drawn with
matplotlib's Agg canvas (the ``ml`` extra), without pyplot's global state.
"""

from __future__ import annotations

import io
import math
import os
import stat
from collections.abc import Mapping, Sequence
from hashlib import blake2b
from pathlib import Path
from typing import Protocol

from trustwatch.errors import ConfigError
from trustwatch.graph.entity_graph import attribute_kind

__all__ = [
    "DrawableRing",
    "evidence_colour",
    "evidence_label",
    "render_ring_png",
    "write_png",
]

#: Members drawn per picture, first joined first; the title gives the rest.
MAX_DRAWN_MEMBERS = 60


class DrawableRing(Protocol):
    """What a picture needs of a ring: a stored snapshot or a report summary."""

    @property
    def ring_id(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def risk(self) -> float: ...
    @property
    def members(self) -> Sequence[str]: ...
    @property
    def evidence(self) -> Sequence[tuple[str, int]]: ...
    @property
    def holdings(self) -> Mapping[str, Sequence[str]]: ...


_KIND_COLOURS = {
    "ip": "#d62728",
    "net": "#ff9896",
    "uaip": "#e377c2",
    "device": "#9467bd",
    "file": "#1f77b4",
    "url": "#2ca02c",
    "recipient": "#17becf",
    "target": "#bcbd22",
    "signup": "#ff7f0e",
    "email": "#8c564b",
}

_OTHER_COLOUR = "#7f7f7f"


def evidence_colour(attribute: str) -> str:
    """Return the colour pictures draw a shared attribute in, by its kind."""
    return _KIND_COLOURS.get(attribute_kind(attribute), _OTHER_COLOUR)


_OPEN_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_TRUNC
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


def evidence_label(attribute: str) -> str:
    """Return a label for a shared attribute: its kind and a short digest.

    ``"ip:198.18.7.10"`` becomes ``"ip #1a2b3c"``: the kind, for the analyst,
    and six hex digits that tell two addresses apart without showing either.
    """
    kind = attribute_kind(attribute)
    digest = blake2b(attribute.encode(), digest_size=3).hexdigest()
    return f"{kind} #{digest}"


def _circle(count: int, radius: float) -> list[tuple[float, float]]:
    return [
        (
            radius * math.cos(2 * math.pi * i / count + math.pi / 2),
            radius * math.sin(2 * math.pi * i / count + math.pi / 2),
        )
        for i in range(count)
    ]


def render_ring_png(ring: DrawableRing, dpi: int = 100) -> bytes:
    """Draw one ring and return the PNG's bytes.

    Parameters
    ----------
    ring
        The ring, with its listed members, evidence and holdings; the first
        ``MAX_DRAWN_MEMBERS`` members are drawn.
    dpi
        Resolution of the 8 x 8 inch picture.

    Raises
    ------
    ConfigError
        When matplotlib is missing (install the ``ml`` extra).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - dev installs the ml extra
        raise ConfigError(
            "ring pictures need matplotlib; hint: pip install 'trustwatch[ml]'"
        ) from exc

    members = sorted(list(ring.members)[:MAX_DRAWN_MEMBERS])
    evidence = sorted(attribute for attribute, _ in ring.evidence)
    member_at = dict(zip(members, _circle(len(members), 1.0), strict=True))
    evidence_at = dict(zip(evidence, _circle(len(evidence), 0.62), strict=True))

    figure = Figure(figsize=(8, 8), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.set_axis_off()
    axes.set_aspect("equal")
    axes.set_xlim(-1.45, 1.45)
    axes.set_ylim(-1.45, 1.45)

    for member in members:
        mx, my = member_at[member]
        for attribute in ring.holdings.get(member, ()):
            if attribute in evidence_at:
                ex, ey = evidence_at[attribute]
                colour = evidence_colour(attribute)
                axes.plot([mx, ex], [my, ey], color=colour, linewidth=0.5, alpha=0.35)
    if members:
        xs, ys = zip(*(member_at[m] for m in members), strict=True)
        axes.scatter(xs, ys, s=36, color="#444444", zorder=3)
    small = len(members) <= 30
    for member in members:
        mx, my = member_at[member]
        if small:
            angle = math.degrees(math.atan2(my, mx))
            axes.text(
                mx * 1.06,
                my * 1.06,
                member,
                fontsize=6,
                rotation=angle if -90 <= angle <= 90 else angle + 180,
                rotation_mode="anchor",
                ha="left" if -90 <= angle <= 90 else "right",
                va="center",
                parse_math=False,
            )
    for attribute in evidence:
        ex, ey = evidence_at[attribute]
        colour = evidence_colour(attribute)
        axes.scatter([ex], [ey], s=120, marker="s", color=colour, zorder=4)
        angle = math.degrees(math.atan2(ey, ex))
        right = -90 <= angle <= 90
        # Labels point inwards along the radius, so neighbours do not overlap.
        axes.text(
            ex * 0.9,
            ey * 0.9,
            evidence_label(attribute),
            fontsize=7,
            rotation=angle if right else angle + 180,
            rotation_mode="anchor",
            ha="right" if right else "left",
            va="center",
            zorder=5,
            parse_math=False,
        )
    shown = (
        f"{len(members)} of {ring.size}" if len(members) < ring.size else str(ring.size)
    )
    figure.suptitle(
        f"ring {ring.ring_id}: {shown} accounts, risk {ring.risk:.2f}",
        fontsize=11,
        parse_math=False,
    )
    kinds = sorted({attribute_kind(a) for a in evidence})
    if kinds:
        figure.text(
            0.5,
            0.03,
            "evidence (squares): " + ", ".join(kinds),
            ha="center",
            fontsize=8,
            parse_math=False,
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def write_png(folder: Path, name: str, data: bytes) -> Path:
    """Write PNG bytes to ``folder / name``, replacing a regular file only.

    The file is opened without following a symbolic link and without waiting
    for a FIFO's reader, as :func:`trustwatch.cli.params.write_output_files`
    does for text.

    Raises
    ------
    ConfigError
        When the name is not a plain file name or the file cannot be written.
    """
    if not name or Path(name).name != name or name in {".", ".."}:
        raise ConfigError(f"picture name {name!r}; hint: a plain file name")
    target = folder / name
    try:
        fd = os.open(target, _OPEN_FLAGS, 0o666)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as stream:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError(f"cannot write {target}: it is not a regular file")
            os.set_blocking(fd, True)
            stream.write(data)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target
