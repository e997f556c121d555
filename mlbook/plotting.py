"""The book's one plot style: the Okabe-Ito colour-blind-safe palette on a white card.

Figures keep a white background so they read the same in the site's light and dark modes.
"""

from __future__ import annotations

import base64
import io

import matplotlib as mpl

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies. Order: the book's first colour is blue.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
CYCLE = [PALETTE[k] for k in ("blue", "orange", "green", "vermillion", "sky", "purple", "black")]
# Sequential and diverging colour maps that are perceptually uniform and colour-blind safe.
SEQUENTIAL_CMAP = "cividis"
DIVERGING_CMAP = "PuOr"

_STYLE = {
    "axes.prop_cycle": mpl.cycler(color=CYCLE),
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": 100,
    "figure.figsize": (6.4, 4.0),
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "image.cmap": SEQUENTIAL_CMAP,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a chapter)."""
    mpl.rcParams.update(_STYLE)


def png_data_uri(fig, dpi: int = 100) -> str:
    """A figure as a ``data:image/png;base64,...`` URI, for embedding in widget HTML."""
    if not hasattr(fig, "savefig"):
        raise TypeError(f"png_data_uri needs a matplotlib figure, got {type(fig).__name__}.")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
