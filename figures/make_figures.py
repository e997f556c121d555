#!/usr/bin/env python3
"""Draw the book's static diagrams (figures no notebook produces) into figures/.

Usage: python figures/make_figures.py   (the SVGs are committed; re-run after editing this file)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from mlbook.plotting import PALETTE, use_book_style  # noqa: E402

HERE = Path(__file__).resolve().parent


def learning_loop() -> None:
    """The loop every chapter elaborates: parameters, loss, gradient, step."""
    use_book_style()
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    ax.set(xlim=(0, 10), ylim=(0, 4.6), aspect="equal")
    ax.axis("off")
    boxes = [
        ((0.2, 2.7), "1. Take a matrix", "parameters θ", PALETTE["blue"]),
        ((5.3, 2.7), "2. Measure how wrong", "loss L(θ)", PALETTE["orange"]),
        ((5.3, 0.2), "3. Ask calculus", "gradient ∇L(θ)", PALETTE["green"]),
        ((0.2, 0.2), "4. Step and repeat", "θ ← θ − η ∇L(θ)", PALETTE["vermillion"]),
    ]
    centres = []
    for (x, y), title, formula, colour in boxes:
        ax.add_patch(FancyBboxPatch((x, y), 4.4, 1.6, boxstyle="round,pad=0.08",
                                    facecolor="white", edgecolor=colour, linewidth=2.5))
        ax.text(x + 2.2, y + 1.08, title, ha="center", va="center", fontsize=12,
                fontweight="bold", color="#222")
        ax.text(x + 2.2, y + 0.48, formula, ha="center", va="center", fontsize=12, color="#222")
        centres.append((x + 2.2, y + 0.8))
    ends = [((4.7, 3.5), (5.2, 3.5)), ((7.5, 2.6), (7.5, 1.9)),
            ((5.2, 1.0), (4.7, 1.0)), ((2.4, 1.9), (2.4, 2.6))]
    for start, end in ends:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=18,
                                     color="#555", linewidth=2))
    fig.savefig(HERE / "learning-loop.svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


if __name__ == "__main__":
    learning_loop()
    print(f"wrote {HERE / 'learning-loop.svg'}")
