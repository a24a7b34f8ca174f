"""Inline SVG charts drawn on the server: no script, no external request, printable."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 14, 40
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def month_label(key: str) -> str:
    """`2026-09` as `Sep 26`."""
    year, month = key.split("-")
    return f"{MONTHS[int(month) - 1]} {year[2:]}"


def bar_chart(title: str, months: Sequence[str],
              series: Sequence[tuple[str, str, dict[str, int]]]) -> Markup:
    """Grouped monthly bars: `series` is (name, CSS class, counts by `YYYY-MM`)."""
    label = escape(title)
    if not months:
        return Markup(f'<p class="empty">{label}: nothing to chart.</p>')
    totals = [sum(counts.get(m, 0) for _, _, counts in series) for m in months]
    peak = max([counts.get(m, 0) for _, _, counts in series for m in months] + [1])
    scale = _nice(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(months)
    bar = max(2.0, min(18.0, (slot - 4) / len(series)))
    words = ", ".join(f"{month_label(m)}: {t}" for m, t in zip(months, totals, strict=True)
                      if t)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{label}. {escape(words) or "none"}" '
             'xmlns="http://www.w3.org/2000/svg">', f"<title>{label}</title>"]
    for step in range(5):
        value = scale * step / 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{value:g}</text>')
    every = max(1, round(len(months) / 12))
    for index, month in enumerate(months):
        x0 = LEFT + index * slot + (slot - bar * len(series)) / 2
        for number, (name, css, counts) in enumerate(series):
            count = counts.get(month, 0)
            if not count:
                continue
            h = plot_h * count / scale
            parts.append(f'<rect class="{css}" x="{x0 + number * bar:.1f}" '
                         f'y="{TOP + plot_h - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}">'
                         f"<title>{escape(name)} {month_label(month)}: {count}</title></rect>")
        if index % every == 0:
            parts.append(f'<text class="axis" x="{LEFT + index * slot + slot / 2:.1f}" '
                         f'y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                         f"{month_label(month)}</text>")
    x = LEFT
    for name, css, _ in series:
        parts.append(f'<rect class="{css}" x="{x}" y="{HEIGHT - 14}" width="10" height="10"/>'
                     f'<text class="legend" x="{x + 14}" y="{HEIGHT - 5}">{escape(name)}</text>')
        x += 14 + 8 * len(name) + 24
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice(peak: int) -> int:
    """The top of the axis: the peak rounded up to a multiple of 4, so each grid line is a
    whole number."""
    return max(4, -(-peak // 4) * 4)
