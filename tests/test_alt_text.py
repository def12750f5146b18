"""Every figure a notebook shows carries alt text, through one helper: utils.viz.figure.show.

(a) Every image output of solutions/*.ipynb, those kept in a saved widget's state included,
    has an ``alt`` in its output metadata: not empty, not matplotlib's "<Figure size ...>"
    text, and different from the alt of every other image of the same notebook. This reads the
    stored outputs, so it judges the notebooks as last executed (a figure left open at the end
    of a cell, or returned as its value, shows up here as an image without alt).
(b) Nothing bypasses the helper: no ``plt.show()`` call in utils/viz (figure.show itself
    aside) nor in a code cell of solutions/.
Nothing is executed: both parts read files.
"""
import ast
import re

import IPython.display
import matplotlib.pyplot as plt
import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from utils.tools.notebooks import REPO_ROOT
from utils.viz import figure

NOTEBOOKS = sorted((REPO_ROOT / "solutions").glob("*.ipynb"))
VIZ_MODULES = sorted(p for p in (REPO_ROOT / "utils" / "viz").glob("*.py") if p.name != "figure.py")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SHOW_CALLS = {"plt.show", "pyplot.show", "matplotlib.pyplot.show"}


def _images(where, output):
    data, metadata = output.get("data", {}), output.get("metadata", {})
    for mime in IMAGE_TYPES:
        if mime in data:
            yield f"{where}, {mime}", (metadata.get(mime) or {}).get("alt")


def image_outputs(nb):
    """(where, alt or None) of every image output of a notebook: the cells' outputs, then the
    outputs that saved widget state keeps (an ipywidgets Output's figure)."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            yield from _images(f"cell {index} (id {cell.get('id')})", output)
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for model_id, model in state.items():
        for output in model.get("state", {}).get("outputs", None) or []:
            yield from _images(f"saved widget {model_id}", output)


def alt_text_problems(nb):
    """One line per image without proper alt text; empty when every image has its own."""
    problems, seen = [], {}
    for where, alt in image_outputs(nb):
        if not isinstance(alt, str) or not alt.strip():
            problems.append(f"{where}: no alt text; show the figure with utils.viz.figure.show(fig, alt)")
        elif alt.lstrip().startswith(("<Figure", "Figure")):
            problems.append(f"{where}: the alt text {alt[:60]!r} does not say what the figure shows")
        elif alt in seen:
            problems.append(f"{where}: the same alt text as {seen[alt]}: {alt[:80]!r}")
        else:
            seen[alt] = where
    return problems


def show_calls(source):
    """Line numbers of ``plt.show(...)`` calls in Python source (comments and strings ignored)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # not Python: fall back to the lines, comments cut off
        return [n for n, line in enumerate(source.splitlines(), 1)
                if re.search(r"\b(plt|pyplot)\.show\s*\(", line.split("#", 1)[0])]
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and ast.unparse(node.func) in SHOW_CALLS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_image_has_its_own_alt_text(path):
    problems = alt_text_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_cell_calls_plt_show(path):
    nb = nbformat.read(path, as_version=4)
    transform = TransformerManager().transform_cell  # %magics and !commands into Python
    found = [f"cell {index} (id {cell.get('id')}), line {line}"
             for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for line in show_calls(transform(cell.source))]
    assert not found, f"{path.name}: plt.show() shows a figure without alt text; use " \
                      f"utils.viz.figure.show(fig, alt): " + "; ".join(found)


@pytest.mark.parametrize("path", VIZ_MODULES, ids=lambda p: p.stem)
def test_no_viz_module_calls_plt_show(path):
    lines = show_calls(path.read_text())
    assert not lines, f"utils/viz/{path.name}: plt.show() at line(s) {lines}; use show(fig, alt) from utils.viz.figure"


def _notebook(cell_outputs, widget_outputs=()):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("fig", outputs=cell_outputs)]
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {"abc": {"model_name": "OutputModel",
                                                               "state": {"outputs": list(widget_outputs)}}}}}
    return nb


