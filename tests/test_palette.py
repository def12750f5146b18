"""One palette for every figure: utils/viz writes no colour of its own, only names from
utils.palette (Okabe-Ito), and no two cells of notebooks 04/05 are told apart by red against green."""
import ast

import matplotlib.colors as mcolors
import pytest

from utils import palette
from utils.tools.notebooks import REPO_ROOT

NOT_COLOURS = {"none", "auto", "center", "left", "right", "top", "bottom"}


def colour_literals(source):
    """(line, text) of every string constant that matplotlib reads as a colour."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lower() not in NOT_COLOURS
                and len(node.value) > 1 and mcolors.is_color_like(node.value)):
            found.append((node.lineno, node.value))
    return found


@pytest.mark.parametrize("literal", ['"tab:red"', '"#1f77b4"', '"crimson"', '"C3"', '"0.5"'])
def test_a_planted_colour_is_found(literal):
    assert colour_literals(f"ax.plot(x, color={literal})\n") == [(1, literal.strip('"'))]


def test_viz_takes_every_colour_from_the_palette():
    offenders = [f"{path.relative_to(REPO_ROOT)}:{line} {text!r}"
                 for path in sorted((REPO_ROOT / "utils" / "viz").rglob("*.py"))
                 for line, text in colour_literals(path.read_text(encoding="utf-8"))]
    assert not offenders, "colours outside utils/palette.py: " + ", ".join(offenders)


def _hue(hex_colour):
    return mcolors.rgb_to_hsv(mcolors.to_rgb(hex_colour))[0] * 360


def test_no_cell_pair_is_red_against_green():
    reds = [c for c, v in palette.CELL_COLORS.items() if _hue(v) < 30 or _hue(v) > 330]
    greens = [c for c, v in palette.CELL_COLORS.items() if 80 < _hue(v) < 170]
    assert not (reds and greens), (reds, greens)
    assert len(set(palette.CELL_COLORS.values())) == len(palette.CELL_COLORS)
    assert len(set(palette.CELL_MARKERS.values())) == len(palette.CELL_MARKERS)
