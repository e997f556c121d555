"""A tiny SVG canvas for widget frames: many small drawings, a few hundred bytes each.

Matplotlib draws each chapter's static backdrop once; the frames a reader steps through are SVG
overlays drawn here, in the same data coordinates, so a page holds hundreds of frames cheaply.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Sequence

_ids = itertools.count()
_FAR = 1e4  # pixels: points far outside the view are pulled in so the SVG stays small and valid


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _limits(limits: Sequence[float], name: str) -> tuple[float, float]:
    low, high = map(float, limits)
    if not (math.isfinite(low) and math.isfinite(high)) or low == high:
        raise ValueError(f"{name} must be two different finite numbers, got {tuple(limits)}.")
    return low, high


class Canvas:
    """Maps data coordinates ``(x, y)`` into a ``width`` × ``height`` pixel box.

    ``box`` is the plotting area ``(left, top, right, bottom)`` in pixels; drawing is clipped to it.
    """

    def __init__(self, width: float, height: float, xlim: Sequence[float], ylim: Sequence[float],
                 box: Sequence[float] | None = None, background: str | None = "white"):
        self.width, self.height = width, height
        self.xlim, self.ylim = _limits(xlim, "xlim"), _limits(ylim, "ylim")
        self.box = tuple(box) if box is not None else (48, 12, width - 12, height - 36)
        self.background = background
        self._clip = f"mlbook-clip-{next(_ids)}"
        self._items: list[str] = []

    @classmethod
    def over_axes(cls, fig, ax) -> Canvas:
        """A transparent canvas whose pixels coincide with a matplotlib figure saved at its dpi."""
        fig.canvas.draw()
        width, height = fig.get_size_inches() * fig.dpi
        x0, y0, x1, y1 = ax.get_window_extent().extents
        # matplotlib measures y upwards from the bottom; SVG downwards from the top.
        return cls(width, height, ax.get_xlim(), ax.get_ylim(),
                   box=(x0, height - y1, x1, height - y0), background=None)

    def px(self, x: float, y: float) -> tuple[float, float]:
        left, top, right, bottom = self.box
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        u = left + (x - x0) / (x1 - x0) * (right - left)
        v = bottom - (y - y0) / (y1 - y0) * (bottom - top)
        clamp = lambda t: min(max(t, -_FAR), _FAR) if math.isfinite(t) else _FAR  # noqa: E731
        return clamp(u), clamp(v)

    def polyline(self, xs, ys, color: str, width: float = 2, dash: str | None = None,
                 opacity: float = 1.0) -> Canvas:
        if len(xs) != len(ys):
            raise ValueError(f"polyline needs xs and ys of the same length, got {len(xs)} and "
                             f"{len(ys)}.")
        pixels = (self.px(x, y) for x, y in zip(xs, ys))
        points = " ".join(f"{_fmt(u)},{_fmt(v)}" for u, v in pixels)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self._items.append(
            f'<polyline clip-path="url(#{self._clip})" points="{points}" fill="none" '
            f'stroke="{color}" stroke-width="{width}" stroke-opacity="{opacity}"{extra}/>'
        )
        return self

    def circle(self, x: float, y: float, radius: float, color: str,
               edge: str = "white") -> Canvas:
        u, v = self.px(x, y)
        self._items.append(
            f'<circle clip-path="url(#{self._clip})" cx="{_fmt(u)}" cy="{_fmt(v)}" '
            f'r="{radius}" fill="{color}" stroke="{edge}" stroke-width="1.5"/>'
        )
        return self

    def arrow(self, x0: float, y0: float, x1: float, y1: float, color: str,
              width: float = 2) -> Canvas:
        (u0, v0), (u1, v1) = self.px(x0, y0), self.px(x1, y1)
        angle = math.atan2(v1 - v0, u1 - u0)
        head = [(u1 - 9 * math.cos(angle + s * 0.45), v1 - 9 * math.sin(angle + s * 0.45))
                for s in (-1, 1)]
        self._items.append(
            f'<line x1="{_fmt(u0)}" y1="{_fmt(v0)}" x2="{_fmt(u1)}" y2="{_fmt(v1)}" '
            f'stroke="{color}" stroke-width="{width}"/>'
            f'<polygon points="{_fmt(u1)},{_fmt(v1)} '
            + " ".join(f"{_fmt(a)},{_fmt(b)}" for a, b in head)
            + f'" fill="{color}"/>'
        )
        return self

    def text(self, u: float, v: float, content: str, size: float = 12, anchor: str = "start",
             color: str = "#222", weight: str = "normal") -> Canvas:
        """Text at pixel position ``(u, v)``."""
        self._items.append(
            f'<text x="{_fmt(u)}" y="{_fmt(v)}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{color}" font-weight="{weight}" font-family="sans-serif">'
            f"{html.escape(content)}</text>"
        )
        return self

    def axes(self, xlabel: str = "", ylabel: str = "", xticks: Sequence[float] = (),
             yticks: Sequence[float] = (), tick_format: str = "{:g}") -> Canvas:
        """A frame around the plotting area, with tick labels and axis labels."""
        left, top, right, bottom = self.box
        self._items.append(
            f'<rect x="{_fmt(left)}" y="{_fmt(top)}" width="{_fmt(right - left)}" '
            f'height="{_fmt(bottom - top)}" fill="none" stroke="#888"/>'
        )
        for x in xticks:
            u, _ = self.px(x, self.ylim[0])
            self.text(u, bottom + 14, tick_format.format(x), size=10, anchor="middle")
        for y in yticks:
            _, v = self.px(self.xlim[0], y)
            self.text(left - 4, v + 4, tick_format.format(y), size=10, anchor="end")
        if xlabel:
            self.text((left + right) / 2, self.height - 4, xlabel, anchor="middle")
        if ylabel:
            self._items.append(
                f'<text transform="translate(12,{_fmt((top + bottom) / 2)}) rotate(-90)" '
                f'font-size="12" text-anchor="middle" fill="#222" font-family="sans-serif">'
                f"{html.escape(ylabel)}</text>"
            )
        return self

    def to_svg(self, label: str) -> str:
        """The SVG element; ``label`` is its accessible description (alt text)."""
        if not label.strip():
            raise ValueError("to_svg needs a label: the text a screen reader says for the figure.")
        left, top, right, bottom = self.box
        background = (f'<rect width="100%" height="100%" fill="{self.background}"/>'
                      if self.background else "")
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_fmt(self.width)} '
            f'{_fmt(self.height)}" role="img" aria-label="{html.escape(label)}" '
            f'style="width:100%;max-width:{_fmt(self.width)}px;height:auto;display:block">'
            f'<clipPath id="{self._clip}"><rect x="{_fmt(left)}" y="{_fmt(top)}" '
            f'width="{_fmt(right - left)}" height="{_fmt(bottom - top)}"/></clipPath>'
            f"{background}{''.join(self._items)}</svg>"
        )
