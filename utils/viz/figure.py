"""Showing a figure with alt text: the one way the course puts a matplotlib figure on screen.

A figure shown by ``plt.show()`` reaches a notebook as a PNG whose only text is
"<Figure size 630x306 with 1 Axes>": a screen reader, the course website and a reader whose
images do not load get nothing from it. ``show(fig, alt)`` sends the same PNG with a sentence
that says what the figure shows, as the output's text and as its image metadata (the website
uses it as the image's alt attribute). A widget's redraw function goes through ``live``, so
its picture's alt text says it is the widget's current view and differs from the alt text of
the same picture drawn statically above the widget.
"""
import base64
import io

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from utils import validate
from utils.course import _ipython

LIVE = "Widget view, redrawn when the controls above change: "
_live = []  # non-empty while a widget redraws: show() starts its alt text with LIVE


def show(fig, alt):
    """Display ``fig`` with the alt text ``alt`` and close it; outside IPython, ``plt.show()``.

    fig: a matplotlib Figure; alt: one sentence saying what this figure shows (its content,
    not the word "figure"). Returns: None, so that ``show(fig, alt)`` as the last line of a cell
    does not hand the Figure to IPython, which would draw it a second time without alt text.
    """
    if not isinstance(fig, Figure):
        raise validate.WrongType(f"show: fig must be a matplotlib Figure, got {type(fig).__name__}")
    alt = " ".join(alt.split()) if isinstance(alt, str) else alt  # one line, so "  " is empty
    alt = validate.non_empty_str("show", "alt (what the figure shows)", alt)
    alt = LIVE + alt if _live else alt
    if _ipython() is None:
        plt.show()
        return None
    from IPython.display import display  # here: IPython is optional for scripts and tests
    png = io.BytesIO()
    fig.savefig(png, format="png", bbox_inches="tight")  # what the inline backend draws
    display({"image/png": base64.b64encode(png.getvalue()).decode("ascii"), "text/plain": alt},
            raw=True, metadata={"image/png": {"alt": alt}})
    plt.close(fig)
    return None


def live(draw):
    """``draw`` for a widget: the figures it shows get alt text starting with ``LIVE``.

    draw: function of the controls' values (keyword arguments) that shows a figure.
    Returns: a function of the same keyword arguments.
    """
    def redraw(**values):
        _live.append(True)
        try:
            return draw(**values)
        finally:
            _live.pop()
    return redraw
