"""Small server-side SVG charts for the retention page (issue 15 point 7): no script, no
CDN, readable at 390 px and 1280 px (the SVG scales to its box), with a text alternative
(every figure is also in the tables beside it). Colours and fills are attributes, not
inline styles, so the page's Content-Security-Policy holds."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from forms.i18n import _, current_language, format_decimal

#: One colour per series (colour-blind safe pair, then greys).
COLOURS = ("#1a73e8", "#e8710a", "#5f6368", "#9aa0a6")


def percent_text(value: float) -> str:
    """A percentage (73.4 for 73.4 %) the reader's way: ``73.4%`` in English, ``73,4 %`` in
    French (no-break space); decimals as many as the value has."""
    if current_language() == "en":
        return f"{value:g}%"
    return f"{format_decimal(value)}\u00a0%"


def _point(words: str, label: str, series: str, value: float) -> str:
    """A bar's or a point's text alternative ("C01 M6 done: 50%"), escaped; ``words`` is
    ``_point_words()``, looked up once per chart rather than once per bar."""
    return escape(words.format(label=label, series=series, value=percent_text(value)))


def _point_words() -> str:
    return _("{label} {series}: {value}")


def _legend(names: Sequence[str], x: float, y: float) -> str:
    out, pos = [], x
    for i, name in enumerate(names):
        out.append(f'<rect x="{pos:.0f}" y="{y - 9:.0f}" width="10" height="10" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"/>'
                   f'<text x="{pos + 14:.0f}" y="{y:.0f}" font-size="12">{escape(name)}</text>')
        pos += 24 + 7 * len(name)
    return "".join(out)


def bar_chart(rows: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str], *,
              title: str, chart_id: str) -> Markup:
    """Horizontal bars, one group per row (a centre), one bar per series, 0-100 %."""
    label_w, plot_w, bar_h, gap = 70, 420, 9, 8
    words = _point_words()
    group_h = bar_h * len(series) + gap
    top = 34
    height = top + group_h * len(rows) + 24
    width = label_w + plot_w + 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="{chart_id}-title" id="{chart_id}" class="chart">'
             f'<title id="{chart_id}-title">{escape(title)}</title>',
             _legend(series, label_w, 14)]
    for tick in (0, 25, 50, 75, 100):
        x = label_w + plot_w * tick / 100
        parts.append(f'<line x1="{x:.0f}" y1="{top - 6}" x2="{x:.0f}" y2="{height - 20}" '
                     f'stroke="#e0e0e0"/><text x="{x:.0f}" y="{height - 6}" font-size="11" '
                     f'text-anchor="middle">{percent_text(tick)}</text>')
    for r, (label, values) in enumerate(rows):
        y0 = top + r * group_h
        parts.append(f'<text x="{label_w - 6}" y="{y0 + bar_h * len(series) / 2 + 4:.0f}" '
                     f'font-size="12" text-anchor="end">{escape(label)}</text>')
        for s, value in enumerate(values):
            y = y0 + s * bar_h
            if value is None:
                parts.append(f'<text x="{label_w + 3}" y="{y + bar_h - 1}" font-size="9" '
                             f'fill="#5f6368">–</text>')
                continue
            w = plot_w * max(0.0, min(100.0, value)) / 100
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 1}" '
                         f'fill="{COLOURS[s % len(COLOURS)]}">'
                         f'<title>{_point(words, label, series[s], value)}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)


def line_chart(points: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str], *,
               title: str, chart_id: str) -> Markup:
    """One line per series over ordered labels (months of inclusion), 0-100 %."""
    left, plot_w, plot_h, top = 40, 460, 180, 30
    words = _point_words()
    width, height = left + plot_w + 20, top + plot_h + 40
    n = max(1, len(points) - 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="{chart_id}-title" id="{chart_id}" class="chart">'
             f'<title id="{chart_id}-title">{escape(title)}</title>',
             _legend(series, left, 14)]
    for tick in (0, 50, 100):
        y = top + plot_h * (1 - tick / 100)
        parts.append(f'<line x1="{left}" y1="{y:.0f}" x2="{left + plot_w}" y2="{y:.0f}" '
                     f'stroke="#e0e0e0"/><text x="{left - 4}" y="{y + 4:.0f}" font-size="11" '
                     f'text-anchor="end">{percent_text(tick)}</text>')
    step = max(1, len(points) // 6)
    for i, (label, _values) in enumerate(points):
        if i % step == 0 or i == len(points) - 1:
            x = left + plot_w * i / n
            anchor = "end" if i == len(points) - 1 and i else "start" if i == 0 else "middle"
            parts.append(f'<text x="{x:.0f}" y="{top + plot_h + 16}" font-size="11" '
                         f'text-anchor="{anchor}">{escape(label)}</text>')
    for s, name in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        coords = [(left + plot_w * i / n, top + plot_h * (1 - v / 100), label, v)
                  for i, (label, values) in enumerate(points)
                  if (v := values[s]) is not None]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _l, _v in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="2"/>')
        for x, y, label, v in coords:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                         f'<title>{_point(words, label, name, v)}</title></circle>')
    if not any(v is not None for _l, values in points for v in values):
        parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h / 2:.0f}" '
                     f'font-size="13" text-anchor="middle">'
                     f'{escape(_("No visit window has closed yet."))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)
