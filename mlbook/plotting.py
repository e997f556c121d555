"""The book's one plot style: the Okabe-Ito colour-blind-safe palette on a white card.

Figures keep a white background so they read the same in the site's light and dark modes. They
are stored as palette PNGs (:func:`compact_png`): the same picture at about half the bytes of a
full-colour PNG, which keeps every page of the book under 1 MB.
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


def use_book_style(colors: int = 256) -> None:
    """Apply the book's matplotlib style (call once at the top of a chapter); in a notebook, also
    show every figure as a compact PNG of ``colors`` colours (fewer: a lighter page)."""
    _check_colors(colors)
    mpl.rcParams.update(_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        import matplotlib.pyplot as plt
        from matplotlib.figure import Figure

        # The inline backend registers its own PNG formatter when pyplot makes its first figure;
        # make one now, so that ours, registered after it, is the one used.
        plt.close(plt.figure())

        formatter = shell.display_formatter.formatters["image/png"]
        formatter.for_type(Figure, lambda fig: compact_png(fig, colors=colors,
                                                           bbox_inches="tight"))


def _check_colors(colors) -> None:
    if isinstance(colors, bool) or not isinstance(colors, int) or not 2 <= colors <= 256:
        raise ValueError(f"colors must be a whole number from 2 to 256, got {colors!r}.")


def compact_png(fig, dpi: float | None = None, colors: int = 256, **savefig) -> bytes:
    """``fig`` as a PNG with an adaptive palette of ``colors`` colours and no dithering: for the
    book's line art, heat maps and digits it looks the same as matplotlib's full-colour PNG at
    about half the bytes (or less, with fewer colours)."""
    if not hasattr(fig, "savefig"):
        raise TypeError(f"compact_png needs a matplotlib figure, got {type(fig).__name__}.")
    _check_colors(colors)
    if dpi is not None and not (isinstance(dpi, (int, float)) and 0 < dpi < float("inf")):
        raise ValueError(f"dpi must be positive and finite (e.g. 100), got {dpi!r}.")
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi if dpi is None else dpi, **savefig)
    image = Image.open(buffer).convert("RGBA")
    # Transparent parts show the white paper the book's figures are drawn on.
    paper = Image.new("RGBA", image.size, "white")
    image = Image.alpha_composite(paper, image).convert("RGB").quantize(
        colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def png_data_uri(fig, dpi: int = 100, colors: int = 256) -> str:
    """A figure as a ``data:image/png;base64,...`` URI (a compact PNG), for widget HTML."""
    if not hasattr(fig, "savefig"):
        raise TypeError(f"png_data_uri needs a matplotlib figure, got {type(fig).__name__}.")
    png = compact_png(fig, dpi=dpi, colors=colors)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
