"""Pictures of rings as SVG, drawn on the server from the stored snapshot.

The same bipartite layout as the PNG pictures of
:mod:`trustwatch.evaluation.ring_pictures`: members on an outer circle,
shared evidence on an inner one (labelled by kind and a short digest, never
the value), a line from each member to each piece of evidence it holds. The
SVG holds no script, no link and no external reference; every text is
escaped, so an account id written by an attacker stays text.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from trustwatch.evaluation.ring_pictures import (
    MAX_DRAWN_MEMBERS,
    DrawableRing,
    evidence_colour,
    evidence_label,
)

__all__ = ["render_ring_svg"]

_SIZE = 800
_CENTRE = _SIZE / 2
#: Room on each side for the labels of members on the circle's left and right.
_LABEL_MARGIN = 180
_MAX_LABEL = 32


def _circle(count: int, radius: float) -> list[tuple[float, float]]:
    """Points evenly on a circle, the first at the top, in picture units."""
    return [
        (
            round(
                _CENTRE + radius * math.cos(2 * math.pi * i / count - math.pi / 2), 2
            ),
            round(
                _CENTRE + radius * math.sin(2 * math.pi * i / count - math.pi / 2), 2
            ),
        )
        for i in range(count)
    ]


def _text(value: str) -> str:
    """Escape for SVG text, cut to a readable length, controls dropped."""
    shown = "".join(c for c in value if c.isprintable())
    if len(shown) > _MAX_LABEL:
        shown = shown[: _MAX_LABEL - 1] + "…"
    return escape(shown)


def render_ring_svg(ring: DrawableRing) -> str:
    """Draw one ring and return the SVG document.

    Parameters
    ----------
    ring
        The ring: the first ``MAX_DRAWN_MEMBERS`` listed members are drawn,
        sorted, so the same ring gives the same picture.

    Returns
    -------
    str
        A standalone SVG document (``image/svg+xml``).
    """
    members = sorted(list(ring.members)[:MAX_DRAWN_MEMBERS])
    evidence = sorted(attribute for attribute, _ in ring.evidence)
    member_at = dict(zip(members, _circle(len(members), 330.0), strict=True))
    evidence_at = dict(zip(evidence, _circle(len(evidence), 200.0), strict=True))
    width = _SIZE + 2 * _LABEL_MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{_SIZE}" viewBox="{-_LABEL_MARGIN} 0 {width} {_SIZE}" '
        f'role="img" font-family="sans-serif">',
        f"<title>ring {_text(ring.ring_id)}: {ring.size} members, risk "
        f"{ring.risk:.2f}</title>",
        f'<rect x="{-_LABEL_MARGIN}" width="{width}" height="{_SIZE}" fill="#ffffff"/>',
    ]
    for member in members:
        mx, my = member_at[member]
        for attribute in ring.holdings.get(member, ()):
            if attribute in evidence_at:
                ex, ey = evidence_at[attribute]
                colour = evidence_colour(attribute)
                parts.append(
                    f'<line x1="{mx}" y1="{my}" x2="{ex}" y2="{ey}" '
                    f'stroke="{colour}" stroke-width="1" stroke-opacity="0.4"/>'
                )
    labelled = len(members) <= 30
    for member in members:
        mx, my = member_at[member]
        parts.append(f'<circle cx="{mx}" cy="{my}" r="5" fill="#444444"/>')
        if labelled:
            anchor = "start" if mx >= _CENTRE else "end"
            shift = 8 if mx >= _CENTRE else -8
            parts.append(
                f'<text x="{mx + shift}" y="{my + 3}" font-size="10" '
                f'text-anchor="{anchor}">{_text(member)}</text>'
            )
    for attribute in evidence:
        ex, ey = evidence_at[attribute]
        colour = evidence_colour(attribute)
        parts.append(
            f'<rect x="{ex - 6}" y="{ey - 6}" width="12" height="12" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{ex}" y="{ey - 10}" font-size="10" text-anchor="middle">'
            f"{_text(evidence_label(attribute))}</text>"
        )
    hidden = ring.size - len(members)
    caption = f"{len(members)} of {ring.size} members drawn" if hidden > 0 else ""
    parts.append(
        f'<text x="{10 - _LABEL_MARGIN}" y="{_SIZE - 10}" font-size="12">'
        f"{escape(caption)}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
