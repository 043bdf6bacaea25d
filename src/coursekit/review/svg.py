"""Tiny inline-SVG charts for the dashboard.

Hand-written SVG rather than matplotlib: a dashboard has a dozen small charts and must build
in seconds for a thousand submissions; these take microseconds each, need no font cache and
scale crisply when printed.
"""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

WIDTH, HEIGHT = 320, 150
PAD_L, PAD_R, PAD_T, PAD_B = 34, 8, 20, 30


def _nice(x: float) -> str:
    return f"{x:.3g}"


def histogram_counts(values: Sequence[float], lo: float, hi: float, bins: int) -> list[int]:
    """Counts of ``values`` in ``bins`` equal bins over [lo, hi] (hi included in the last bin)."""
    counts = [0] * bins
    width = (hi - lo) / bins if hi > lo else 1.0
    for v in values:
        if v is None or math.isnan(v):
            continue
        k = int((v - lo) / width) if hi > lo else 0
        counts[min(max(k, 0), bins - 1)] += 1
    return counts


def histogram(values: Sequence[float], *, title: str, lo: float | None = None, hi: float | None = None,
              bins: int = 20, unit: str = "", color: str = "#0969da") -> str:
    """An SVG histogram with a title, x-axis ends and the tallest bar's count."""
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    lo = min(clean, default=0.0) if lo is None else lo
    hi = max(clean, default=1.0) if hi is None else hi
    if hi <= lo:
        hi = lo + 1.0
    counts = histogram_counts(clean, lo, hi, bins)
    top = max(counts, default=0) or 1
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    bar_w = plot_w / bins
    bars = []
    for k, c in enumerate(counts):
        h = plot_h * c / top
        x0 = lo + k * (hi - lo) / bins
        x1 = x0 + (hi - lo) / bins
        bars.append(f'<rect x="{PAD_L + k * bar_w + 0.5:.1f}" y="{PAD_T + plot_h - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                    f'height="{h:.1f}" fill="{color}"><title>{_nice(x0)}–{_nice(x1)}{unit}: {c}</title></rect>')
    axis_y = PAD_T + plot_h
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
            f'role="img" aria-label="{escape(title)}">'
            f'<text x="{PAD_L}" y="13" font-weight="600">{escape(title)}</text>'
            + "".join(bars) +
            f'<line x1="{PAD_L}" y1="{axis_y}" x2="{WIDTH - PAD_R}" y2="{axis_y}" stroke="#57606a"/>'
            f'<text x="{PAD_L}" y="{axis_y + 14}">{_nice(lo)}{escape(unit)}</text>'
            f'<text x="{WIDTH - PAD_R}" y="{axis_y + 14}" text-anchor="end">{_nice(hi)}{escape(unit)}</text>'
            f'<text x="{PAD_L - 4}" y="{PAD_T + 8}" text-anchor="end">{top}</text>'
            f'<text x="{PAD_L - 4}" y="{axis_y}" text-anchor="end">0</text>'
            f'<text x="{(PAD_L + WIDTH - PAD_R) / 2}" y="{HEIGHT - 3}" text-anchor="middle" fill="#57606a">'
            f'n = {len(clean)}</text></svg>')
