"""Server-rendered SVG bar charts: no script, no inline style (the console's CSP), colours
from classes in console.css, and a text alternative in <title> and <desc>. Pages put the
figures in a table beside each chart. Pure: no Django.

The markup is built here with every text escaped, so a page may include it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 720
BAR_GAP = 0.25  # of a slot


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str = ""  # the value as the page writes it; the number when empty

    @property
    def text(self) -> str:
        return self.shown or f"{self.value:g}"


def _number(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _el(tag: str, content: str | None = None, **attrs: object) -> str:
    """An element; attribute names with _ become -, numbers get one decimal at most."""
    written = " ".join(
        f'{name.rstrip("_").replace("_", "-")}="{escape(_number(value))}"'
        for name, value in attrs.items()
    )
    if content is None:
        return f"<{tag} {written}/>"
    return f"<{tag} {written}>{content}</{tag}>"


def _bar(bar: Bar, **attrs: object) -> str:
    return _el("rect", f"<title>{escape(bar.label)}: {escape(bar.text)}</title>", **attrs)


def _frame(chart_id: str, title: str, description: str, height: int, body: list[str]) -> str:
    inner = (
        _el("title", escape(title), id=f"{chart_id}-title")
        + _el("desc", escape(description), id=f"{chart_id}-desc")
        + "".join(body)
    )
    return _el(
        "svg",
        inner,
        xmlns="http://www.w3.org/2000/svg",
        class_="chart",
        role="img",
        id=chart_id,
        viewBox=f"0 0 {WIDTH} {height}",
        preserveAspectRatio="xMinYMin meet",
        aria_labelledby=f"{chart_id}-title {chart_id}-desc",
    )


def column_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[Bar],
    height: int = 220,
    label_every: int = 1,
) -> str:
    """Vertical bars left to right (hours of the day, histogram buckets), the value above each
    bar and every `label_every`th label below."""
    top, bottom, left, right = 24, 28, 8, 8
    plot = height - top - bottom
    slot = (WIDTH - left - right) / max(1, len(bars))
    peak = max((bar.value for bar in bars), default=0) or 1
    base = top + plot
    body = [_el("line", class_="chart-axis", x1=left, y1=base, x2=WIDTH - right, y2=base)]
    for index, bar in enumerate(bars):
        h = plot * bar.value / peak
        x = left + index * slot + slot * BAR_GAP / 2
        w = slot * (1 - BAR_GAP)
        middle = x + w / 2
        body.append(_bar(bar, class_="chart-bar", x=x, y=float(base - h), width=w, height=h))
        if bar.value:
            body.append(
                _el(
                    "text",
                    escape(bar.text),
                    class_="chart-value",
                    x=middle,
                    y=float(base - h - 4),
                    text_anchor="middle",
                )
            )
        if index % label_every == 0:
            body.append(
                _el(
                    "text",
                    escape(bar.label),
                    class_="chart-label",
                    x=middle,
                    y=height - 10,
                    text_anchor="middle",
                )
            )
    return _frame(chart_id, title, description, height, body)


def bar_chart(*, chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> str:
    """Horizontal bars top to bottom (stages of a backlog): the label left, the value after
    the bar."""
    row, label_width, top = 30, 200, 6
    height = top * 2 + row * max(1, len(bars))
    room = WIDTH - label_width - 80
    peak = max((bar.value for bar in bars), default=0) or 1
    body = []
    for index, bar in enumerate(bars):
        y = top + index * row
        w = room * bar.value / peak
        text_y = y + row // 2 + 5
        body.append(
            _el(
                "text",
                escape(bar.label),
                class_="chart-label",
                x=label_width - 8,
                y=text_y,
                text_anchor="end",
            )
        )
        body.append(_bar(bar, class_="chart-bar", x=label_width, y=y + 5, width=w, height=row - 10))
        body.append(
            _el("text", escape(bar.text), class_="chart-value", x=label_width + w + 6, y=text_y)
        )
    return _frame(chart_id, title, description, height, body)
