"""Interactive widgets of the course, built on ipywidgets.

Each widget recomputes its figure live from the controls. Its drawing function is also a
plain function, so a notebook draws the default state as a static figure first: exported
notebooks, nbval runs and readers without a live kernel still see the picture.
"""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from utils import validate
from utils.viz.figure import live, show


def interactive_figure(draw, **controls):
    """Controls that redraw ``draw(**values)`` whenever one of them changes.

    draw: function taking the controls' values as keyword arguments that shows its figure
        with ``utils.viz.figure.show(fig, alt)``, the alt text computed from the values; while
        it redraws, show() starts that text with ``figure.LIVE`` (the widget's view).
    controls: name -> ipywidgets control, e.g. ``w=widgets.FloatSlider(...)``.
    Returns: the widget box (controls above, in rows of at most three; figure below); it is
    also displayed.
    """
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise validate.WrongType(f"interactive_figure: control {name!r} must be an ipywidgets "
                            f"control with a value, got {type(control).__name__}")
    output = widgets.interactive_output(live(draw), controls)
    items = list(controls.values())
    per_row = 3 if len(items) > 3 else len(items)  # more than three: rows of three, never one squeezed row
    rows = [widgets.HBox(items[k:k + per_row]) for k in range(0, len(items), per_row)]
    box = widgets.VBox(rows + [output])
    display(box)
    return box


def draw_tanh_unit(w=1.0, b=0.0):
    """tanh(w a + b) and its slope over a in [-4, 4]: a one-unit picture of saturation.

    w: weight (finite number), b: bias (finite number). Returns the Figure.
    """
    w = validate.finite_number("draw_tanh_unit", "w", w)
    b = validate.finite_number("draw_tanh_unit", "b", b)
    a = np.linspace(-4, 4, 400)
    y = np.tanh(w * a + b)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(a, y, label="tanh(w·a + b)")
    ax.plot(a, w * (1 - y ** 2), label="slope w·(1 - tanh²)")
    top = max(1.2, 1.1 * abs(w))  # the slope is negative for w < 0: keep both signs in view
    ax.set_ylim(-top, top)
    ax.set_xlabel("input a")
    ax.legend(loc="upper left")
    ax.set_title(f"w = {w:.1f}, b = {b:.1f}: flat regions pass almost no gradient")
    slope = np.abs(w * (1 - y ** 2))
    steep = int(np.argmax(slope))
    flat = np.mean(slope < 0.1)  # share of the axis where the unit passes less than a tenth
    slope_text = ("is 0 everywhere: with w = 0 no gradient reaches a" if w == 0 else
                  f"is largest in size, {w * (1 - y[steep] ** 2):.2f}, at a = {round(a[steep], 1) + 0.0:.1f} and below "
                  f"0.1 in size on {flat:.0%} of the axis, where the unit is saturated")
    show(fig, f"Two curves over the input a from -4 to 4 for one tanh unit with w = {w:.1f} and "
              f"b = {b:.1f}: tanh(w·a + b) goes from {y[0]:.2f} to {y[-1]:.2f}, and its slope "
              f"w·(1 - tanh²) {slope_text}.")
    return fig


def tanh_unit_widget():
    """Sliders for w and b of ``draw_tanh_unit``: the widget smoke test of notebook 00."""
    return interactive_figure(
        draw_tanh_unit,
        w=widgets.FloatSlider(value=1.0, min=-5.0, max=5.0, step=0.1, description="w"),
        b=widgets.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.1, description="b"))
