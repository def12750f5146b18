"""How long the attention widget of notebook 07 takes to answer a slider move, kernel side.

    .venv/bin/python benchmarks/attention_widget_speed.py
    .venv/bin/python benchmarks/attention_widget_speed.py --scenes 50 --moves 10

Builds ``utils.viz.attention.attention_widget`` on the shipped soft-attention captioner and
test scenes, then sets the word slider and the scene slider the way a student's drag does and
times each change until its figure is rendered to PNG (what the inline backend sends to the
browser). One torch thread, matplotlib's Agg backend. The browser's own drawing time is not
included: it adds the time to show one image.

Prints the build time and the median and maximum time of a word move and of a scene move (a
scene is decoded the first time it is chosen, which the scene move includes).
"""
import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.data import shapes  # noqa: E402
from utils.models.attention_checkpoints import load_attention_captioner  # noqa: E402
from utils.models.encoder import cached_features  # noqa: E402
from utils.viz.attention import attention_widget  # noqa: E402


def render_and_close(*args, **kwargs):
    """Stand-in for plt.show(): render every open figure to PNG like the inline backend."""
    for number in plt.get_fignums():
        plt.figure(number).savefig(io.BytesIO(), format="png")
    plt.close("all")


def timed(change):
    start = time.perf_counter()
    change()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--moves", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    plt.show = render_and_close
    model = load_attention_captioner()
    scenes = shapes.make_scenes("test", args.scenes)
    grid = cached_features("test", args.scenes)[1]
    start = time.perf_counter()
    box = attention_widget(model, scenes, grid=grid, strip=False)
    print(f"build: {time.perf_counter() - start:.3f} s")
    scene_slider, word_slider = box.children[0].children
    word_times = [timed(lambda k=k: setattr(word_slider, "value", k % (word_slider.max + 1)))
                  for k in range(1, args.moves + 1)]
    scene_times = [timed(lambda k=k: setattr(scene_slider, "value", k % args.scenes))
                   for k in range(1, args.moves + 1)]
    for name, values in (("word move", word_times), ("scene move", scene_times)):
        print(f"{name}: median {statistics.median(values):.3f} s, max {max(values):.3f} s "
              f"over {len(values)} moves")


if __name__ == "__main__":
    main()
