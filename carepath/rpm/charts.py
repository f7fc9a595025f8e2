"""Trend charts drawn by us: inline SVG built on the server (no JavaScript library, nothing
from another origin, nothing for the CSP to block: presentation attributes, no style="").

Each chart has a <title> and a <desc> (what it shows, the range and latest value, the
thresholds) for screen readers, and the page shows the same data as a table of daily
summaries. Many readings are summarised per time bucket (mean line, min-max band), so a chart
stays small whatever the number of readings."""

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from carepath.rpm.measures import spec_of
from carepath.rpm.thresholds import LEVEL_BANDS

# A narrow drawing, so its text stays legible when a phone scales it down.
WIDTH, HEIGHT = 480, 270
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 14, 32
MAX_POINTS = 160
FONT = 14

COLORS = {
    "line": "#0b6e6e",
    "band": "#9fcfcf",
    "axis": "#536072",
    "grid": "#d5dbe3",
    "warning": "#8a5a00",
    "critical": "#b3261e",
    "text": "#1b2330",
}


@dataclass
class DaySummary:
    day: dt.date
    count: int
    low: float
    high: float
    mean: float
    last: float


@dataclass
class Chart:
    measure: str
    title: str
    svg: SafeString
    days: list[DaySummary]
    count: int
    latest: tuple[dt.datetime, float] | None
    unit: str
    thresholds: dict[str, float]


def _nice_step(span: float) -> float:
    raw = span / 5 if span > 0 else 1
    magnitude = float(10.0 ** math.floor(math.log10(raw)))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def day_summaries(points: Sequence[tuple[dt.datetime, float]], zone: dt.tzinfo) -> list[DaySummary]:
    by_day: dict[dt.date, list[float]] = {}
    for at, value in points:
        by_day.setdefault(at.astimezone(zone).date(), []).append(value)
    return [
        DaySummary(day, len(values), min(values), max(values), fmean(values), values[-1])
        for day, values in sorted(by_day.items())
    ]


def _buckets(
    points: Sequence[tuple[dt.datetime, float]], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, float, float, float]]:
    """(time, mean, min, max) per bucket; one bucket per reading when there are few."""
    if len(points) <= MAX_POINTS:
        return [(at, value, value, value) for at, value in points]
    span = (end - start).total_seconds() or 1
    groups: dict[int, list[tuple[dt.datetime, float]]] = {}
    for at, value in points:
        index = min(MAX_POINTS - 1, int((at - start).total_seconds() / span * MAX_POINTS))
        groups.setdefault(index, []).append((at, value))
    buckets = []
    for index in sorted(groups):
        group = groups[index]
        values = [v for _, v in group]
        middle = start + dt.timedelta(seconds=span * (index + 0.5) / MAX_POINTS)
        buckets.append((middle, fmean(values), min(values), max(values)))
    return buckets


