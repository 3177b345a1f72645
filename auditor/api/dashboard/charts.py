"""Charts as inline SVG, drawn on the server: no JavaScript and nothing fetched from elsewhere.

Every label is escaped (markupsafe) before it enters the markup; the result is safe to insert in a page.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

_BAR_HEIGHT = 22
_LABEL_WIDTH = 110
_VALUE_WIDTH = 70


def _num(value: float, money: bool) -> str:
    return f"${value:,.2f}" if money else f"{value:,.0f}"


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    colors: dict[str, str] | None = None,
    money: bool = False,
    width: int = 420,
) -> Markup:
    """Horizontal bars, one per (label, value); ``colors`` maps a label to a CSS class."""
    colors = colors or {}
    if not items:
        return Markup('<p class="muted">{}: nothing yet</p>').format(title)
    top = max((v for _, v in items), default=0.0) or 1.0
    span = width - _LABEL_WIDTH - _VALUE_WIDTH
    height = _BAR_HEIGHT * len(items) + 4
    parts = [
        Markup('<svg class="chart" role="img" width="{}" height="{}" viewBox="0 0 {} {}"><title>{}</title>').format(
            width, height, width, height, title
        )
    ]
    for i, (label, value) in enumerate(items):
        y = i * _BAR_HEIGHT + 2
        length = max(1.0, span * value / top) if value > 0 else 0.0
        parts.append(
            Markup(
                '<text x="{}" y="{}" text-anchor="end" class="label">{}</text>'
                '<rect x="{}" y="{}" width="{:.1f}" height="{}" class="bar {}"><title>{}: {}</title></rect>'
                '<text x="{:.1f}" y="{}" class="value">{}</text>'
            ).format(
                _LABEL_WIDTH - 6,
                y + 15,
                label,
                _LABEL_WIDTH,
                y + 2,
                length,
                _BAR_HEIGHT - 6,
                colors.get(label, "bar-default"),
                label,
                _num(value, money),
                _LABEL_WIDTH + length + 4,
                y + 15,
                _num(value, money),
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def column_chart(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    money: bool = False,
    width: int = 420,
    height: int = 130,
) -> Markup:
    """Vertical columns over time (oldest left), one per (label, value); None draws no column."""
    known = [v for _, v in points if v is not None]
    if not known:
        return Markup('<p class="muted">{}: no data yet</p>').format(title)
    highest = max(known)
    top = highest or 1.0  # the scale; all zeros draw no column, and the axis still reads 0
    plot = height - 30
    step = min((width - 60) / max(len(points), 1), 28.0)  # a few runs: narrow columns, not a wall
    parts = [
        Markup('<svg class="chart" role="img" width="{}" height="{}" viewBox="0 0 {} {}"><title>{}</title>').format(
            width, height, width, height, title
        ),
        Markup('<text x="0" y="12" class="value">{}</text>').format(_num(highest, money)),
        Markup('<line x1="56" y1="{}" x2="{}" y2="{}" class="axis"/>').format(plot + 8, width, plot + 8),
    ]
    for i, (label, value) in enumerate(points):
        if value is None:
            continue
        h = max(1.0, plot * value / top) if value > 0 else 0.0
        x = 60 + i * step
        parts.append(
            Markup(
                '<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" class="bar bar-default">'
                "<title>{}: {}</title></rect>"
            ).format(x, plot + 8 - h, max(step - 3, 1.0), h, label, _num(value, money))
        )
    parts.append(Markup('<text x="60" y="{}" class="label">{}</text>').format(height - 4, points[0][0]))
    if len(points) > 1:
        parts.append(
            Markup('<text x="{:.1f}" y="{}" text-anchor="end" class="label">{}</text>').format(
                60 + len(points) * step, height - 4, points[-1][0]
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
