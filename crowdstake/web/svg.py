"""Charts as inline SVG, drawn on the server: `lines(series)` draws one polyline per series of
(x, y) points on shared axes, with a zero line when the values cross it, and `bars(values)` a
bar per value (positive up, negative down). Both return an `<svg>` element (text, escaped), or
a short note when there is nothing to draw. The element is meant inline in an HTML page, whose
parser gives it the SVG namespace: it names no namespace URL (the pages refer to no other host)."""

from __future__ import annotations

from html import escape

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
WIDTH, HEIGHT, PAD = 560, 220, 40


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _label(v: float) -> str:
    """An axis value short enough for the margin: 266.8k, 1.2M, 0.0123."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:.4g}{unit}"
    return f"{v:.4g}"


def _frame(title: str, body: list[str], ylo: float, yhi: float, xs: list[float]) -> str:
    y = _scale(ylo, yhi, HEIGHT - PAD, PAD / 2)
    axis = [f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD}" class="axis"/>',
            f'<line x1="{PAD}" y1="{PAD / 2}" x2="{PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
            f'<text x="{PAD - 4}" y="{y(yhi) + 4:.1f}" text-anchor="end">{_label(yhi)}</text>',
            f'<text x="{PAD - 4}" y="{y(ylo) + 4:.1f}" text-anchor="end">{_label(ylo)}</text>']
    if ylo < 0 < yhi:
        axis.append(f'<line x1="{PAD}" y1="{y(0):.1f}" x2="{WIDTH - 10}" y2="{y(0):.1f}" class="zero"/>')
    if xs:
        axis.append(f'<text x="{PAD}" y="{HEIGHT - PAD + 16}">{min(xs):g}</text>')
        axis.append(f'<text x="{WIDTH - 10}" y="{HEIGHT - PAD + 16}" text-anchor="end">{max(xs):g}</text>')
    return (f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
            f'<title>{escape(title)}</title>{"".join(axis)}{"".join(body)}</svg>')


def lines(title: str, series: dict[str, list[tuple[float, float]]]) -> str:
    """One line per named series of (x, y) points (a dot at each), on shared axes."""
    points = [p for s in series.values() for p in s if p[1] is not None]
    if not points:
        return f'<p class="note">{escape(title)}: nothing to draw yet.</p>'
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    ylo, yhi = min(0.0, min(ys)), max(0.0, max(ys))
    x = _scale(min(xs), max(xs), PAD, WIDTH - 10) if len(set(xs)) > 1 else (lambda v: (PAD + WIDTH - 10) / 2)
    y = _scale(ylo, yhi, HEIGHT - PAD, PAD / 2)
    body = []
    for i, (name, s) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        drawn = [(x(a), y(b)) for a, b in s if b is not None]
        if not drawn:
            continue
        d = "M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in drawn)
        body.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"><title>{escape(name)}</title></path>')
        body += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in drawn]
        body.append(f'<text x="{WIDTH - 12}" y="{PAD / 2 + 14 * (i + 1)}" text-anchor="end" fill="{colour}">'
                    f'{escape(name)}</text>')
    return _frame(title, body, ylo, yhi, xs)


def bars(title: str, values: list[tuple[float, float]]) -> str:
    """One bar per (x, value): up from zero when positive, down when negative."""
    values = [(a, b) for a, b in values if b is not None]
    if not values:
        return f'<p class="note">{escape(title)}: nothing to draw yet.</p>'
    ys = [b for _, b in values]
    ylo, yhi = min(0.0, min(ys)), max(0.0, max(ys))
    y = _scale(ylo, yhi, HEIGHT - PAD, PAD / 2)
    slot = (WIDTH - 10 - PAD) / len(values)
    body = []
    for i, (a, b) in enumerate(values):
        top, bottom = sorted((y(b), y(0)))
        colour = COLOURS[0] if b >= 0 else COLOURS[1]
        width = min(slot * 0.7, 40.0)
        body.append(f'<rect x="{PAD + i * slot + (slot - width) / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
                    f'height="{max(bottom - top, 0.5):.1f}" fill="{colour}"><title>{a:g}: {b:.6g}</title></rect>')
    return _frame(title, body, ylo, yhi, [a for a, _ in values])