def render_chart(
    measure: str,
    points: Sequence[tuple[dt.datetime, float]],
    thresholds: Mapping[str, float],
    *,
    start: dt.datetime,
    end: dt.datetime,
    zone: dt.tzinfo,
    chart_id: str,
) -> Chart:
    spec = spec_of(measure)
    levels = {band: thresholds[band] for band in LEVEL_BANDS if band in thresholds}
    values = [v for _, v in points]
    lo = min([*values, *levels.values()], default=spec.low)
    hi = max([*values, *levels.values()], default=spec.high)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    step = _nice_step(hi - lo)
    lo = math.floor(lo / step) * step
    hi = math.ceil(hi / step) * step
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    span = (end - start).total_seconds() or 1

    def x(at: dt.datetime) -> float:
        return LEFT + plot_w * min(1.0, max(0.0, (at - start).total_seconds() / span))

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - lo) / (hi - lo))

    title = f"{spec.label} ({spec.unit_label}), last {(end - start).days} days"
    latest = points[-1] if points else None
    desc_parts = [f"{len(points)} readings"]
    if values:
        desc_parts.append(
            f"lowest {_fmt(min(values), spec.decimals)}, highest {_fmt(max(values), spec.decimals)}"
            f" {spec.unit_label}"
        )
    if latest is not None:
        desc_parts.append(
            f"latest {_fmt(latest[1], spec.decimals)} {spec.unit_label} on "
            f"{latest[0].astimezone(zone):%b %d at %H:%M}"
        )
    for band, bound in levels.items():
        label = band.replace("_", " ")
        desc_parts.append(f"{label} threshold {_fmt(bound, spec.decimals)}")
    desc = "; ".join(desc_parts) + "."

    out: list[str] = [
        f'<svg class="rpm-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    # Grid and y labels.
    tick = lo
    while tick <= hi + step / 2:
        ty = y(tick)
        out.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" '
            f'stroke="{COLORS["grid"]}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="{FONT}" '
            f'fill="{COLORS["axis"]}">{_fmt(tick, 0 if step >= 1 else 1)}</text>'
        )
        tick += step
    # X labels: about six dates in the viewer's zone.
    days = max(1, (end - start).days)
    every = max(1, math.ceil(days / 4))
    first_day = start.astimezone(zone).date() + dt.timedelta(days=1)
    for n in range(0, days, every):
        day = first_day + dt.timedelta(days=n)
        at = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        if at > end:
            break
        tx = x(at)
        out.append(
            f'<line x1="{tx:.1f}" y1="{TOP}" x2="{tx:.1f}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="{COLORS["grid"]}" stroke-width="1" stroke-dasharray="2 4"/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'font-size="{FONT}" fill="{COLORS["axis"]}">{day:%b} {day.day}</text>'
        )
    # Axes.
    out.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="{COLORS["axis"]}" stroke-width="1"/>'
    )
    out.append(
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="{COLORS["axis"]}" stroke-width="1"/>'
    )
    # Thresholds: dashed warning lines, solid critical lines, labelled at the right.
    for band, bound in levels.items():
        color = COLORS["critical"] if band.startswith("critical") else COLORS["warning"]
        dash = "" if band.startswith("critical") else ' stroke-dasharray="6 4"'
        ty = y(bound)
        out.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" '
            f'stroke="{color}" stroke-width="1.5"{dash}/>'
        )
        word = "critical" if band.startswith("critical") else "warning"
        out.append(
            f'<text x="{WIDTH - RIGHT - 4}" y="{ty - 4:.1f}" text-anchor="end" '
            f'font-size="{FONT - 1}" fill="{color}">{word} {_fmt(bound, spec.decimals)}</text>'
        )
    # Data.
    buckets = _buckets(points, start, end)
    if len(buckets) > 1 and any(b[2] != b[3] for b in buckets):
        upper = " ".join(f"{x(at):.1f},{y(high):.1f}" for at, _, _, high in buckets)
        lower = " ".join(f"{x(at):.1f},{y(low):.1f}" for at, _, low, _ in reversed(buckets))
        out.append(
            f'<polygon points="{upper} {lower}" fill="{COLORS["band"]}" fill-opacity="0.5" '
            f'stroke="none"/>'
        )
    if len(buckets) > 1:
        line = " ".join(f"{x(at):.1f},{y(mean):.1f}" for at, mean, _, _ in buckets)
        out.append(
            f'<polyline points="{line}" fill="none" stroke="{COLORS["line"]}" stroke-width="2" '
            f'stroke-linejoin="round"/>'
        )
    if len(buckets) <= 90:
        for at, mean, _, _ in buckets:
            crossed = _crossed(mean, levels)
            color = COLORS[crossed] if crossed else COLORS["line"]
            out.append(f'<circle cx="{x(at):.1f}" cy="{y(mean):.1f}" r="3" fill="{color}"/>')
    if not points:
        out.append(
            f'<text x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
            f'font-size="{FONT + 2}" fill="{COLORS["axis"]}">No readings in this period</text>'
        )
    out.append("</svg>")
    return Chart(
        measure=measure,
        title=title,
        svg=mark_safe("".join(out)),  # noqa: S308 - built here from numbers and escaped text
        days=day_summaries(points, zone),
        count=len(points),
        latest=latest,
        unit=spec.unit_label,
        thresholds=levels,
    )


def _crossed(value: float, levels: Mapping[str, float]) -> str:
    for band in ("critical_low", "critical_high", "warning_low", "warning_high"):
        bound = levels.get(band)
        if bound is None:
            continue
        if (value < bound) if band.endswith("_low") else (value >= bound):
            return "critical" if band.startswith("critical") else "warning"
    return ""
