"""A stacked column chart as server-rendered SVG (reasons over time): no script and no inline
style (the console's CSP), series coloured by the classes chart-s0 .. chart-s7 of console.css,
a text alternative in <title> and <desc>, and a <title> on every segment. Pages put the
figures in a table beside it; the single-series charts are `operations.charts`'. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 240
PALETTE = 8


@dataclass(frozen=True)
class Column:
    label: str
    parts: tuple[float, ...]  # one value per series, in the series' order


def _attrs(**attrs: object) -> str:
    out = []
    for name, value in attrs.items():
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        out.append(f'{name.rstrip("_").replace("_", "-")}="{escape(shown)}"')
    return " ".join(out)


def stacked_column_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    series: Sequence[str],
    columns: Sequence[Column],
) -> str:
    """One column per period, its parts stacked bottom-up in the order of `series`; a label
    under every column when they fit, else under every few; the column's total above it."""
    top, bottom, side = 22, 30, 8
    plot = HEIGHT - top - bottom
    slot = (WIDTH - 2 * side) / max(1, len(columns))
    every = max(1, round(len(columns) / 12))
    peak = max((sum(c.parts) for c in columns), default=0) or 1
    base = top + plot
    shapes = [f"<line {_attrs(class_='chart-axis', x1=side, y1=base, x2=WIDTH - side, y2=base)}/>"]
    for index, column in enumerate(columns):
        x = side + index * slot + slot * 0.15
        width = slot * 0.7
        y = float(base)
        for number, (name, value) in enumerate(zip(series, column.parts, strict=True)):
            if value <= 0:
                continue
            height = plot * value / peak
            y -= height
            tip = f"{escape(column.label)}, {escape(name)}: {value:g}"
            klass = f"chart-s{number % PALETTE}"
            box = _attrs(class_=klass, x=x, y=y, width=width, height=height)
            shapes.append(f"<rect {box}><title>{tip}</title></rect>")
        total = sum(column.parts)
        if total and len(columns) <= 31:
            where = _attrs(class_="chart-value", x=x + width / 2, y=y - 4, text_anchor="middle")
            shapes.append(f"<text {where}>{total:g}</text>")
        if index % every == 0:
            where = _attrs(
                class_="chart-label", x=x + width / 2, y=HEIGHT - 10, text_anchor="middle"
            )
            shapes.append(f"<text {where}>{escape(column.label)}</text>")
    frame = _attrs(
        xmlns="http://www.w3.org/2000/svg",
        class_="chart",
        role="img",
        id=chart_id,
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        preserveAspectRatio="xMinYMin meet",
        aria_labelledby=f"{chart_id}-title {chart_id}-desc",
    )
    heading = f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
    about = f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
    return f"<svg {frame}>{heading}{about}{''.join(shapes)}</svg>"


def legend(series: Sequence[str]) -> str:
    """The series' names beside their colours, as a list (the colours are decoration)."""
    items = []
    for number, name in enumerate(series):
        swatch = _attrs(class_=f"chart-s{number % PALETTE}", width=12, height=12)
        icon = f'<svg class="swatch" aria-hidden="true" viewBox="0 0 12 12"><rect {swatch}/></svg>'
        items.append(f"<li>{icon} {escape(name)}</li>")
    return f'<ul class="chart-legend">{"".join(items)}</ul>'
