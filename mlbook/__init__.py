"""Plumbing for *The Tensor Collective — Machine Learning from First Principles*.

Chapters teach; this package holds what a reader need not read: data loading, the book's plot
style, and the interactive widgets (:mod:`mlbook.widgets`) with each chapter's helpers.
"""

from mlbook.data import DATA_ENV, MNISTUnavailableError, data_root, load_mnist
from mlbook.glue import glue
from mlbook.plotting import PALETTE, use_book_style

__all__ = [
    "DATA_ENV",
    "MNISTUnavailableError",
    "PALETTE",
    "data_root",
    "glue",
    "load_mnist",
    "use_book_style",
]
__version__ = "0.1.0"
