"""Small server-rendered SVG charts (no JavaScript, nothing fetched from elsewhere)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

PALETTE = ["#1f77b4", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828", "#00838f", "#5d4037", "#455a64", "#ad1457"]


# Average advance of a 12 px sans-serif glyph, generous enough for Hungarian and Greek words.
CHAR_WIDTH = 7.2
VALUE_ROOM = 90  # room right of the longest bar for its printed value and unit


def bar_chart(items: Sequence[tuple[str, float]], *, title: str = "", unit: str = "", max_value: float | None = None,
              width: int = 460, bar_height: int = 20, value_format: str | Callable[[float], str] = "{:g}",
              label_width: int = 150) -> Markup:
    """Horizontal bars, one per (label, value), with the value printed at the end of each bar.

    The label column and the chart grow with the longest label, so translated labels are never clipped;
    `value_format` may be a function (the viewer's number format)."""
    pad = 6
    label_w = max(label_width, int(CHAR_WIDTH * max((len(str(lb)) for lb, _v in items), default=0)) + 12)
    width = max(width, label_w + 200 + VALUE_ROOM)
    fmt = value_format if callable(value_format) else value_format.format
    height = pad * 2 + len(items) * (bar_height + pad) + (18 if title else 0)
    top = pad + (18 if title else 0)
    peak = max_value if max_value is not None else max((v for _l, v in items), default=0)
    scale = (width - label_w - VALUE_ROOM) / peak if peak else 0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}">']
    if title:
        parts.append(f'<title>{escape(title)}</title><text x="0" y="13" class="chart-title">{escape(title)}</text>')
    if not items:
        parts.append(f'<text x="0" y="{top + 14}" class="chart-empty">—</text>')
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_height + pad)
        w = max(0.0, value * scale)
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{color}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height * 0.7:.1f}">'
            f'{escape(fmt(value))}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def heatmap(rows: Sequence[Sequence[int]], row_labels: Sequence[str], *, title: str = "", cell: int = 18,
            col_labels: Sequence[str] | None = None) -> Markup:
    """A grid of cells shaded by count (e.g. calls per weekday and hour), the count in each cell's tooltip."""
    cols = max((len(r) for r in rows), default=0)
    col_labels = col_labels if col_labels is not None else [f"{i:02d}" for i in range(cols)]
    left, top = 40, 20 + (18 if title else 0)
    width, height = left + cols * cell + 4, top + len(rows) * cell + 4
    peak = max((v for r in rows for v in r), default=0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}">']
    if title:
        parts.append(f'<title>{escape(title)}</title><text x="0" y="13" class="chart-title">{escape(title)}</text>')
    for c, name in enumerate(col_labels):
        if c % 3 == 0:
            parts.append(f'<text x="{left + c * cell + 1}" y="{top - 6}" font-size="10">{escape(name)}</text>')
    for r, (name, row) in enumerate(zip(row_labels, rows, strict=True)):
        y = top + r * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell * 0.7:.1f}" text-anchor="end" font-size="11">'
                     f'{escape(name)}</text>')
        for c, value in enumerate(row):
            # Light grey for zero, then deeper blue with the count.
            shade = "#eef2f6" if not value else f"rgba(31,78,121,{0.2 + 0.8 * value / peak:.2f})"
            parts.append(f'<rect x="{left + c * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                         f'fill="{shade}" data-count="{value}"><title>{escape(name)} {escape(col_labels[c])}: '
                         f'{value}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))
