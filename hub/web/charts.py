"""Charts drawn on the server as inline SVG: no script, no library, nothing from a CDN.

A bar chart has one horizontal bar per unit, a dashed target line, and a grey, labelled
placeholder where a cell is suppressed, so a small unit is visible as "suppressed" and
never as zero. Every bar carries `data-key` and `data-value` for tests and scrapers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

_LABEL_WIDTH = 230
_PLOT_WIDTH = 420
_VALUE_WIDTH = 160
_ROW = 26
_TOP = 30
_BOTTOM = 24


@dataclass(frozen=True)
class Bar:
    """One bar: a unit's value (None when suppressed or missing) and how it reads."""

    key: str
    label: str
    value: float | None
    text: str
    #: Whether the value meets its target (None: no target, or no value).
    good: bool | None = None


def _x(value: float, scale: float) -> float:
    return _LABEL_WIDTH + _PLOT_WIDTH * min(value, scale) / scale


def bar_chart(
    bars: Sequence[Bar],
    *,
    css_class: str,
    title: str,
    target: float | None = None,
    target_text: str = "",
    scale: float | None = None,
) -> Markup:
    """A horizontal bar chart, one bar per unit, with an optional target line."""
    values = [b.value for b in bars if b.value is not None]
    top = max([*values, target or 0.0, 1e-9])
    scale = scale or top * 1.1
    height = _TOP + _ROW * max(len(bars), 1) + _BOTTOM
    width = _LABEL_WIDTH + _PLOT_WIDTH + _VALUE_WIDTH
    parts = [
        f'<svg class="chart {escape(css_class)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{_LABEL_WIDTH}" y1="{_TOP - 6}" x2="{_LABEL_WIDTH}" '
        f'y2="{height - _BOTTOM + 4}"/>',
    ]
    if not bars:
        parts.append(f'<text class="empty" x="{_LABEL_WIDTH + 8}" y="{_TOP + 16}">no units</text>')
    for row, bar in enumerate(bars):
        y = _TOP + row * _ROW
        parts.append(
            f'<text class="label" x="{_LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
        )
        if bar.value is None:
            parts.append(
                f'<rect class="bar suppressed" data-key="{escape(bar.key)}" data-value="" '
                f'x="{_LABEL_WIDTH}" y="{y + 4}" width="{_PLOT_WIDTH}" height="{_ROW - 8}"/>'
                f'<text class="value" x="{_LABEL_WIDTH + 8}" y="{y + 17}">{escape(bar.text)}</text>'
            )
            continue
        state = {True: "meets", False: "below", None: "plain"}[bar.good]
        end = _x(bar.value, scale)
        parts.append(
            f'<rect class="bar {state}" data-key="{escape(bar.key)}" data-value="{bar.value:g}" '
            f'x="{_LABEL_WIDTH}" y="{y + 4}" width="{max(end - _LABEL_WIDTH, 1):.1f}" '
            f'height="{_ROW - 8}"><title>{escape(bar.label)}: {escape(bar.text)}</title></rect>'
            f'<text class="value" x="{_LABEL_WIDTH + _PLOT_WIDTH + 8}" y="{y + 17}">'
            f"{escape(bar.text)}</text>"
        )
    if target is not None:
        x = _x(target, scale)
        parts.append(
            f'<line class="target" data-value="{target:g}" x1="{x:.1f}" y1="{_TOP - 6}" '
            f'x2="{x:.1f}" y2="{height - _BOTTOM + 4}"/>'
            f'<text class="target-label" x="{x:.1f}" y="{_TOP - 10}" text-anchor="middle">'
            f"{escape(target_text)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def range_strip(
    low: float | None,
    middle: float | None,
    high: float | None,
    *,
    target: float | None = None,
    scale: float = 1.0,
) -> Markup:
    """A small strip from the lowest to the highest unit, a dot at the median."""
    width, height, pad = 200, 18, 6

    def x(value: float) -> float:
        return pad + (width - 2 * pad) * min(max(value / scale, 0.0), 1.0)

    parts = [
        f'<svg class="range" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<line class="track" x1="{pad}" y1="9" x2="{width - pad}" y2="9"/>',
    ]
    if low is not None and high is not None:
        parts.append(f'<line class="spread" x1="{x(low):.1f}" y1="9" x2="{x(high):.1f}" y2="9"/>')
    if middle is not None:
        parts.append(f'<circle class="median" cx="{x(middle):.1f}" cy="9" r="4"/>')
    if target is not None:
        parts.append(
            f'<line class="target" x1="{x(target):.1f}" y1="2" x2="{x(target):.1f}" y2="16"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
