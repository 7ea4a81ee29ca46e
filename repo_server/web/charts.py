"""Charts drawn by the application itself: inline SVG, no JavaScript, nothing from the internet.

Two kinds are enough for the statistics page: a horizontal bar chart (names of subjects
and schools are long Chinese labels, which read best on the left) and a line chart over
days. Each chart is an `<svg role="img">` with a `<title>` and `<desc>` for screen readers,
a `<title>` per bar or point (the browser's tooltip), colours as attributes so it prints
without the style sheet, and a `viewBox` so it scales with the page. Every text is escaped;
the page shows the same numbers as a table beside each chart.
"""

from __future__ import annotations

import math
from typing import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "line_chart", "nice_ticks"]

INK, BAR, GRID, MUTED = "#222", "#1f5f8b", "#d8dee4", "#666"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def nice_ticks(top: float, count: int = 4) -> list[int]:
    """0 and round steps (1, 2, 5 × 10ⁿ) up to at least `top`, about `count` of them."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(int(step), 1)
    return list(range(0, int(math.ceil(top / step)) * step + 1, step))


def _open(chart_id: str, width: int, height: int, title: str, description: str) -> list[str]:
    cid = escape(chart_id)
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" role="img" '
            f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
            f'aria-labelledby="{cid}-title {cid}-desc" {FONT}>',
            f'<title id="{cid}-title">{escape(title)}</title>',
            f'<desc id="{cid}-desc">{escape(description)}</desc>']


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def bar_chart(rows: Sequence[tuple[str, int]], *, chart_id: str, title: str, description: str = "",
              width: int = 640, label_width: int = 170, empty: str = "—") -> Markup:
    """Horizontal bars, one per (label, value), in the order given."""
    row_h, top, pad = 26, 6, 56
    height = top * 2 + max(len(rows), 1) * row_h
    out = _open(chart_id, width, height, title, description)
    biggest = max((v for _, v in rows), default=0)
    span = width - label_width - pad
    if not rows:
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" text-anchor="middle" '
                   f'fill="{MUTED}">{escape(empty)}</text>')
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        length = 0 if biggest == 0 else max(span * value / biggest, 1 if value else 0)
        tip = escape(f"{label}: {value}")
        out.append(f'<g class="bar"><title>{tip}</title>'
                   f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" fill="{INK}">'
                   f'{escape(_short(label, 14))}</text>'
                   f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}" '
                   f'fill="{BAR}"/>'
                   f'<text x="{label_width + length + 6:.1f}" y="{y + 17}" fill="{INK}">{value}</text></g>')
    out.append("</svg>")
    return Markup("".join(out))


def line_chart(points: Sequence[tuple[str, int]], *, chart_id: str, title: str, description: str = "",
               width: int = 720, height: int = 240, x_labels: int = 6) -> Markup:
    """A line over (label, value) points spaced evenly, with a y axis of round numbers and
    a few x labels (first and last always). Points get tooltips while there are few enough
    to hover (≤ 92)."""
    left, right, top, bottom = 44, 14, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    out = _open(chart_id, width, height, title, description)
    ticks = nice_ticks(max((v for _, v in points), default=0))
    scale = ticks[-1] or 1

    def x(i: int) -> float:
        return left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / scale

    for tick in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                   f'stroke="{GRID}" stroke-width="1"/>'
                   f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="{MUTED}">{tick}</text>')
    if points:
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
        base = f"{x(len(points) - 1):.1f},{y(0):.1f} {x(0):.1f},{y(0):.1f}"
        out.append(f'<polygon points="{coords} {base}" fill="{BAR}" fill-opacity="0.12" stroke="none"/>'
                   f'<polyline points="{coords}" fill="none" stroke="{BAR}" stroke-width="2" '
                   f'stroke-linejoin="round"/>')
        if len(points) <= 92:
            for i, (label, value) in enumerate(points):
                out.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="2.5" fill="{BAR}">'
                           f'<title>{escape(f"{label}: {value}")}</title></circle>')
        step = max(1, round((len(points) - 1) / max(x_labels - 1, 1)))
        shown = sorted(set(range(0, len(points), step)) | {len(points) - 1})
        if len(shown) > 1 and shown[-1] - shown[-2] < step / 2:
            shown.pop(-2)  # keep the last label from running into its neighbour
        for i in shown:
            anchor = "start" if i == 0 else "end" if i == len(points) - 1 else "middle"
            out.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}" fill="{MUTED}">'
                       f'{escape(points[i][0])}</text>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="{MUTED}"/>')
    out.append("</svg>")
    return Markup("".join(out))
