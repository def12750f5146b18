"""The course palette: the eight colours of Okabe and Ito ("Color Universal Design", 2008), which
readers with any common colour-vision deficiency can tell apart, and the greys of the diagrams.

Every figure and widget of utils/viz takes its colours from here (tests/test_palette.py fails on a
colour written anywhere else in utils/viz), and setup_notebook makes SERIES matplotlib's default
colour cycle, so a plain ``ax.plot`` in a notebook uses it too. No two series are told apart by red
against green alone: the cells of notebooks 04 and 05 are vermillion (vanilla), blue (LSTM),
reddish purple (GRU) and orange (residual), and line styles or markers add a second cue where
series overlap. It sits at the bottom of utils (beside validate) so that course.py may read it.
"""
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"
WHITE = "#FFFFFF"
GREY = "#666666"          # secondary text and reference lines
MID_GREY = "#BBBBBB"      # boxes in diagrams
LIGHT_GREY = "#DDDDDD"

# the default order of series: blue and orange first, the pair every reader separates best
SERIES = (BLUE, ORANGE, BLUISH_GREEN, VERMILLION, REDDISH_PURPLE, SKY_BLUE, YELLOW, BLACK)

CELL_COLORS = {"vanilla": VERMILLION, "lstm": BLUE, "gru": REDDISH_PURPLE, "residual": ORANGE}
CELL_MARKERS = {"vanilla": "s", "lstm": "o", "gru": "^", "residual": "D"}   # the second cue

# pale fills for the boxes of the architecture diagrams (inputs, hidden states, decoders, outputs)
DIAGRAM_FILLS = {"input": "#F5C9A8", "hidden": "#A6D8C8", "decoder": "#A9CCE6", "output": "#F7E79E"}

# matplotlib colour maps (perceptually uniform, readable without colour vision): sequential,
# diverging (signed values such as cell states), and one-hue counts (confusion tables)
SEQUENTIAL_MAP, DIVERGING_MAP, COUNTS_MAP = "viridis", "PuOr_r", "Blues"

PALETTE = {name: value for name, value in globals().items() if isinstance(value, str)
           and value.startswith("#")}
