"""Charts as plain data for inline SVG: no script, no external asset (the HTML report is one file)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditor.cost.allocate import CostPoint

WIDTH, HEIGHT = 640, 220  # the SVG's viewBox
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 28  # margins for the axis labels
MAX_SERIES = 5  # the total and the biggest groups; the rest stay in the total


@dataclass(frozen=True)
class Series:
    name: str
    points: str  # "x,y x,y ..." for <polyline points=...>
    last: float  # the latest value, for the legend


@dataclass(frozen=True)
class LineChart:
    """A line per series over the same x positions; coordinates already in the viewBox."""

    width: int
    height: int
    series: list[Series]
    y_max: float
    x_labels: list[tuple[float, str]]  # (x, label) of the first and the last point
    baseline: float  # y of the value 0


def line_chart(labels: Sequence[str], series: Mapping[str, Sequence[float]]) -> LineChart | None:
    """Lines of ``series`` (name -> one value per label, in order); None when there is nothing to draw."""
    n = len(labels)
    if n == 0 or not series:
        return None
    y_max = max((max(values) for values in series.values() if values), default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    drawn = [
        Series(name, " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values)), values[-1])
        for name, values in series.items()
        if len(values) == n
    ]
    ends = [(x(0), labels[0])] if n == 1 else [(x(0), labels[0]), (x(n - 1), labels[-1])]
    return LineChart(WIDTH, HEIGHT, drawn, round(y_max, 2), ends, y(0.0))


def cost_trend_chart(points: Sequence[CostPoint]) -> LineChart | None:
    """The monthly cost of a target's runs: the total, then its biggest groups (namespaces) as of the last run."""
    if not points:
        return None
    last = points[-1].monthly_usd
    biggest = sorted(last, key=lambda g: (-last[g], g))[: MAX_SERIES - 1]
    series: dict[str, list[float]] = {"total": [p.total for p in points]}
    for group in biggest:
        series[group] = [p.monthly_usd.get(group, 0.0) for p in points]
    return line_chart([p.started_at.strftime("%Y-%m-%d %H:%M") for p in points], series)


__all__ = ["LineChart", "Series", "cost_trend_chart", "line_chart"]