def _image(alt=None, mime="image/png"):
    return {"output_type": "display_data", "data": {mime: "iVBOR", "text/plain": alt or "<Figure size 10x10>"},
            "metadata": {mime: {"alt": alt}} if alt is not None else {}}


def test_the_check_finds_every_kind_of_missing_alt_text():
    assert alt_text_problems(_notebook([_image("a red circle"), _image("a blue square", "image/svg+xml")],
                                       [_image("the widget's red circle")])) == []
    assert "no alt text" in alt_text_problems(_notebook([_image()]))[0]
    assert "no alt text" in alt_text_problems(_notebook([_image("")]))[0]
    assert "no alt text" in alt_text_problems(_notebook([_image("x")], [_image(mime="image/jpeg")]))[0]
    assert "does not say" in alt_text_problems(_notebook([_image("<Figure size 630x306 with 1 Axes>")]))[0]
    assert "does not say" in alt_text_problems(_notebook([_image("Figure 1")]))[0]
    assert "the same alt text as cell 0" in alt_text_problems(_notebook([_image("a"), _image("a")]))[0]
    assert "saved widget abc" in alt_text_problems(_notebook([_image("a")], [_image("a")]))[0]


def test_the_scan_finds_plt_show_but_not_in_comments_or_text():
    assert show_calls("import matplotlib.pyplot as plt\nplt.show()\n") == [2]
    assert show_calls("from matplotlib import pyplot\nif True:\n    pyplot.show(block=False)\n") == [3]
    assert show_calls("# plt.show()\nprint('plt.show()')\nshow(fig, 'a plot')\n") == []
    assert show_calls("%matplotlib inline\nplt.show()  # not Python above\n") == [2]


def test_show_sends_alt_text_and_a_widget_says_it_is_live(monkeypatch):
    sent = []
    monkeypatch.setattr(figure, "_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw, metadata: sent.append((obj, metadata)))
    fig = plt.figure()
    assert figure.show(fig, "  a line\n rising ") is None     # None: a cell's last line shows nothing more
    (data, metadata), = sent
    assert data["text/plain"] == metadata["image/png"]["alt"] == "a line rising"
    assert data["image/png"] and not plt.fignum_exists(fig.number)
    figure.live(lambda **values: figure.show(plt.figure(), f"w = {values['w']}"))(w=2)
    assert sent[-1][1]["image/png"]["alt"] == figure.LIVE + "w = 2"
    with pytest.raises(ValueError, match="show: alt"):
        figure.show(plt.figure(), "")


def test_the_site_puts_each_alt_text_on_its_image():
    """nbsphinx writes the file's path as the alt, with or without a class in between: both are replaced."""
    from utils.tools.site import _with_alt_texts
    page = ('<img alt="_images/n_3_0.png" class="no-scaled-link" src="_images/n_3_0.png" />'
            '<img alt="_images/n_5_1.png" src="_images/n_5_1.png" /><img alt="_images/n_9_0.png" src="_images/n_9_0.png" />')
    out = _with_alt_texts(page, {"n_3_0.png": 'loss <falls> & "levels"', "n_5_1.png": "two curves"})
    assert '<img alt="loss &lt;falls&gt; &amp; &quot;levels&quot;" class="no-scaled-link" src="_images/n_3_0.png" />' in out
    assert '<img alt="two curves" src="_images/n_5_1.png" />' in out
    assert '<img alt="_images/n_9_0.png" src="_images/n_9_0.png" />' in out   # no alt known: left as it was


def test_the_site_numbers_images_as_nbsphinx_does():
    """Two stdout streams in a row are one output for nbsphinx: the figure after them is output 1."""
    import nbformat
    from utils.tools.site import image_alt_texts
    image = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "bars"},
                                   metadata={"image/png": {"alt": "bars of three counts"}})
    cell = nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", name="stdout", text="a\n"),
                                              nbformat.v4.new_output("stream", name="stdout", text="b\n"),
                                              nbformat.v4.new_output("stream", name="stderr", text="c\n"), image])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x"), cell])
    assert image_alt_texts(nb, "n") == {"n_1_2.png": "bars of three counts"}
